package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/api/client"
	"github.com/hiveorch/hive/core/types"
)

// waitOptions say how waitConverged reports.
type waitOptions struct {
	// verb is what the command did, for the failure message ("created",
	// "scaled to 5").
	verb  string
	quiet bool
	out   io.Writer
}

// endedTasks returns the IDs of the service's tasks that have already
// ended or been told to stop, so that a wait started after them does not
// blame their failures on the change it waits for.
func endedTasks(ctx context.Context, cl *client.Client, serviceID string) (map[string]bool, error) {
	tasks, err := cl.ListTasks(ctx, api.TaskFilter{Service: serviceID})
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, t := range tasks {
		if t.Status.State.Terminal() || !desiredRunning(t) {
			out[t.ID] = true
		}
	}
	return out, nil
}

// waitConverged polls the service's tasks and shows their progress until
// the service converges, the tracker gives up, or ctx is done. ignore
// holds tasks that had ended before the change being waited for.
func (c *cli) waitConverged(ctx context.Context, cl *client.Client, svc *types.Service, ignore map[string]bool, o waitOptions) error {
	out := o.out
	if o.quiet {
		out = io.Discard
	}
	r := newProgressRenderer(out, !o.quiet && c.isTerminal(o.out))
	tr := newTracker(svc, ignore, c.progress)
	ticker := time.NewTicker(c.progress.interval)
	defer ticker.Stop()
	global := svc.Spec.Mode == types.ModeGlobal
	for {
		tasks, err := cl.ListTasks(ctx, api.TaskFilter{Service: svc.ID})
		var nodes []*types.Node
		if err == nil && global {
			nodes, err = cl.ListNodes(ctx)
		}
		if err != nil {
			if ctx.Err() != nil {
				return c.interrupted(svc)
			}
			return fmt.Errorf("service %s was %s, but following its progress failed: %w", svc.Spec.Name, o.verb, err)
		}
		view, done, err := tr.observe(tasks, nodes, c.now())
		if err != nil {
			r.finish(view)
			return fmt.Errorf("service %s was %s but did not converge: %w\nSee what happened with 'hive service ps %s'", svc.Spec.Name, o.verb, err, svc.Spec.Name)
		}
		if done {
			r.finish(view)
			return nil
		}
		r.draw(view)
		select {
		case <-ctx.Done():
			return c.interrupted(svc)
		case <-ticker.C:
		}
	}
}

// interrupted is the error of a wait cut short by the user.
func (c *cli) interrupted(svc *types.Service) error {
	return errors.New("stopped waiting; the service keeps converging in the background: follow it with 'hive service ps " + svc.Spec.Name + "'")
}
