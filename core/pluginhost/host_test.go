package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/internal/testutil"
	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
	"github.com/hiveorch/hive/plugins/sdk/scheduler"
)

// fakeBin is the fake plugin binary, built once by TestMain.
var fakeBin string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "pluginhost-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	fakeBin = filepath.Join(dir, "fakeplugin")
	out, err := exec.Command("go", "build", "-o", fakeBin, "./testdata/fakeplugin").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build the fake plugin: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

var builtins = []string{"runtime-fake", "scheduler-fake"}

// newHost returns a host serving the fake plugin as built-ins, closed when
// the test ends.
func newHost(t *testing.T, clk clock.Clock, mod func(*Config)) *Host {
	t.Helper()
	cfg := Config{
		Executable:     fakeBin,
		Builtins:       builtins,
		HealthInterval: time.Hour,
		Clock:          clk,
		Logger:         testutil.Logger(t),
	}
	if mod != nil {
		mod(&cfg)
	}
	h := New(cfg)
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

func TestBuiltinRuntimeStartsConfiguresAndServesCalls(t *testing.T) {
	ctx := ctxT(t)
	h := newHost(t, clock.Real{}, nil)
	r, err := h.Runtime(ctx, Spec{Name: "runtime-fake", Settings: map[string]string{"version": "9.9.9"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}

	st := r.Status()
	if st.State != StateRunning || st.Source != SourceBuiltin || st.Kind != sdk.KindRuntime ||
		st.Version != runtime.FakeVersion || st.PID <= 0 || st.Restarts != 0 ||
		strings.Join(st.Capabilities, ",") != "logs.follow,stats" {
		t.Fatalf("status = %+v", st)
	}
	if list := h.List(); len(list) != 1 || list[0].PID != st.PID {
		t.Fatalf("List = %+v", list)
	}

	// Describe after Configure shows the settings reached the plugin.
	info, err := r.Describe(ctx)
	if err != nil || info.Version != "9.9.9" || info.Kind != sdk.KindRuntime {
		t.Fatalf("Describe = %+v, %v", info, err)
	}
	if err := r.Health(ctx); err != nil {
		t.Fatalf("Health: %v", err)
	}
	if err := r.EnsureImage(ctx, "web:1", nil, nil); err != nil {
		t.Fatalf("EnsureImage: %v", err)
	}
	id, err := r.Create(ctx, &runtime.ContainerSpec{Name: "web.1", Image: "web:1", Labels: map[string]string{"hive.task": "t1"}})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := r.Start(ctx, id); err != nil {
		t.Fatalf("Start: %v", err)
	}
	list, err := r.List(ctx, runtime.ListFilter{Labels: map[string]string{"hive.task": "t1"}})
	if err != nil || len(list) != 1 || list[0].ID != id || !list[0].Running() {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if _, err := r.Inspect(ctx, "missing"); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("Inspect missing = %v, want ErrNotFound", err)
	}
}

func TestBuiltinSchedulerServesCalls(t *testing.T) {
	ctx := ctxT(t)
	h := newHost(t, clock.Real{}, nil)
	s, err := h.Scheduler(ctx, Spec{Name: "scheduler-fake"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	if st := s.Status(); st.Kind != sdk.KindScheduler || st.State != StateRunning {
		t.Fatalf("status = %+v", st)
	}
	resp, err := s.Schedule(ctx, &scheduler.Request{
		Nodes: []scheduler.Node{{ID: "n1", Availability: "active", Ready: true}},
		Tasks: []scheduler.Task{{ID: "t1", ServiceID: "s1"}},
	})
	if err != nil || len(resp.Decisions) != 1 || resp.Decisions[0].TaskID != "t1" {
		t.Fatalf("Schedule = %+v, %v", resp, err)
	}
}

func TestPluginOfTheWrongKindFails(t *testing.T) {
	ctx := ctxT(t)
	h := newHost(t, clock.Real{}, nil)
	r, err := h.Runtime(ctx, Spec{Name: "scheduler-fake"})
	if err != nil {
		t.Fatal(err)
	}
	err = r.WaitReady(ctx)
	const want = "plugin scheduler-fake is a scheduler plugin, not a runtime plugin"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("WaitReady = %v, want it to say %q", err, want)
	}
	if st := r.Status(); st.State != StateFailed || st.PID != 0 || !strings.Contains(st.Error, want) {
		t.Fatalf("status = %+v", st)
	}
}

func TestConfigureErrorFailsWithoutRestart(t *testing.T) {
	ctx := ctxT(t)
	clk := clock.NewFake(time.Unix(1000, 0))
	h := newHost(t, clk, nil)
	r, err := h.Runtime(ctx, Spec{Name: "runtime-fake", Settings: map[string]string{"fail": "bad value"}})
	if err != nil {
		t.Fatal(err)
	}
	err = r.WaitReady(ctx)
	if err == nil || !strings.Contains(err.Error(), "configure plugin runtime-fake: setting fail: bad value") {
		t.Fatalf("WaitReady = %v", err)
	}
	clk.Advance(time.Hour)
	if st := r.Status(); st.State != StateFailed || st.Restarts != 0 {
		t.Fatalf("status = %+v", st)
	}
	if err := r.Health(ctx); !errors.Is(err, sdk.ErrUnavailable) || !strings.HasPrefix(err.Error(), "plugin runtime-fake has failed: configure") {
		t.Fatalf("Health on a failed plugin = %v", err)
	}
}

func TestUnhealthyPluginIsNotRestarted(t *testing.T) {
	ctx := ctxT(t)
	clk := clock.NewFake(time.Unix(1000, 0))
	h := newHost(t, clk, func(c *Config) { c.HealthInterval = 10 * time.Second })
	r, err := h.Runtime(ctx, Spec{Name: "runtime-fake", Settings: map[string]string{"unhealthy": "docker engine unreachable"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	// No tick has passed: the check made at start decided the state.
	st := r.Status()
	if st.State != StateUnhealthy || !strings.Contains(st.Error, "docker engine unreachable") {
		t.Fatalf("status right after WaitReady = %+v, want unhealthy with the plugin's reason", st)
	}
	pid := st.PID
	// The next tick's check finds it unhealthy again and does not
	// restart it.
	clk.Advance(10 * time.Second)
	st = r.Status()
	if st.State != StateUnhealthy || st.PID != pid || st.Restarts != 0 || !strings.Contains(st.Error, "docker engine unreachable") {
		t.Fatalf("status = %+v", st)
	}
	// An unhealthy plugin still serves calls.
	if _, err := r.List(ctx, runtime.ListFilter{}); err != nil {
		t.Fatalf("List on an unhealthy plugin: %v", err)
	}
}

func TestKilledPluginIsRestarted(t *testing.T) {
	ctx := ctxT(t)
	clk := clock.NewFake(time.Unix(1000, 0))
	h := newHost(t, clk, nil)
	r, err := h.Runtime(ctx, Spec{Name: "runtime-fake"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	pid := r.Status().PID

	// A long call in flight: follow the logs of a container that runs
	// until stopped; its first line proves the stream is open.
	if err := r.EnsureImage(ctx, "web:1", nil, nil); err != nil {
		t.Fatal(err)
	}
	id, err := r.Create(ctx, &runtime.ContainerSpec{Name: "web.1", Image: "web:1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	streaming := make(chan struct{})
	logsErr := make(chan error, 1)
	go func() {
		var once sync.Once
		logsErr <- r.Logs(ctx, id, runtime.LogOptions{Follow: true, Tail: -1}, func(runtime.LogEntry) error {
			once.Do(func() { close(streaming) })
			return nil
		})
	}()
	select {
	case <-streaming:
	case err := <-logsErr:
		t.Fatalf("Logs ended before the plugin died: %v", err)
	case <-ctx.Done():
		t.Fatal("no log line")
	}

	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-logsErr:
		if !errors.Is(err, sdk.ErrUnavailable) {
			t.Fatalf("in-flight Logs = %v, want ErrUnavailable", err)
		}
	case <-ctx.Done():
		t.Fatal("in-flight Logs did not return after the plugin died")
	}

	// The exit is noticed at once, not at the next health check (an hour).
	st := waitState(t, r.e, StateRestarting)
	if !strings.Contains(st.Error, "signal: killed") {
		t.Fatalf("restarting status = %+v", st)
	}
	_, err = r.Inspect(ctx, id)
	if !errors.Is(err, sdk.ErrUnavailable) || !strings.HasPrefix(err.Error(), "plugin runtime-fake is restarting: ") {
		t.Fatalf("call while restarting = %v", err)
	}

	clk.Advance(waitRetry(t, r.e, clk))
	if err := r.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	st = r.Status()
	if st.State != StateRunning || st.Restarts != 1 || st.PID == pid || st.PID <= 0 {
		t.Fatalf("after restart: %+v (old pid %d)", st, pid)
	}
	if !processGone(pid) {
		t.Fatalf("old process %d still exists", pid)
	}
	if _, err := r.List(ctx, runtime.ListFilter{}); err != nil {
		t.Fatalf("List after restart: %v", err)
	}
}

func TestCloseKillsEveryPlugin(t *testing.T) {
	ctx := ctxT(t)
	h := newHost(t, clock.Real{}, nil)
	r, err := h.Runtime(ctx, Spec{Name: "runtime-fake"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := h.Scheduler(ctx, Spec{Name: "scheduler-fake"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	pids := []int{r.Status().PID, s.Status().PID}

	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if !processGone(pid) {
			t.Errorf("plugin process %d survived Close", pid)
		}
	}
	for _, st := range h.List() {
		if st.State != StateStopped || st.PID != 0 {
			t.Errorf("after Close: %+v", st)
		}
	}
	if err := r.Health(ctx); !errors.Is(err, sdk.ErrUnavailable) {
		t.Errorf("call after Close = %v, want ErrUnavailable", err)
	}
	if _, err := h.Runtime(ctx, Spec{Name: "runtime-fake"}); err == nil {
		t.Error("Runtime after Close succeeded")
	}
}

func TestExternalPluginsByPathAndInDir(t *testing.T) {
	ctx := ctxT(t)
	dir := t.TempDir()
	if err := os.Symlink(fakeBin, filepath.Join(dir, "runtime-ext")); err != nil {
		t.Fatal(err)
	}
	h := newHost(t, clock.Real{}, func(c *Config) { c.Dir = dir; c.Builtins = nil })

	byDir, err := h.Runtime(ctx, Spec{Name: "runtime-ext"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Scheduler(ctx, Spec{Name: fakeBin + "-scheduler"}); err == nil {
		t.Fatal("a missing path resolved")
	}
	if err := os.Symlink(fakeBin, filepath.Join(dir, "my-scheduler")); err != nil {
		t.Fatal(err)
	}
	byPath, err := h.Scheduler(ctx, Spec{Name: filepath.Join(dir, "my-scheduler")})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []interface {
		WaitReady(context.Context) error
		Status() Status
	}{byDir, byPath} {
		if err := p.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := byDir.Status().Source, filepath.Join(dir, "runtime-ext"); got != want {
		t.Errorf("source = %q, want %q", got, want)
	}
	if got, want := byPath.Status().Source, filepath.Join(dir, "my-scheduler"); got != want {
		t.Errorf("source = %q, want %q", got, want)
	}
}

// script writes an executable shell script named name into dir.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCloseDuringStartKillsTheProcess(t *testing.T) {
	ctx := ctxT(t)
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	// A process that never completes go-plugin's handshake.
	script(t, dir, "runtime-hang", "echo $$ > "+pidFile+".tmp && mv "+pidFile+".tmp "+pidFile+"\nexec sleep 600")
	h := newHost(t, clock.Real{}, func(c *Config) { c.Dir = dir })
	r, err := h.Runtime(ctx, Spec{Name: "runtime-hang"})
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	testutil.Eventually(t, 10*time.Second, "the process to start", func() bool {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return false
		}
		_, err = fmt.Sscanf(string(b), "%d", &pid)
		return err == nil
	})
	if st := r.Status(); st.State != StateStarting {
		t.Fatalf("status = %+v", st)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if !processGone(pid) {
		t.Fatalf("process %d survived Close", pid)
	}
	if err := r.WaitReady(ctx); err == nil || !errors.Is(err, sdk.ErrUnavailable) {
		t.Fatalf("WaitReady after Close = %v", err)
	}
}

func TestNotAPluginFailsAtFirstStart(t *testing.T) {
	ctx := ctxT(t)
	dir := t.TempDir()
	script(t, dir, "runtime-broken", "echo 'this is not a plugin'\nexit 1")
	clk := clock.NewFake(time.Unix(1000, 0))
	h := newHost(t, clk, func(c *Config) { c.Dir = dir })
	r, err := h.Runtime(ctx, Spec{Name: "runtime-broken"})
	if err != nil {
		t.Fatal(err)
	}
	err = r.WaitReady(ctx)
	if err == nil || !strings.Contains(err.Error(), "start plugin runtime-broken") {
		t.Fatalf("WaitReady = %v", err)
	}
	if st := r.Status(); st.State != StateFailed || st.Restarts != 0 {
		t.Fatalf("status = %+v", st)
	}

	// Asking for it again, once the operator fixed it, starts it afresh.
	if err := os.Remove(filepath.Join(dir, "runtime-broken")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(fakeBin, filepath.Join(dir, "runtime-broken")); err != nil {
		t.Fatal(err)
	}
	r, err = h.Runtime(ctx, Spec{Name: "runtime-broken"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady after the fix: %v", err)
	}
}
