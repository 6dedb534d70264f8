package docker

import (
	"context"
	"errors"
	"fmt"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// defaultStopTimeout is the engine's grace period for a container created
// without a stop timeout.
const defaultStopTimeout = 10 * time.Second

// Start starts a created (or exited) container. Starting a running
// container is not an error.
func (r *Runtime) Start(ctx context.Context, id string) error {
	eng, err := r.engine()
	if err != nil {
		return err
	}
	_, err = eng.cli.ContainerStart(ctx, id, client.ContainerStartOptions{})
	return wrapErrConflict(err, sdk.ErrFailedPrecondition, "start container %s", id)
}

// Stop sends the stop signal, waits up to the grace period for the
// container to exit, kills it if it did not, and returns once it is not
// running. Stopping a stopped container is not an error.
//
// Without opts.Signal the engine does all of it (ContainerStop). With it,
// Stop does the same steps itself: engines older than API 1.42 (Docker
// 20.10) ignore the signal a stop request names.
func (r *Runtime) Stop(ctx context.Context, id string, opts runtime.StopOptions) error {
	if opts.Timeout < 0 {
		return fmt.Errorf("stop container %s: negative timeout %s: %w", id, opts.Timeout, sdk.ErrInvalidArgument)
	}
	eng, err := r.engine()
	if err != nil {
		return err
	}
	if opts.Signal == "" {
		var stopOpts client.ContainerStopOptions
		if opts.Timeout > 0 {
			secs := seconds(opts.Timeout)
			stopOpts.Timeout = &secs
		}
		if _, err := eng.cli.ContainerStop(ctx, id, stopOpts); err != nil {
			return wrapErrConflict(err, sdk.ErrFailedPrecondition, "stop container %s", id)
		}
	} else if err := stopWithSignal(ctx, eng.cli, id, opts); err != nil {
		return err
	}
	if err := waitNotRunning(ctx, eng.cli, id); err != nil {
		return fmt.Errorf("stop container %s: %w", id, err)
	}
	return nil
}

// stopWithSignal sends opts.Signal, gives the container the grace period
// to exit, then kills it.
func stopWithSignal(ctx context.Context, cli *client.Client, id string, opts runtime.StopOptions) error {
	res, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return wrapErr(err, "stop container %s", id)
	}
	c := res.Container
	if c.State == nil || !c.State.Running {
		return nil
	}
	grace := opts.Timeout
	if grace == 0 {
		grace = defaultStopTimeout
		if c.Config != nil && c.Config.StopTimeout != nil && *c.Config.StopTimeout >= 0 {
			grace = time.Duration(*c.Config.StopTimeout) * time.Second
		}
	}
	if err := kill(ctx, cli, id, opts.Signal); err != nil {
		if errors.Is(err, sdk.ErrFailedPrecondition) {
			return nil // it exited on its own meanwhile
		}
		return fmt.Errorf("stop container %s: %w", id, err)
	}
	graceCtx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	err = waitNotRunning(graceCtx, cli, id)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("stop container %s: %w", id, ctx.Err())
	case graceCtx.Err() == nil:
		return fmt.Errorf("stop container %s: %w", id, err)
	}
	// The grace period is over.
	if err := kill(ctx, cli, id, "SIGKILL"); err != nil && !errors.Is(err, sdk.ErrFailedPrecondition) {
		return fmt.Errorf("stop container %s: %w", id, err)
	}
	return nil
}

// waitNotRunning returns once the container is not running.
func waitNotRunning(ctx context.Context, cli *client.Client, id string) error {
	res := cli.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case <-res.Result:
		return nil
	case err := <-res.Error:
		return waitErr(err, id)
	}
}

// waitErr maps an error from ContainerWait. One the engine answered with
// keeps its kind; any other, short of a cancelled context, means the
// connection broke and wraps sdk.ErrUnavailable: the container's fate is
// unknown, never a fake exit.
func waitErr(err error, id string) error {
	if kindOf(err) != nil {
		return wrapErr(err, "wait for container %s", id)
	}
	return streamErr(err, "wait for container %s", id)
}

// Kill sends signal (SIGKILL when empty) to a running container. Killing
// a container that is not running wraps sdk.ErrFailedPrecondition.
func (r *Runtime) Kill(ctx context.Context, id string, signal string) error {
	eng, err := r.engine()
	if err != nil {
		return err
	}
	if signal == "" {
		signal = "SIGKILL"
	}
	if err := kill(ctx, eng.cli, id, signal); err != nil {
		return fmt.Errorf("kill container %s: %w", id, err)
	}
	return nil
}

func kill(ctx context.Context, cli *client.Client, id, signal string) error {
	_, err := cli.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: signal})
	if err != nil && cerrdefs.IsConflict(err) {
		return fmt.Errorf("signal %s: %w", signal, &kindError{kind: sdk.ErrFailedPrecondition, err: err})
	}
	return wrapErr(err, "signal %s", signal)
}

// Remove deletes a container and its anonymous volumes (named volumes
// stay). opts.Force removes a running container; without it, removing a
// running one wraps sdk.ErrFailedPrecondition. A missing container wraps
// sdk.ErrNotFound.
func (r *Runtime) Remove(ctx context.Context, id string, opts runtime.RemoveOptions) error {
	eng, err := r.engine()
	if err != nil {
		return err
	}
	_, err = eng.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: opts.Force, RemoveVolumes: true})
	return wrapErrConflict(err, sdk.ErrFailedPrecondition, "remove container %s", id)
}

// Wait blocks until the container is not running and returns how it
// ended; for a container that is not running it returns at once. If the
// connection to the engine breaks, the error wraps sdk.ErrUnavailable.
func (r *Runtime) Wait(ctx context.Context, id string) (*runtime.ExitStatus, error) {
	eng, err := r.engine()
	if err != nil {
		return nil, err
	}
	res, err := eng.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return nil, wrapErr(err, "wait for container %s", id)
	}
	if c := res.Container; c.State == nil || !c.State.Running {
		return exitStatus(c), nil
	}

	wait := eng.cli.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	var resp container.WaitResponse
	select {
	case resp = <-wait.Result:
	case err := <-wait.Error:
		return nil, waitErr(err, id)
	}
	status := &runtime.ExitStatus{ExitCode: int(resp.StatusCode)}
	if resp.Error != nil {
		status.Error = resp.Error.Message
	}
	// The wait answer has no finish time; the container, unless already
	// removed, does.
	if res, err := eng.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); err == nil {
		if after := exitStatus(res.Container); res.Container.State != nil && !res.Container.State.Running {
			status.FinishedAt = after.FinishedAt
			if status.Error == "" {
				status.Error = after.Error
			}
		}
	}
	return status, nil
}

// exitStatus is how an inspected, not running container ended.
func exitStatus(c container.InspectResponse) *runtime.ExitStatus {
	if c.State == nil {
		return &runtime.ExitStatus{}
	}
	return &runtime.ExitStatus{
		ExitCode:   c.State.ExitCode,
		Error:      c.State.Error,
		FinishedAt: parseTime(c.State.FinishedAt),
	}
}
