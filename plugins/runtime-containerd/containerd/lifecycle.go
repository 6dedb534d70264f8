package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	tasktypes "github.com/containerd/containerd/api/types/task"
	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/cio"
	cerrdefs "github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// Start starts a created or exited container: a new task whose output
// goes to a log copier, attached to the network, with its health check.
// Starting a running container is not an error. A start that fails (a
// command that does not exist) is recorded on the container (Inspect
// reports the error and exit code 127, 126 or 128 as Docker does).
func (r *Runtime) Start(ctx context.Context, id string) error {
	eng, err := r.engine()
	if err != nil {
		return err
	}
	rec, err := eng.resolve(ctx, id)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	id = rec.ID
	unlock := r.locks.lock(id)
	defer unlock()
	p, err := eng.process(ctx, id)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if p != nil {
		switch p.Status {
		case tasktypes.Status_RUNNING, tasktypes.Status_PAUSED, tasktypes.Status_PAUSING:
			return nil
		case tasktypes.Status_STOPPED:
		default:
			// A start cut short (the plugin died between creating the
			// task and starting it): begin again.
			if err := eng.deleteTask(ctx, id); err != nil {
				return fmt.Errorf("start container %s: %w", id, err)
			}
		}
	}
	if err := r.finalize(ctx, eng, id); err != nil {
		return fmt.Errorf("start container %s: %w", id, err)
	}
	if rec, err = eng.record(ctx, id); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	return r.startRun(ctx, eng, rec)
}

// startRun runs a new task for a container that has none.
func (r *Runtime) startRun(ctx context.Context, eng *engine, rec containers.Container) error {
	id := rec.ID
	dir := eng.containerDir(id)
	stdout, stderr := filepath.Join(dir, "stdout.fifo"), filepath.Join(dir, "stderr.fifo")
	for _, f := range []string{stdout, stderr} {
		_ = os.Remove(f)
		if err := unix.Mkfifo(f, 0o600); err != nil {
			return fmt.Errorf("start container %s: create %s: %w", id, f, err)
		}
	}
	if err := eng.copyRun(ctx, dir, stdout, stderr); err != nil {
		return fmt.Errorf("start container %s: %w", id, err)
	}
	ctr, err := eng.client.LoadContainer(eng.ctx(ctx), id)
	if err != nil {
		eng.stopCopier(dir, 0)
		return wrapErr(err, "start container %s", id)
	}
	task, err := ctr.NewTask(eng.ctx(ctx), fifoCreator(stdout, stderr))
	if err != nil {
		eng.stopCopier(dir, 0)
		return r.startFailed(ctx, eng, rec, err)
	}
	fail := func(err error) error {
		cctx := context.WithoutCancel(ctx)
		if _, derr := task.Delete(eng.ctx(cctx), containerd.WithProcessKill); derr != nil && !cerrdefs.IsNotFound(derr) {
			r.logger.Warn("delete the task of a failed start", "container_id", id, "error", derr)
		}
		eng.stopCopier(dir, 0)
		return err
	}

	ports := decodePorts(rec.Labels[labelPorts])
	nsPath, ip, err := eng.net.setup(ctx, id, task.Pid(), ports)
	if err != nil {
		return fail(fmt.Errorf("start container %s: %w", id, err))
	}
	// The namespace is recorded before anything else can fail, so that
	// a network whose release fails now is released by a later finalize.
	rec, err = eng.setLabels(ctx, rec, map[string]string{
		labelIP: ip, labelNetNS: nsPath, labelStartedAt: formatTime(time.Now()),
		labelFinishedAt: "", labelExitCode: "", labelError: "",
	})
	if err != nil {
		if terr := eng.net.teardown(ctx, id, nsPath, ports); terr != nil {
			r.logger.Warn("release the network of a failed start", "container_id", id, "error", terr)
		}
		return fail(fmt.Errorf("start container %s: %w", id, err))
	}
	// undo releases the network of a start that failed after it was
	// attached, and forgets the run.
	undo := func() {
		cctx := context.WithoutCancel(ctx)
		set := map[string]string{labelIP: "", labelStartedAt: ""}
		if err := eng.net.teardown(cctx, id, nsPath, ports); err != nil {
			r.logger.Warn("release the network of a failed start", "container_id", id, "error", err)
		} else {
			set[labelNetNS] = ""
		}
		if cur, err := eng.record(cctx, id); err == nil {
			rec, _ = eng.setLabels(cctx, cur, set)
		}
	}
	hostname, _ := os.ReadFile(filepath.Join(dir, "hostname"))
	if err := os.WriteFile(filepath.Join(dir, "hosts"), hostsFile(strings.TrimSpace(string(hostname)), ip), 0o644); err != nil {
		_ = fail(err)
		undo()
		return fmt.Errorf("start container %s: write /etc/hosts: %w", id, err)
	}
	if err := task.Start(eng.ctx(ctx)); err != nil {
		_ = fail(err)
		undo()
		return r.startFailed(ctx, eng, rec, err)
	}
	if hc := decodeHealthcheck(rec.Labels[labelHealth]); hc != nil {
		r.health.start(eng, id, hc, true)
	}
	r.logger.Debug("started container", "container_id", id, "pid", task.Pid(), "ip", ip)
	return nil
}

// startFailed records why a start failed, with the exit code Docker gives
// (127: the command was not found, 126: it cannot be run, 128: other), and
// returns the error.
func (r *Runtime) startFailed(ctx context.Context, eng *engine, rec containers.Container, err error) error {
	msg := err.Error()
	code := 128
	switch lower := strings.ToLower(msg); {
	case strings.Contains(lower, "no such file") || strings.Contains(lower, "not found"):
		code = 127
	case strings.Contains(lower, "permission denied"):
		code = 126
	}
	if _, lerr := eng.setLabels(context.WithoutCancel(ctx), rec, map[string]string{
		labelError: msg, labelExitCode: strconv.Itoa(code),
	}); lerr != nil {
		r.logger.Warn("record a failed start", "container_id", rec.ID, "error", lerr)
	}
	return wrapErr(err, "start container %s", rec.ID)
}

// deleteTask kills and deletes a task that is not running normally (one
// whose start was cut short).
func (e *engine) deleteTask(ctx context.Context, id string) error {
	task, err := e.task(ctx, id)
	if err != nil {
		if errors.Is(err, sdk.ErrNotFound) {
			return nil
		}
		return err
	}
	// The shim may still count the task's process as running for a
	// moment after its exit was reported (a health check's exec that
	// died with it is reaped after it): try again for a while.
	for attempt := 1; ; attempt++ {
		_, err := task.Delete(e.ctx(ctx), containerd.WithProcessKill)
		switch {
		case err == nil || cerrdefs.IsNotFound(err):
			return nil
		case attempt < deleteAttempts && strings.Contains(err.Error(), "running process") && ctx.Err() == nil:
			time.Sleep(deleteRetryDelay)
			continue
		}
		return wrapErr(err, "delete task")
	}
}

// How long deleteTask waits for the shim to see a task's process gone.
const (
	deleteAttempts   = 40
	deleteRetryDelay = 50 * time.Millisecond
)

// task loads the task of container id.
func (e *engine) task(ctx context.Context, id string) (containerd.Task, error) {
	ctr, err := e.client.LoadContainer(e.ctx(ctx), id)
	if err != nil {
		return nil, wrapErr(err, "container %s", id)
	}
	task, err := ctr.Task(e.ctx(ctx), nil)
	if err != nil {
		return nil, wrapErr(err, "task of container %s", id)
	}
	return task, nil
}

// Stop sends the stop signal (opts.Signal, or the container's, or
// SIGTERM), waits up to the grace period (opts.Timeout, or the
// container's, or 10s) for the container to exit, kills it if it did not,
// and returns once it has exited and its end is recorded. Stopping a
// container that is not running is not an error.
func (r *Runtime) Stop(ctx context.Context, id string, opts runtime.StopOptions) error {
	if opts.Timeout < 0 {
		return fmt.Errorf("stop container %s: negative timeout %s: %w", id, opts.Timeout, sdk.ErrInvalidArgument)
	}
	eng, err := r.engine()
	if err != nil {
		return err
	}
	rec, err := eng.resolve(ctx, id)
	if err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	id = rec.ID
	p, err := eng.process(ctx, id)
	if err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	if p != nil && p.Status != tasktypes.Status_STOPPED && p.Status != tasktypes.Status_CREATED {
		name := opts.Signal
		if name == "" {
			name = rec.Labels[labelStopSignal]
		}
		sig, err := parseSignal(name)
		if err != nil {
			return fmt.Errorf("stop container %s: %w", id, err)
		}
		grace := opts.Timeout
		if grace == 0 {
			grace = defaultStopTimeout
			if d, err := time.ParseDuration(rec.Labels[labelStopTimeout]); err == nil && d > 0 {
				grace = d
			}
		}
		r.health.stop(id)
		if err := eng.signalAndWait(ctx, id, sig, grace); err != nil {
			return fmt.Errorf("stop container %s: %w", id, err)
		}
	}
	unlock := r.locks.lock(id)
	defer unlock()
	if err := r.finalize(ctx, eng, id); err != nil {
		return fmt.Errorf("stop container %s: %w", id, err)
	}
	return nil
}

// signalAndWait sends sig to the task, waits up to grace for it to exit,
// then kills it and waits for that.
func (e *engine) signalAndWait(ctx context.Context, id string, sig syscall.Signal, grace time.Duration) error {
	task, err := e.task(ctx, id)
	if err != nil {
		if errors.Is(err, sdk.ErrNotFound) {
			return nil
		}
		return err
	}
	exited, err := task.Wait(e.ctx(ctx))
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return nil
		}
		return wrapErr(err, "wait")
	}
	if err := task.Kill(e.ctx(ctx), sig); err != nil && !cerrdefs.IsNotFound(err) {
		return wrapErr(err, "signal %s", unix.SignalName(sig))
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
	}
	if err := task.Kill(e.ctx(ctx), syscall.SIGKILL); err != nil && !cerrdefs.IsNotFound(err) {
		return wrapErr(err, "kill after the grace period of %s", grace)
	}
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Kill sends signal (SIGKILL when empty) to a running container. Killing
// a container that is not running wraps sdk.ErrFailedPrecondition.
func (r *Runtime) Kill(ctx context.Context, id string, signal string) error {
	if signal == "" {
		signal = "SIGKILL"
	}
	sig, err := parseSignal(signal)
	if err != nil {
		return fmt.Errorf("kill container %s: %w", id, err)
	}
	eng, err := r.engine()
	if err != nil {
		return err
	}
	rec, err := eng.resolve(ctx, id)
	if err != nil {
		return fmt.Errorf("kill: %w", err)
	}
	p, err := eng.process(ctx, rec.ID)
	if err != nil {
		return fmt.Errorf("kill: %w", err)
	}
	if p == nil || (p.Status != tasktypes.Status_RUNNING && p.Status != tasktypes.Status_PAUSED && p.Status != tasktypes.Status_PAUSING) {
		return fmt.Errorf("kill container %s: it is not running: %w", rec.ID, sdk.ErrFailedPrecondition)
	}
	task, err := eng.task(ctx, rec.ID)
	if err == nil {
		err = task.Kill(eng.ctx(ctx), sig)
	}
	if err != nil {
		if cerrdefs.IsNotFound(err) || errors.Is(err, sdk.ErrNotFound) {
			return fmt.Errorf("kill container %s: it is not running: %w", rec.ID, sdk.ErrFailedPrecondition)
		}
		return wrapErr(err, "kill container %s", rec.ID)
	}
	return nil
}

// Remove deletes a container, its snapshot (its root filesystem), its
// network and its directory (logs included); named volumes stay.
// opts.Force kills a running container first; without it, removing a
// running one wraps sdk.ErrFailedPrecondition. A missing container wraps
// sdk.ErrNotFound.
func (r *Runtime) Remove(ctx context.Context, id string, opts runtime.RemoveOptions) error {
	eng, err := r.engine()
	if err != nil {
		return err
	}
	rec, err := eng.resolve(ctx, id)
	if err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	id = rec.ID
	unlock := r.locks.lock(id)
	defer unlock()
	p, err := eng.process(ctx, id)
	if err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	if p != nil {
		switch p.Status {
		case tasktypes.Status_RUNNING, tasktypes.Status_PAUSED, tasktypes.Status_PAUSING:
			if !opts.Force {
				return fmt.Errorf("remove container %s: it is running; stop it first or remove it with force: %w", id, sdk.ErrFailedPrecondition)
			}
			r.health.stop(id)
			if err := eng.signalAndWait(ctx, id, syscall.SIGKILL, time.Minute); err != nil {
				return fmt.Errorf("remove container %s: %w", id, err)
			}
		case tasktypes.Status_STOPPED:
		default:
			if err := eng.deleteTask(ctx, id); err != nil {
				return fmt.Errorf("remove container %s: %w", id, err)
			}
		}
	}
	if err := r.finalize(ctx, eng, id); err != nil && !errors.Is(err, sdk.ErrNotFound) {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	r.health.forget(id)
	ctr, err := eng.client.LoadContainer(eng.ctx(ctx), id)
	if err == nil {
		err = ctr.Delete(eng.ctx(ctx), containerd.WithSnapshotCleanup)
	}
	if err != nil && !cerrdefs.IsNotFound(err) {
		return wrapErr(err, "remove container %s", id)
	}
	dir := eng.containerDir(id)
	eng.stopCopier(dir, copierGrace)
	if err := os.RemoveAll(dir); err != nil {
		r.logger.Warn("remove the container's directory", "container_id", id, "dir", dir, "error", err)
	}
	r.logger.Debug("removed container", "container_id", id)
	return nil
}

// Wait blocks until the container is not running and returns how it
// ended; for a container that is not running it returns at once. If the
// connection to containerd breaks, the error wraps sdk.ErrUnavailable.
func (r *Runtime) Wait(ctx context.Context, id string) (*runtime.ExitStatus, error) {
	eng, err := r.engine()
	if err != nil {
		return nil, err
	}
	for {
		rec, err := eng.resolve(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("wait: %w", err)
		}
		p, err := eng.process(ctx, rec.ID)
		if err != nil {
			return nil, fmt.Errorf("wait: %w", err)
		}
		if p == nil || p.Status == tasktypes.Status_STOPPED || p.Status == tasktypes.Status_CREATED {
			return exitStatus(toContainer(rec, p, healthState{})), nil
		}
		task, err := eng.task(ctx, rec.ID)
		if errors.Is(err, sdk.ErrNotFound) {
			continue // it ended and was finalized meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("wait: %w", err)
		}
		exited, err := task.Wait(eng.ctx(ctx))
		if cerrdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, wrapErr(err, "wait for container %s", rec.ID)
		}
		select {
		case st := <-exited:
			code, at, err := st.Result()
			switch {
			case err == nil:
				go r.finalizeSoon(eng, rec.ID)
				return &runtime.ExitStatus{ExitCode: int(code), FinishedAt: at}, nil
			case cerrdefs.IsNotFound(err):
				continue
			case ctx.Err() != nil:
				return nil, fmt.Errorf("wait for container %s: %w", rec.ID, ctx.Err())
			}
			return nil, fmt.Errorf("wait for container %s: connection to containerd broke: %w", rec.ID, withKind(sdk.ErrUnavailable, err))
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for container %s: %w", rec.ID, ctx.Err())
		}
	}
}

// finalizeSoon finalizes a container whose task just exited.
func (r *Runtime) finalizeSoon(eng *engine, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	unlock := r.locks.lock(id)
	defer unlock()
	if err := r.finalize(ctx, eng, id); err != nil && !errors.Is(err, sdk.ErrNotFound) {
		r.logger.Warn("record the end of a container", "container_id", id, "error", err)
	}
}

// fifoCreator hands containerd the FIFOs the log copier reads; the
// plugin itself copies nothing.
func fifoCreator(stdout, stderr string) cio.Creator {
	return func(string) (cio.IO, error) { return &fifoIO{cfg: cio.Config{Stdout: stdout, Stderr: stderr}}, nil }
}

type fifoIO struct{ cfg cio.Config }

func (f *fifoIO) Config() cio.Config { return f.cfg }
func (f *fifoIO) Cancel()            {}
func (f *fifoIO) Wait()              {}
func (f *fifoIO) Close() error       { return nil }

// parseSignal parses a signal name ("SIGTERM", "TERM") or number.
func parseSignal(s string) (syscall.Signal, error) {
	if s == "" {
		return syscall.SIGTERM, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("signal %d is out of range: %w", n, sdk.ErrInvalidArgument)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q (want a name such as SIGTERM or a number): %w", s, sdk.ErrInvalidArgument)
}
