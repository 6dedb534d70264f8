package containerd

import (
	"context"
	"errors"
	"fmt"
	"time"

	eventtypes "github.com/containerd/containerd/api/events"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/typeurl/v2"

	"github.com/hiveorch/hive/plugins/sdk"
)

// reconcileInterval is how often the monitor adopts and finalizes
// everything again, in case it missed an event.
const reconcileInterval = time.Minute

// monitor finalizes each container whose task exits (so that its host
// ports and address are released at once and its shim ends), from
// containerd's task exit events, and reconciles the whole namespace when
// it (re)subscribes and every reconcileInterval. It returns when ctx
// ends.
func (r *Runtime) monitor(ctx context.Context, eng *engine) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		subCtx, cancel := context.WithCancel(ctx)
		events, errs := eng.client.Subscribe(eng.ctx(subCtx),
			fmt.Sprintf(`topic=="/tasks/exit",namespace==%q`, eng.Namespace))
		if err := r.reconcile(ctx, eng); err == nil {
			backoff = 100 * time.Millisecond
		}
		tick := time.NewTicker(reconcileInterval)
	events:
		for {
			select {
			case <-ctx.Done():
				break events
			case <-tick.C:
				if err := r.reconcile(ctx, eng); err != nil {
					r.logger.Debug("reconcile containers", "error", err)
				}
			case env := <-events:
				if env == nil || env.Event == nil {
					continue
				}
				v, err := typeurl.UnmarshalAny(env.Event)
				if err != nil {
					continue
				}
				if e, ok := v.(*eventtypes.TaskExit); ok && e.ID == e.ContainerID {
					go r.finalizeSoon(eng, e.ContainerID)
				}
			case err := <-errs:
				if ctx.Err() == nil {
					r.logger.Debug("containerd event stream ended; subscribing again", "error", err)
				}
				break events
			}
		}
		tick.Stop()
		cancel()
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// reconcile adopts what runs in the namespace and finalizes what ended:
// a running container gets a log copier if its copier is gone and its
// health check resumes; a container whose task stopped, or vanished
// while it had a network, is finalized.
func (r *Runtime) reconcile(ctx context.Context, eng *engine) error {
	recs, err := eng.client.ContainerService().List(eng.ctx(ctx))
	if err != nil {
		return wrapErr(err, "list containers")
	}
	procs, err := eng.processes(ctx)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if rec.Labels[labelName] == "" {
			continue
		}
		p := procs[rec.ID]
		switch {
		case p != nil && (p.Status == tasktypes.Status_RUNNING || p.Status == tasktypes.Status_PAUSED):
			r.adopt(ctx, eng, rec.ID, p)
			if hc := decodeHealthcheck(rec.Labels[labelHealth]); hc != nil {
				r.health.start(eng, rec.ID, hc, false)
			}
		case p != nil && p.Status == tasktypes.Status_STOPPED,
			p == nil && (rec.Labels[labelNetNS] != "" || (rec.Labels[labelStartedAt] != "" && rec.Labels[labelFinishedAt] == "")):
			unlock := r.locks.lock(rec.ID)
			err := r.finalize(ctx, eng, rec.ID)
			unlock()
			if err != nil && !errors.Is(err, sdk.ErrNotFound) {
				r.logger.Warn("record the end of a container", "container_id", rec.ID, "error", err)
			}
		}
	}
	return nil
}

// adopt has the log copier copy a running container whose output nothing
// copies (the copier was killed, or crashed): the output the container
// wrote meanwhile waited in the pipes.
func (r *Runtime) adopt(ctx context.Context, eng *engine, id string, p *tasktypes.Process) {
	dir := eng.containerDir(id)
	if copierActive(dir) || p.Stdout == "" {
		return
	}
	unlock := r.locks.lock(id)
	defer unlock()
	if copierActive(dir) {
		return
	}
	if err := eng.copyRun(ctx, dir, p.Stdout, p.Stderr); err != nil {
		r.logger.Warn("restart the log copier of a running container", "container_id", id, "error", err)
		return
	}
	r.logger.Info("restarted the log copier of a running container", "container_id", id)
}
