package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// runner drives one task through its life on this node: prepare (image,
// container), start, wait, shut down, remove. It is a small state machine
// over the task's desired state and the status it last reported; it knows
// the runtime only through the runtime.Runtime interface.
//
// One goroutine runs each runner. The agent sends it new versions of its
// task on updates and closes gone when the task leaves the node's
// assignment set (it was deleted), after which the runner removes the
// container and returns.
type runner struct {
	a       *Agent
	taskID  string
	updates chan *types.Task
	gone    chan struct{}
	goneMu  sync.Once

	// container is the task's container once known: adopted at start-up
	// or created by prepare.
	container *runtime.Container
	// status is the last status this runner reported (or, at start, the
	// stored one).
	status  types.TaskStatus
	backoff time.Duration
	// drained is set once the task, told to stop, has waited for the
	// routing mesh to drop it.
	drained bool
	// filesUp is set while the task's secrets and configs are mounted.
	filesUp bool
	// netUp is set once the running container is attached to the task's
	// networks (with its resolver and virtual IP rules).
	netUp bool
	// received is a version of the task a step took from updates while it
	// waited; run takes it before anything newer on updates. (Putting it
	// back on updates instead could overwrite a newer version the agent
	// sent meanwhile, and the runner would act on a stale task.)
	received *types.Task
}

type action int

const (
	next       action = iota // take the next step at once
	waitChange               // nothing to do until the task changes
	retry                    // try again after a backoff
)

func newRunner(a *Agent, t *types.Task, existing *runtime.Container) *runner {
	return &runner{
		a: a, taskID: t.ID, updates: make(chan *types.Task, 1), gone: make(chan struct{}),
		container: existing, status: t.Status, backoff: minBackoff,
	}
}

const (
	minBackoff = 200 * time.Millisecond
	maxBackoff = 10 * time.Second
)

// update hands the runner a newer version of its task.
func (r *runner) update(t *types.Task) {
	select {
	case <-r.updates:
	default:
	}
	r.updates <- t
}

// remove tells the runner its task is gone.
func (r *runner) remove() { r.goneMu.Do(func() { close(r.gone) }) }

func (r *runner) run(ctx context.Context, t *types.Task) {
	for {
		if r.received != nil {
			t, r.received = r.received, nil
		}
		select {
		case <-ctx.Done():
			return
		case <-r.gone:
			r.cleanup(ctx)
			r.releaseFiles()
			r.releaseNet()
			return
		case nt := <-r.updates:
			t = nt
		default:
		}
		act := r.step(ctx, t)
		if r.status.State.Terminal() {
			// Its container no longer runs: its values are not needed,
			// nor its resolver and interfaces.
			r.releaseFiles()
			r.releaseNet()
		}
		switch act {
		case next:
			continue
		case retry:
			select {
			case <-ctx.Done():
				return
			case <-r.a.clock.After(r.backoff):
			case nt := <-r.updates:
				t = nt
			case <-r.gone:
			}
			r.backoff = min(r.backoff*2, maxBackoff)
		case waitChange:
			select {
			case <-ctx.Done():
				return
			case nt := <-r.updates:
				t = nt
			case <-r.gone:
			}
		}
	}
}

func (r *runner) step(ctx context.Context, t *types.Task) action {
	switch {
	case t.DesiredState >= types.TaskStateShutdown:
		if r.status.State.Terminal() {
			return waitChange
		}
		return r.shutdown(ctx, t)
	case r.status.State.Terminal():
		return waitChange
	case r.status.State < types.TaskStateReady:
		return r.prepare(ctx, t)
	case t.DesiredState < types.TaskStateRunning:
		return waitChange // prepared; its restart delay has not passed
	case r.status.State < types.TaskStateRunning:
		return r.start(ctx, t)
	default:
		return r.wait(ctx, t)
	}
}

// set records and reports a new status.
func (r *runner) set(st types.TaskStatus) {
	st.Timestamp = r.a.clock.Now()
	if st.ContainerID == "" && r.container != nil {
		st.ContainerID = r.container.ID
	}
	r.status = st
	r.a.reporter.report(r.taskID, st)
}

func (r *runner) progress(state types.TaskState, msg string) {
	st := r.status
	st.State, st.Message, st.Err = state, msg, ""
	r.set(st)
}

func (r *runner) reject(err error) action {
	r.set(types.TaskStatus{State: types.TaskStateRejected, Message: "rejected", Err: err.Error()})
	return waitChange
}

func (r *runner) fail(msg string, exitCode int) action {
	st := r.status
	st.State, st.Message, st.Err, st.ExitCode = types.TaskStateFailed, "failed", msg, exitCode
	r.set(st)
	return waitChange
}

// transient reports whether err is worth retrying: the runtime plugin is
// restarting or its engine is unreachable.
func transient(err error) bool { return errors.Is(err, sdk.ErrUnavailable) }

func (r *runner) prepare(ctx context.Context, t *types.Task) action {
	if r.status.State < types.TaskStateAccepted {
		r.progress(types.TaskStateAccepted, "accepted")
	}
	if r.status.State < types.TaskStatePreparing {
		r.progress(types.TaskStatePreparing, "preparing")
	}
	if r.container == nil {
		files, err := r.a.values.files(t)
		var auth *runtime.RegistryAuth
		if err == nil {
			auth, err = r.a.values.pullAuth(t)
		}
		var waiting *waitingError
		switch {
		case errors.As(err, &waiting):
			// The reason, when the managers know it (the secret's driver
			// is unreachable, say), is the task's error, as service ps
			// shows it; the task keeps waiting.
			if r.status.Message != waiting.Error() || r.status.Err != waiting.reason {
				st := r.status
				st.State, st.Message, st.Err = types.TaskStatePreparing, waiting.Error(), waiting.reason
				r.set(st)
			}
			return waitChange // values arrive with the assignment
		case err != nil:
			return r.reject(err)
		}
		if err := r.pull(ctx, t.Spec.Container.Image, auth); err != nil {
			if transient(err) {
				return retry
			}
			return r.reject(err)
		}
		spec, err := ContainerSpec(t, r.a.host())
		if err != nil {
			return r.reject(err)
		}
		if len(files) > 0 {
			mounts, err := r.a.files.materialize(t.ID, files)
			if err != nil {
				return r.reject(fmt.Errorf("write secrets and configs: %w", err))
			}
			r.filesUp = true
			spec.Mounts = append(spec.Mounts, mounts...)
		}
		id, err := r.a.rt.Create(ctx, spec)
		if err != nil && !errors.Is(err, sdk.ErrAlreadyExists) {
			r.releaseFiles()
		}
		switch {
		case errors.Is(err, sdk.ErrAlreadyExists):
			c, ferr := r.a.findContainer(ctx, t.ID)
			if ferr != nil {
				return retry
			}
			if c == nil {
				return r.reject(fmt.Errorf("create container: %w", err))
			}
			r.container = c
		case err != nil && transient(err):
			return retry
		case err != nil:
			return r.reject(fmt.Errorf("create container: %w", err))
		default:
			r.container = &runtime.Container{ID: id}
		}
	}
	r.backoff = minBackoff
	r.progress(types.TaskStateReady, "prepared")
	return next
}

// pull makes the image available, with the registry credential auth
// when not nil, reporting pull progress in the task's status message at
// most once a second.
func (r *runner) pull(ctx context.Context, image string, auth *runtime.RegistryAuth) error {
	var mu sync.Mutex
	done := false
	var last time.Time
	progress := func(p runtime.PullProgress) {
		mu.Lock()
		defer mu.Unlock()
		now := r.a.clock.Now()
		if done || now.Sub(last) < time.Second {
			return
		}
		last = now
		msg := "pulling " + image + ": " + p.Status
		if p.Total > 0 {
			msg += fmt.Sprintf(" %d%%", p.Current*100/p.Total)
		}
		st := r.status
		st.Message = msg
		r.set(st)
	}
	err := r.a.rt.EnsureImage(ctx, image, auth, progress)
	mu.Lock()
	done = true
	mu.Unlock()
	return err
}

func (r *runner) start(ctx context.Context, t *types.Task) action {
	id := r.container.ID
	if r.status.State < types.TaskStateStarting {
		r.progress(types.TaskStateStarting, "starting")
	}
	if err := r.a.rt.Start(ctx, id); err != nil {
		switch {
		case transient(err):
			return retry
		case errors.Is(err, sdk.ErrNotFound):
			r.container = nil
			return r.fail("container was removed before it started", 0)
		}
		return r.fail(fmt.Sprintf("start container: %v", err), 0)
	}
	c, err := r.a.rt.Inspect(ctx, id)
	if err != nil {
		if transient(err) {
			return retry
		}
		return r.fail(fmt.Sprintf("inspect container: %v", err), 0)
	}
	r.container = c
	if !c.Running() {
		r.backoff = minBackoff
		return r.exited(&runtime.ExitStatus{ExitCode: c.ExitCode, Error: c.Error})
	}
	// On its networks before anyone may send it traffic: before it is
	// reported running (and so a backend of the virtual IPs).
	if act, ok := r.connect(ctx, t, c.PID); !ok {
		return act
	}
	r.backoff = minBackoff
	switch c.Health {
	case runtime.HealthStarting:
		return r.awaitHealthy(ctx, t)
	case runtime.HealthUnhealthy:
		return r.unhealthy(ctx, t, c)
	}
	r.running(c)
	return next
}

// running reports the task running in container c.
func (r *runner) running(c *runtime.Container) {
	r.set(types.TaskStatus{
		State: types.TaskStateRunning, Message: "started", ContainerID: c.ID, PID: c.PID,
		Addresses: c.Addresses, StartedAt: c.StartedAt,
	})
}

// wait blocks until the container exits or the task changes.
func (r *runner) wait(ctx context.Context, t *types.Task) action {
	if r.container == nil {
		return r.fail("container not found on the node (removed while hive was down?)", 0)
	}
	if len(r.status.Addresses) == 0 || r.status.PID == 0 {
		// Adopted after a restart from a stored status: refresh what the
		// routing mesh needs.
		if c, err := r.a.rt.Inspect(ctx, r.container.ID); err == nil && c.Running() {
			st := r.status
			st.PID, st.Addresses, st.StartedAt = c.PID, c.Addresses, c.StartedAt
			r.set(st)
		}
	}
	if !r.netUp && len(t.Networks) > 0 {
		// Adopted after a restart: its resolver and rules are to be
		// served again, and its attachments repaired.
		pid := r.status.PID
		if r.container.PID != 0 {
			pid = r.container.PID
		}
		if act, ok := r.connect(ctx, t, pid); !ok {
			return act
		}
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		st  *runtime.ExitStatus
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := r.a.rt.Wait(wctx, r.container.ID)
		done <- result{st, err}
	}()
	var check <-chan time.Time
	if r.container.Health != runtime.HealthNone {
		check = r.a.clock.After(healthPollRunning)
	}
	select {
	case <-check:
		return r.checkHealth(ctx, t)
	case <-ctx.Done():
		return waitChange
	case nt := <-r.updates:
		r.received = nt
		return next
	case <-r.gone:
		return next
	case res := <-done:
		switch {
		case res.err == nil:
			r.backoff = minBackoff
			return r.exited(res.st)
		case transient(res.err):
			return retry
		case errors.Is(res.err, sdk.ErrNotFound):
			r.container = nil
			return r.fail("container removed outside hive", 0)
		}
		return r.fail(fmt.Sprintf("wait for container: %v", res.err), 0)
	}
}

func (r *runner) exited(st *runtime.ExitStatus) action {
	if st.ExitCode == 0 {
		s := r.status
		s.State, s.Message, s.Err, s.ExitCode = types.TaskStateComplete, "finished", "", 0
		r.set(s)
		return waitChange
	}
	msg := fmt.Sprintf("task: non-zero exit (%d)", st.ExitCode)
	if st.Error != "" {
		msg += ": " + st.Error
	}
	return r.fail(msg, st.ExitCode)
}

func (r *runner) shutdown(ctx context.Context, t *types.Task) action {
	exitCode := r.status.ExitCode
	if r.container != nil && !r.drained && r.status.State == types.TaskStateRunning && routed(t) {
		// The routing mesh and every task's virtual IP rules stop sending
		// this task new connections as soon as its desired state leaves
		// running; give every node a moment to do so before the container
		// stops listening, so that no connection reaches a closing
		// listener (Swarm waits 2s).
		r.drained = true
		select {
		case <-ctx.Done():
			return waitChange
		case <-r.gone:
		case <-r.a.clock.After(r.a.drain):
		}
	}
	if r.container != nil {
		err := r.a.rt.Stop(ctx, r.container.ID, runtime.StopOptions{
			Timeout: t.Spec.Container.GracePeriod().D(), Signal: t.Spec.Container.StopSignal,
		})
		switch {
		case err == nil:
			if c, err := r.a.rt.Inspect(ctx, r.container.ID); err == nil {
				exitCode = c.ExitCode
			}
		case errors.Is(err, sdk.ErrNotFound):
		case transient(err):
			return retry
		default:
			r.a.logger.Warn("stop container failed", "task_id", r.taskID, "error", err)
			return retry
		}
	}
	st := r.status
	st.State, st.Message, st.Err, st.ExitCode = types.TaskStateShutdown, "shutdown", "", exitCode
	r.set(st)
	return waitChange
}

// routed reports whether other nodes may send t connections: it
// publishes a port in ingress mode, or it is on a network, where other
// tasks' virtual IP rules list it.
func routed(t *types.Task) bool {
	if len(t.Networks) > 0 {
		return true
	}
	for _, p := range t.Ports {
		if p.PublishMode != types.PublishHost {
			return true
		}
	}
	return false
}

// connect attaches the task's running container (process pid) to its
// networks. It returns ok, or what the runner does next: retry when the
// plugin or the managers' view is not there yet; otherwise the container
// is killed and the task fails with the reason.
func (r *runner) connect(ctx context.Context, t *types.Task, pid int) (action, bool) {
	err := r.a.nets.attach(ctx, t, pid)
	switch {
	case err == nil:
		r.netUp = true
		return next, true
	case ctx.Err() != nil:
		return waitChange, false
	case transient(err):
		r.a.logger.Debug("cannot attach the task to its networks yet", "task_id", t.ID, "error", err)
		return retry, false
	}
	r.a.nets.release(t.ID)
	if kerr := r.a.rt.Kill(ctx, r.container.ID, ""); kerr != nil && !errors.Is(kerr, sdk.ErrNotFound) {
		r.a.logger.Warn("kill the container of a task that cannot join its networks", "task_id", t.ID, "error", kerr)
	}
	return r.fail(fmt.Sprintf("connect to the task's networks: %v", err), 0), false
}

// releaseNet stops the task's resolver and detaches it from its
// networks, if it was attached.
func (r *runner) releaseNet() {
	if !r.netUp {
		return
	}
	r.a.nets.release(r.taskID)
	r.netUp = false
}

// releaseFiles unmounts the task's secrets and configs, if mounted. A
// failure is left to the agent's sweep, once the task has gone.
func (r *runner) releaseFiles() {
	if !r.filesUp && !r.a.hasFiles(r.taskID) {
		return
	}
	if err := r.a.files.release(r.taskID); err != nil {
		r.a.logger.Warn("remove the task's secrets failed; the sweep will retry", "task_id", r.taskID, "error", err)
		return
	}
	r.filesUp = false
}

// cleanup removes the container of a task that was deleted. A failure is
// left to the agent's periodic sweep of orphaned containers.
func (r *runner) cleanup(ctx context.Context) {
	if r.container == nil {
		return
	}
	err := r.a.rt.Remove(ctx, r.container.ID, runtime.RemoveOptions{Force: true})
	if err != nil && !errors.Is(err, sdk.ErrNotFound) {
		r.a.logger.Warn("remove container failed; the sweep will retry", "task_id", r.taskID, "error", err)
	}
}
