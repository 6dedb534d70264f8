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

// updateTracker follows a rolling update or a rollback until every slot
// runs a task of the service's current spec and the update is done. Like
// tracker it is a pure state machine: feed it the service and its tasks
// with observe.
type updateTracker struct {
	settings progressSettings
	// since is the SpecVersion the command left the service at: a
	// rollback of a later version is the update failing.
	since uint64
	// rollback is set once a rollback was seen and announced.
	rollback     bool
	allDoneSince time.Time
	pendingSince map[string]time.Time
}

func newUpdateTracker(since uint64, settings progressSettings) *updateTracker {
	return &updateTracker{since: since, settings: settings, pendingSince: map[string]time.Time{}}
}

// errRolledBack is returned, wrapped, when the update rolled itself back.
var errRolledBack = errors.New("rolled back")

// observe takes a snapshot of the service, its tasks (and, for a global
// service, the nodes) at time now. It returns what to display, a line to
// print once (the rollback's reason) or "", whether the update is done,
// and an error when it paused.
func (u *updateTracker) observe(svc *types.Service, tasks []*types.Task, nodes []*types.Node, now time.Time) (view progressView, note string, done bool, err error) {
	st := svc.UpdateStatus
	if st.RollingBack() && !u.rollback {
		u.rollback = true
		note = "rollback: " + st.Message
	}
	if u.rollback {
		view.Prefix = "rolling back update: "
	}
	tr := newTracker(svc, nil, u.settings)
	slots := tr.slots(tasks, nodes)
	view.Total = len(slots)
	allDone := true
	for _, s := range slots {
		var cur *types.Task
		for _, t := range s.tasks {
			if desiredRunning(t) && t.Spec.Equal(svc.Spec.Task) {
				cur = t
				break
			}
		}
		if cur == nil {
			view.Slots = append(view.Slots, slotView{Label: s.label, Blank: true})
			allDone = false
			continue
		}
		sv := slotView{Label: s.label, State: cur.Status.State}
		if sv.State == types.TaskStatePreparing && cur.Status.Message != "preparing" {
			sv.Detail = cur.Status.Message
		}
		view.Slots = append(view.Slots, sv)
		if cur.DesiredState == types.TaskStateRunning && cur.Status.State == types.TaskStateRunning {
			view.Running++
		} else {
			allDone = false
		}
	}
	if st != nil && (st.State == types.UpdatePaused || st.State == types.UpdateRollbackPaused) {
		return view, note, false, errors.New(st.Message)
	}
	if err := u.checkPending(tasks, now); err != nil {
		return view, note, false, err
	}
	if !allDone {
		u.allDoneSince = time.Time{}
		return view, note, false, nil
	}
	if u.allDoneSince.IsZero() {
		u.allDoneSince = now
	}
	wait := u.settings.stable
	if st.Running() {
		wait = max(monitorOf(svc), wait)
	}
	left := wait - now.Sub(u.allDoneSince)
	if left <= 0 && !st.Running() {
		view.Verify = "Service converged"
		if u.rollback && st.SpecVersion > u.since {
			return view, note, true, fmt.Errorf("%w: %s", errRolledBack, st.Message)
		}
		return view, note, true, nil
	}
	secs := max(int((left+time.Second-1)/time.Second), 1)
	unit := "seconds"
	if secs == 1 {
		unit = "second"
	}
	view.Verify = fmt.Sprintf("Waiting %d %s to verify that tasks are stable...", secs, unit)
	return view, note, false, nil
}

// checkPending gives up on a task of the update that cannot be scheduled.
func (u *updateTracker) checkPending(tasks []*types.Task, now time.Time) error {
	for _, t := range tasks {
		if t.Status.State != types.TaskStatePending || t.Status.Err == "" || !desiredRunning(t) {
			delete(u.pendingSince, t.ID)
			continue
		}
		since, ok := u.pendingSince[t.ID]
		if !ok {
			u.pendingSince[t.ID] = now
			since = now
		}
		if now.Sub(since) >= u.settings.pendingGrace {
			return fmt.Errorf("%s cannot be scheduled: %s", t.Name(), t.Status.Err)
		}
	}
	return nil
}

// monitorOf is how long the update watches new tasks once they run.
func monitorOf(svc *types.Service) time.Duration {
	cfg := svc.Spec.Update
	if svc.UpdateStatus.RollingBack() {
		cfg = svc.Spec.Rollback
		if svc.PreviousSpec != nil && svc.PreviousSpec.Rollback != nil {
			cfg = svc.PreviousSpec.Rollback
		}
	}
	return cfg.MonitorPeriod()
}

// waitUpdated polls the service and its tasks and shows the progress of
// its update (or rollback) until it is done, it pauses, or ctx is done.
func (c *cli) waitUpdated(ctx context.Context, cl *client.Client, svc *types.Service, o waitOptions) error {
	out := o.out
	if o.quiet {
		out = io.Discard
	}
	r := newProgressRenderer(out, !o.quiet && c.isTerminal(o.out))
	ut := newUpdateTracker(svc.SpecVersion, c.progress)
	ticker := time.NewTicker(c.progress.interval)
	defer ticker.Stop()
	name := svc.Spec.Name
	for {
		cur, err := cl.GetService(ctx, svc.ID)
		var tasks []*types.Task
		if err == nil {
			tasks, err = cl.ListTasks(ctx, api.TaskFilter{Service: svc.ID})
		}
		var nodes []*types.Node
		if err == nil && cur.Spec.Mode == types.ModeGlobal {
			nodes, err = cl.ListNodes(ctx)
		}
		if err != nil {
			if ctx.Err() != nil {
				return c.interrupted(svc)
			}
			return fmt.Errorf("service %s was %s, but following its progress failed: %w", name, o.verb, err)
		}
		view, note, done, err := ut.observe(cur, tasks, nodes, c.now())
		if note != "" {
			if r.tty && r.drawn > 0 {
				r.draw(view)
				r.drawn = 0
			}
			fmt.Fprintln(out, note)
		}
		switch {
		case errors.Is(err, errRolledBack):
			r.finish(view)
			return fmt.Errorf("service %s was rolled back to its previous spec: %s\nSee what happened with 'hive service ps %s'", name, cur.UpdateStatus.Message, name)
		case err != nil && cur.UpdateStatus != nil && (cur.UpdateStatus.State == types.UpdatePaused || cur.UpdateStatus.State == types.UpdateRollbackPaused):
			r.finish(view)
			return fmt.Errorf("%w\nThe %s of service %s is paused. See what happened with 'hive service ps %s'; resume it with 'hive service update %s' (any change, or --force), or go back with 'hive service rollback %s'",
				err, pausedWhat(cur.UpdateStatus), name, name, name, name)
		case err != nil:
			r.finish(view)
			return fmt.Errorf("service %s was %s but did not converge: %w\nSee what happened with 'hive service ps %s'", name, o.verb, err, name)
		case done:
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

func pausedWhat(st *types.UpdateStatus) string {
	if st.State == types.UpdateRollbackPaused {
		return "rollback"
	}
	return "update"
}
