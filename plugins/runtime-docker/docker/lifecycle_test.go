package docker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

func TestContainerLifecycle(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	ctx := t.Context()
	s := spec(t, "serve")
	before := time.Now().Add(-time.Second)
	id := create(t, r, s)

	c, err := r.Inspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != id || c.Name != s.Name || c.Image != testImage || c.State != runtime.StateCreated || c.Running() ||
		c.Labels[testLabel] != "1" || c.CreatedAt.Before(before) || !c.StartedAt.IsZero() {
		t.Fatalf("created container = %+v", c)
	}
	// Inspect by name works too.
	if byName, err := r.Inspect(ctx, s.Name); err != nil || byName.ID != id {
		t.Fatalf("inspect by name = %+v, %v", byName, err)
	}

	if st, err := r.Stats(ctx, id); err != nil || st.CPUNanos != 0 || st.MemoryBytes != 0 {
		t.Fatalf("stats of a created container = %+v, %v; want zeros", st, err)
	}

	if err := r.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitForOutput(t, r, id, "serving")
	if err := r.Start(ctx, id); err != nil {
		t.Fatalf("starting a running container: %v", err)
	}
	c, err = r.Inspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != runtime.StateRunning || !c.Running() || c.PID <= 0 || c.StartedAt.IsZero() || len(c.Addresses) == 0 {
		t.Fatalf("running container = %+v", c)
	}

	if err := r.Stop(ctx, id, runtime.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	c, err = r.Inspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != runtime.StateExited || c.ExitCode != 0 || c.PID != 0 || c.FinishedAt.Before(c.StartedAt) {
		t.Fatalf("stopped container = %+v", c)
	}
	if err := r.Stop(ctx, id, runtime.StopOptions{}); err != nil {
		t.Fatalf("stopping a stopped container: %v", err)
	}
	if err := r.Stop(ctx, id, runtime.StopOptions{Signal: "SIGINT"}); err != nil {
		t.Fatalf("stopping a stopped container with a signal: %v", err)
	}

	if err := r.Remove(ctx, id, runtime.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = r.Inspect(ctx, id)
	mustErrIs(t, err, sdk.ErrNotFound)
	mustErrIs(t, r.Remove(ctx, id, runtime.RemoveOptions{Force: true}), sdk.ErrNotFound)
	mustErrIs(t, r.Start(ctx, id), sdk.ErrNotFound)
	mustErrIs(t, r.Stop(ctx, id, runtime.StopOptions{}), sdk.ErrNotFound)
	mustErrIs(t, r.Kill(ctx, id, ""), sdk.ErrNotFound)
	_, err = r.Wait(ctx, id)
	mustErrIs(t, err, sdk.ErrNotFound)
	_, err = r.Stats(ctx, id)
	mustErrIs(t, err, sdk.ErrNotFound)
	mustErrIs(t, r.Logs(ctx, id, runtime.LogOptions{Tail: -1}, func(runtime.LogEntry) error { return nil }), sdk.ErrNotFound)
}

func TestRemoveRunningContainerNeedsForce(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	ctx := t.Context()
	id := run(t, r, spec(t, "sleep"))
	err := r.Remove(ctx, id, runtime.RemoveOptions{})
	mustErrIs(t, err, sdk.ErrFailedPrecondition)
	if err := r.Remove(ctx, id, runtime.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	_, err = r.Inspect(ctx, id)
	mustErrIs(t, err, sdk.ErrNotFound)
}

func TestWaitReturnsExitCodes(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	ctx := t.Context()
	for _, code := range []string{"0", "3"} {
		t.Run("exit "+code, func(t *testing.T) {
			s := spec(t, "exit", code)
			id := create(t, r, s)
			// Wait before the start: a created container is not running,
			// so Wait answers at once with no exit.
			st, err := r.Wait(ctx, id)
			if err != nil || st.ExitCode != 0 || !st.FinishedAt.IsZero() {
				t.Fatalf("wait on a created container = %+v, %v", st, err)
			}
			if err := r.Start(ctx, id); err != nil {
				t.Fatal(err)
			}
			st, err = r.Wait(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]int{"0": 0, "3": 3}[code]; st.ExitCode != want || st.FinishedAt.IsZero() {
				t.Fatalf("wait = %+v, want exit %d with a finish time", st, want)
			}
			// An exited container answers at once with the same status.
			again, err := r.Wait(ctx, id)
			if err != nil || again.ExitCode != st.ExitCode || !again.FinishedAt.Equal(st.FinishedAt) {
				t.Fatalf("second wait = %+v, %v; first %+v", again, err, st)
			}
			c, err := r.Inspect(ctx, id)
			if err != nil || c.State != runtime.StateExited || c.ExitCode != st.ExitCode {
				t.Fatalf("inspect = %+v, %v", c, err)
			}
		})
	}
}

func TestWaitBlocksUntilTheContainerStops(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	id := serve(t, r, spec(t))

	// A wait whose context ends reports the context, not an exit.
	short, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	st, err := r.Wait(short, id)
	if !errors.Is(err, context.DeadlineExceeded) || st != nil {
		t.Fatalf("wait with an expiring context = %+v, %v", st, err)
	}

	done := make(chan error, 1)
	var got *runtime.ExitStatus
	go func() {
		var err error
		got, err = r.Wait(t.Context(), id)
		done <- err
	}()
	if err := r.Kill(t.Context(), id, "SIGTERM"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil || got.ExitCode != 0 {
			t.Fatalf("wait = %+v, %v; want exit 0 (the workload exits 0 on SIGTERM)", got, err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("wait did not return after the container stopped")
	}
}

// ignoredSignal is a signal the test workload ignores: Go programs ignore
// SIGWINCH unless they ask for it. The workload's own "ignore-term" mode
// cannot serve: with nothing else to run, its `select {}` dies at once with
// "all goroutines are asleep" (exit 2).
const ignoredSignal = "SIGWINCH"

func TestStopGivesTheGracePeriodThenKills(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	ctx := t.Context()
	cases := []struct {
		name       string
		stopSignal string        // the spec's
		timeout    time.Duration // the spec's
		opts       runtime.StopOptions
		wantKill   bool // else the signal ends it at once
	}{
		{name: "timeout option", stopSignal: ignoredSignal, opts: runtime.StopOptions{Timeout: time.Second}, wantKill: true},
		{name: "spec stop timeout rounded up", stopSignal: ignoredSignal, timeout: 500 * time.Millisecond, wantKill: true},
		{name: "signal option ignored", opts: runtime.StopOptions{Signal: ignoredSignal, Timeout: time.Second}, wantKill: true},
		{name: "signal option overrides the spec", stopSignal: ignoredSignal, opts: runtime.StopOptions{Signal: "SIGINT", Timeout: 20 * time.Second}},
		{name: "spec stop signal", stopSignal: "SIGINT", opts: runtime.StopOptions{Timeout: 20 * time.Second}},
		{name: "default signal", opts: runtime.StopOptions{Timeout: 20 * time.Second}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := spec(t)
			s.StopSignal, s.StopTimeout = tc.stopSignal, tc.timeout
			id := serve(t, r, s)

			start := time.Now()
			if err := r.Stop(ctx, id, tc.opts); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			c, err := r.Inspect(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if c.State != runtime.StateExited {
				t.Fatalf("after stop the container is %s", c.State)
			}
			if tc.wantKill {
				if took < time.Second || took > 8*time.Second || c.ExitCode != 137 {
					t.Fatalf("stop took %s, exit %d; want the 1s grace period then a kill (137)", took, c.ExitCode)
				}
				return
			}
			if took > 8*time.Second || c.ExitCode != 0 {
				t.Fatalf("stop took %s, exit %d; want the signal to end it at once (0)", took, c.ExitCode)
			}
		})
	}
}

func TestKill(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	ctx := t.Context()
	id := run(t, r, spec(t, "sleep"))
	if err := r.Kill(ctx, id, ignoredSignal); err != nil {
		t.Fatal(err)
	}
	if c, err := r.Inspect(ctx, id); err != nil || c.State != runtime.StateRunning {
		t.Fatalf("after %s = %+v, %v; want still running", ignoredSignal, c, err)
	}
	if err := r.Kill(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	st, err := r.Wait(ctx, id)
	if err != nil || st.ExitCode != 137 {
		t.Fatalf("wait after kill = %+v, %v; want 137", st, err)
	}
	err = r.Kill(ctx, id, "")
	mustErrIs(t, err, sdk.ErrFailedPrecondition)
	if !strings.Contains(err.Error(), "not running") {
		t.Fatalf("error %q does not say the container is not running", err)
	}
}

func TestCreateRejectsADuplicateName(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	s := spec(t, "sleep")
	create(t, r, s)
	id, err := r.Create(t.Context(), s)
	if id != "" {
		removeWhenDone(t, id)
	}
	mustErrIs(t, err, sdk.ErrAlreadyExists)
	if !strings.Contains(err.Error(), "create container "+s.Name) {
		t.Fatalf("error %q does not name the container", err)
	}
}

func TestCreateWithAMissingImageIsNotFound(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	s := spec(t)
	s.Image = "hive-test/does-not-exist:1"
	id, err := r.Create(t.Context(), s)
	if id != "" {
		removeWhenDone(t, id)
	}
	mustErrIs(t, err, sdk.ErrNotFound)
	if !strings.Contains(err.Error(), s.Image) {
		t.Fatalf("error %q does not name the image", err)
	}
}

func TestCreateRejectsAMissingBindSource(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	s := spec(t, "sleep")
	missing := t.TempDir() + "/missing"
	s.Mounts = []runtime.Mount{{Type: runtime.MountBind, Source: missing, Target: "/data"}}
	id, err := r.Create(t.Context(), s)
	if id != "" {
		removeWhenDone(t, id)
	}
	mustErrIs(t, err, sdk.ErrInvalidArgument)
	if !strings.Contains(err.Error(), missing) {
		t.Fatalf("error %q does not name the missing path", err)
	}
}

func TestAFailedStartIsReported(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	s := spec(t)
	s.Command = []string{"/no-such-binary"}
	id := create(t, r, s)
	if err := r.Start(t.Context(), id); err == nil {
		t.Fatal("starting a container whose entrypoint does not exist succeeded")
	} else if !strings.Contains(err.Error(), "start container "+id) {
		t.Fatalf("error %q does not name the container", err)
	}
	c, err := r.Inspect(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if c.Running() || c.Error == "" {
		t.Fatalf("inspect after a failed start = %+v; want not running, with the error", c)
	}
}
