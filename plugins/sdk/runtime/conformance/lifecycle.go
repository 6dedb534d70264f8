package conformance

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

func (s *suite) testLifecycle(t *testing.T) {
	spec := s.spec("lifecycle", "print", "1")
	id := s.create(t, spec)

	c := s.inspect(t, id)
	if c.ID != id || c.Name != spec.Name || c.Image != spec.Image {
		t.Errorf("Inspect after Create = ID %q name %q image %q, want %q %q %q", c.ID, c.Name, c.Image, id, spec.Name, spec.Image)
	}
	if c.State != runtime.StateCreated {
		t.Errorf("Inspect after Create: State = %q, want %q", c.State, runtime.StateCreated)
	}
	if c.CreatedAt.IsZero() {
		t.Errorf("Inspect after Create: CreatedAt is zero")
	}
	checkLabels(t, "Inspect after Create", c.Labels, spec.Labels)

	if err := s.rt.Start(s.ctx(t), id); err != nil {
		t.Fatalf("Start = %v", err)
	}
	c = s.inspect(t, id)
	if c.State != runtime.StateRunning || !c.Running() {
		t.Fatalf("Inspect after Start: State = %q, want %q", c.State, runtime.StateRunning)
	}
	if c.PID <= 0 || c.StartedAt.IsZero() {
		t.Errorf("Inspect after Start: PID = %d, StartedAt = %v; want a PID and a start time", c.PID, c.StartedAt)
	}
	if err := s.rt.Start(s.ctx(t), id); err != nil {
		t.Errorf("Start of a running container = %v, want nil", err)
	}

	// A signal that reaches the program before it handles SIGTERM ends it
	// otherwise (a Go program exits 2; PID 1 ignores it): wait for it.
	s.waitLog(t, id, "line 1")
	s.stop(t, id, runtime.StopOptions{Timeout: 10 * time.Second})
	c = s.inspect(t, id)
	if c.State != runtime.StateExited || c.Running() {
		t.Fatalf("Inspect after Stop: State = %q, want %q", c.State, runtime.StateExited)
	}
	if c.ExitCode != 0 {
		t.Errorf("Inspect after Stop: ExitCode = %d, want 0 (the program exits 0 on SIGTERM)", c.ExitCode)
	}
	if c.FinishedAt.IsZero() || c.FinishedAt.Before(c.StartedAt) {
		t.Errorf("Inspect after Stop: FinishedAt = %v, StartedAt = %v; want an end after the start", c.FinishedAt, c.StartedAt)
	}
	if err := s.rt.Stop(s.ctx(t), id, runtime.StopOptions{Timeout: time.Second}); err != nil {
		t.Errorf("Stop of a stopped container = %v, want nil", err)
	}

	if err := s.rt.Remove(s.ctx(t), id, runtime.RemoveOptions{}); err != nil {
		t.Fatalf("Remove = %v", err)
	}
	if _, err := s.rt.Inspect(s.ctx(t), id); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("Inspect after Remove = %v, want an error wrapping sdk.ErrNotFound", err)
	}
	cs, err := s.rt.List(s.ctx(t), runtime.ListFilter{Labels: spec.Labels})
	if err != nil {
		t.Fatalf("List = %v", err)
	}
	for _, c := range cs {
		if c.ID == id {
			t.Errorf("List after Remove still returns %s", id)
		}
	}
}

// checkLabels fails t unless got holds every label of want (a runtime may
// add its own, such as the image's).
func checkLabels(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: label %s = %q, want %q (labels %v)", what, k, got[k], v, got)
		}
	}
}

func (s *suite) testExitCode(t *testing.T) {
	id := s.run(t, s.spec("exit3", "exit", "3"))
	if st := s.wait(t, id); st.ExitCode != 3 {
		t.Errorf("Wait = exit code %d, want 3", st.ExitCode)
	}
	c := s.inspect(t, id)
	if c.State != runtime.StateExited || c.ExitCode != 3 {
		t.Errorf("Inspect after exit: State %q ExitCode %d, want %q 3", c.State, c.ExitCode, runtime.StateExited)
	}
}

func (s *suite) testWaitExited(t *testing.T) {
	id := s.run(t, s.spec("exited", "exit", "4"))
	s.wait(t, id)
	ctx, cancel := context.WithTimeout(t.Context(), min(s.opts.Timeout, 5*time.Second))
	defer cancel()
	st, err := s.rt.Wait(ctx, id)
	if err != nil {
		t.Fatalf("second Wait on an exited container = %v, want it to return at once", err)
	}
	if st.ExitCode != 4 {
		t.Errorf("second Wait = exit code %d, want 4", st.ExitCode)
	}
}

func (s *suite) testStopKills(t *testing.T) {
	id := s.run(t, s.spec("ignore-term", "ignore-term"))
	s.waitLog(t, id, "ignoring SIGTERM")
	start := time.Now()
	s.stop(t, id, runtime.StopOptions{Timeout: time.Second})
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("Stop with a 1s grace period took %v", took)
	}
	c := s.inspect(t, id)
	if c.State != runtime.StateExited || c.ExitCode != 137 {
		t.Errorf("Inspect after Stop of a container ignoring SIGTERM: State %q ExitCode %d, want %q 137 (killed)",
			c.State, c.ExitCode, runtime.StateExited)
	}
}

func (s *suite) testStopSignal(t *testing.T) {
	for _, tc := range []struct {
		name       string
		stopSignal string // the spec's
		opts       runtime.StopOptions
	}{
		{"spec stop signal", "SIGINT", runtime.StopOptions{Timeout: 20 * time.Second}},
		{"stop option signal", "", runtime.StopOptions{Timeout: 20 * time.Second, Signal: "SIGINT"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// ignore-term ignores SIGTERM but dies of SIGINT: a runtime
			// that sent SIGTERM would wait out the grace period and kill.
			spec := s.spec("stopsig-"+strings.ReplaceAll(tc.name, " ", "-"), "ignore-term")
			spec.StopSignal = tc.stopSignal
			id := s.run(t, spec)
			s.waitLog(t, id, "ignoring SIGTERM")
			start := time.Now()
			s.stop(t, id, tc.opts)
			if took := time.Since(start); took > tc.opts.Timeout/2 {
				t.Errorf("Stop took %v: SIGINT was not sent (the container waited out the grace period)", took)
			}
			c := s.inspect(t, id)
			if c.State != runtime.StateExited || c.ExitCode == 137 {
				t.Errorf("Inspect after Stop: State %q ExitCode %d, want %q and not 137 (SIGINT ends it; 137 means it was killed)",
					c.State, c.ExitCode, runtime.StateExited)
			}
		})
	}
}

func (s *suite) testList(t *testing.T) {
	running := s.spec("list-running", "sleep")
	running.Labels = s.labels("group", "x-"+s.runID)
	exited := s.spec("list-exited", "exit", "0")
	exited.Labels = s.labels("group", "x-"+s.runID)
	other := s.spec("list-other", "sleep")
	other.Labels = s.labels("group", "y-"+s.runID)

	runningID := s.run(t, running)
	exitedID := s.run(t, exited)
	otherID := s.create(t, other)
	s.wait(t, exitedID)

	cs, err := s.rt.List(s.ctx(t), runtime.ListFilter{Labels: running.Labels})
	if err != nil {
		t.Fatalf("List = %v", err)
	}
	got := map[string]*runtime.Container{}
	for _, c := range cs {
		got[c.ID] = c
	}
	if len(got) != 2 || got[runningID] == nil || got[exitedID] == nil {
		var names []string
		for _, c := range cs {
			names = append(names, c.Name)
		}
		t.Fatalf("List(group x) = %v, want exactly %s and %s", names, running.Name, exited.Name)
	}
	if got[runningID].State != runtime.StateRunning || got[exitedID].State != runtime.StateExited {
		t.Errorf("List states = %q, %q; want running, exited", got[runningID].State, got[exitedID].State)
	}
	for _, c := range got {
		checkLabels(t, "List "+c.Name, c.Labels, running.Labels)
	}

	all, err := s.rt.List(s.ctx(t), runtime.ListFilter{Labels: s.labels()})
	if err != nil {
		t.Fatalf("List(run) = %v", err)
	}
	found := 0
	for _, c := range all {
		if c.ID == runningID || c.ID == exitedID || c.ID == otherID {
			found++
		}
	}
	if found != 3 {
		t.Errorf("List(run label) found %d of the 3 containers (running, exited, created)", found)
	}

	none, err := s.rt.List(s.ctx(t), runtime.ListFilter{Labels: s.labels("group", "none-"+s.runID)})
	if err != nil || len(none) != 0 {
		t.Errorf("List(a label no container has) = %d containers, %v; want none", len(none), err)
	}
}

func (s *suite) testDuplicateName(t *testing.T) {
	spec := s.spec("dup", "sleep")
	s.create(t, spec)
	id, err := s.rt.Create(s.ctx(t), spec)
	if err == nil {
		t.Cleanup(func() { s.remove(t, id) })
	}
	if !errors.Is(err, sdk.ErrAlreadyExists) {
		t.Errorf("second Create(%s) = %v, want an error wrapping sdk.ErrAlreadyExists", spec.Name, err)
	}
}

func (s *suite) testMissingImage(t *testing.T) {
	ref := "hive-test/no-such-image:" + s.runID
	err := s.rt.EnsureImage(s.ctx(t), ref, nil, nil)
	if !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("EnsureImage(%s) = %v, want an error wrapping sdk.ErrNotFound", ref, err)
	}
	if err != nil && !strings.Contains(err.Error(), ref) {
		t.Errorf("EnsureImage(%s) = %q; the message must name the image", ref, err)
	}
}

func (s *suite) testMissingContainer(t *testing.T) {
	missing := s.name("missing")
	if _, err := s.rt.Inspect(s.ctx(t), missing); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("Inspect(missing) = %v, want an error wrapping sdk.ErrNotFound", err)
	}
	if err := s.rt.Remove(s.ctx(t), missing, runtime.RemoveOptions{Force: true}); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("Remove(missing) = %v, want an error wrapping sdk.ErrNotFound", err)
	}
}

func (s *suite) testAdoption(t *testing.T) {
	spec := s.spec("adopt", "print", "1")
	spec.Labels = s.labels("adopt", s.runID)
	id := s.run(t, spec)
	s.waitLog(t, id, "line 1") // it handles SIGTERM from now on

	second := s.newRuntime(t)
	cs, err := second.List(s.ctx(t), runtime.ListFilter{Labels: spec.Labels})
	if err != nil {
		t.Fatalf("second instance: List = %v", err)
	}
	if len(cs) != 1 || cs[0].ID != id {
		t.Fatalf("second instance: List(adopt label) = %d containers, want exactly %s", len(cs), id)
	}
	if cs[0].State != runtime.StateRunning {
		t.Errorf("second instance: List state = %q, want running", cs[0].State)
	}
	checkLabels(t, "second instance: List", cs[0].Labels, spec.Labels)

	type result struct {
		st  *runtime.ExitStatus
		err error
	}
	done := make(chan result, 1)
	ctx := s.ctx(t)
	go func() {
		st, err := second.Wait(ctx, id)
		done <- result{st, err}
	}()
	if err := second.Stop(s.ctx(t), id, runtime.StopOptions{Timeout: 10 * time.Second}); err != nil {
		t.Fatalf("second instance: Stop = %v", err)
	}
	select {
	case r := <-done:
		if r.err != nil || r.st.ExitCode != 0 {
			t.Errorf("second instance: Wait = %+v, %v; want exit code 0", r.st, r.err)
		}
	case <-ctx.Done():
		t.Fatalf("second instance: Wait did not return within %v of the container stopping", s.opts.Timeout)
	}
}
