package agent

import (
	"context"
	"time"

	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// How often a runner asks the runtime for the health of a container with
// a health check: while it is starting (the task waits in "starting" until
// it is healthy, and an update waits for that), and once it runs.
const (
	healthPollStarting = 250 * time.Millisecond
	healthPollRunning  = time.Second
)

// awaitHealthy keeps a task whose container runs but whose health check
// has not passed yet in state starting, as Swarm does: the routing mesh
// and the update controller count it as running only once it is healthy.
// It polls the container's health until it is healthy (the task runs),
// unhealthy (the task fails), or the container exits.
func (r *runner) awaitHealthy(ctx context.Context, t *types.Task) action {
	c := r.container
	if r.status.State != types.TaskStateStarting || r.status.Message != waitingHealthy {
		r.set(types.TaskStatus{State: types.TaskStateStarting, Message: waitingHealthy, ContainerID: c.ID, PID: c.PID})
	}
	for {
		select {
		case <-ctx.Done():
			return waitChange
		case nt := <-r.updates:
			r.received = nt
			return next
		case <-r.gone:
			return next
		case <-r.a.clock.After(healthPollStarting):
		}
		c, err := r.a.rt.Inspect(ctx, c.ID)
		switch {
		case err != nil && transient(err):
			continue
		case err != nil:
			return r.fail("inspect container: "+err.Error(), 0)
		case !c.Running():
			return r.exited(&runtime.ExitStatus{ExitCode: c.ExitCode, Error: c.Error})
		}
		r.container = c
		switch c.Health {
		case runtime.HealthUnhealthy:
			return r.unhealthy(ctx, t, c)
		case runtime.HealthStarting:
			continue
		}
		r.running(c)
		return next
	}
}

// waitingHealthy is the message of a task whose container runs and waits
// for its first successful health check.
const waitingHealthy = "waiting for the health check to pass"

// checkHealth looks at the health of a running task's container, and
// fails the task if it turned unhealthy.
func (r *runner) checkHealth(ctx context.Context, t *types.Task) action {
	c, err := r.a.rt.Inspect(ctx, r.container.ID)
	if err != nil {
		return next // Wait reports what happened to the container
	}
	r.container = c
	if c.Running() && c.Health == runtime.HealthUnhealthy {
		return r.unhealthy(ctx, t, c)
	}
	return next
}

// unhealthy stops the container of a task whose health check failed and
// fails the task, saying so ("task: unhealthy container: <last check>"),
// so that the restart policy replaces it.
func (r *runner) unhealthy(ctx context.Context, t *types.Task, c *runtime.Container) action {
	msg := "task: unhealthy container"
	if c.HealthLog != "" {
		msg += ": " + c.HealthLog
	}
	r.a.logger.Info("task unhealthy; stopping its container", "task_id", r.taskID, "container_id", c.ID, "health_log", c.HealthLog)
	err := r.a.rt.Stop(ctx, c.ID, runtime.StopOptions{
		Timeout: t.Spec.Container.GracePeriod().D(), Signal: t.Spec.Container.StopSignal,
	})
	if err != nil && transient(err) {
		return retry
	}
	exitCode := 0
	if st, err := r.a.rt.Inspect(ctx, c.ID); err == nil {
		exitCode = st.ExitCode
	}
	return r.fail(msg, exitCode)
}
