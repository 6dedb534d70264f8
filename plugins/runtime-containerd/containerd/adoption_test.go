package containerd

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/hiveorch/hive/internal/testutil"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// logLines returns the container's output lines so far.
func logLines(t *testing.T, r *Runtime, id string) []string {
	t.Helper()
	var out []string
	err := r.Logs(t.Context(), id, runtime.LogOptions{Tail: -1}, func(e runtime.LogEntry) error {
		out = append(out, string(e.Line))
		return nil
	})
	if err != nil {
		t.Fatalf("logs: %v", err)
	}
	return out
}

func waitLines(t *testing.T, r *Runtime, id string, want ...string) {
	t.Helper()
	testutil.EventuallyWhy(t, 15*time.Second, "the container's output", func() (bool, string) {
		got := logLines(t, r, id)
		for _, w := range want {
			if !slices.Contains(got, w) {
				return false, fmt.Sprintf("output %q lacks %q", got, w)
			}
		}
		return true, ""
	})
}

// signalTask signals a container's task behind the plugin's back, through
// containerd, as an operator (or the kernel) would.
func signalTask(t *testing.T, env *testEnv, id string, sig syscall.Signal) {
	t.Helper()
	ctx := namespaces.WithNamespace(t.Context(), env.ns)
	c, err := env.client.LoadContainer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Kill(ctx, sig); err != nil {
		t.Fatal(err)
	}
}

// TestAnExitWhileNoPluginRunsIsRecordedAndItsOutputKept: the log copier
// outlives the plugin, and the next plugin process records the exit and
// releases the network.
func TestAnExitWhileNoPluginRunsIsRecordedAndItsOutputKept(t *testing.T) {
	env := newTestEnv(t)
	first := New(testutil.Logger(t))
	if err := first.Configure(t.Context(), env.settings); err != nil {
		t.Fatal(err)
	}
	c := startContainer(t, first, testSpec(t, "print", "2"))
	waitLines(t, first, c.ID, "line 1", "line 2", "err line")
	first.Close()

	// The program prints "stopping" on SIGTERM and exits 0.
	signalTask(t, env, c.ID, syscall.SIGTERM)

	second := env.newRuntime(t)
	testutil.EventuallyWhy(t, 15*time.Second, "the new process to record the exit", func() (bool, string) {
		got, err := second.Inspect(t.Context(), c.ID)
		if err != nil {
			return false, err.Error()
		}
		return got.State == runtime.StateExited && !got.FinishedAt.IsZero() && len(got.Addresses) == 0,
			fmt.Sprintf("state %s exit %d finished %v addresses %v", got.State, got.ExitCode, got.FinishedAt, got.Addresses)
	})
	// The new process records the end and releases the network.
	testutil.EventuallyWhy(t, 15*time.Second, "the new process to release the network", func() (bool, string) {
		rec, err := second.eng.record(t.Context(), c.ID)
		if err != nil {
			return false, err.Error()
		}
		return rec.Labels[labelNetNS] == "" && rec.Labels[labelExitCode] == "0",
			fmt.Sprintf("labels: netns %q exit code %q", rec.Labels[labelNetNS], rec.Labels[labelExitCode])
	})
	if pins, _ := filepath.Glob(filepath.Join(env.root, "netns", "*")); len(pins) != 0 {
		t.Errorf("pinned namespaces left: %v", pins)
	}
	waitLines(t, second, c.ID, "line 1", "line 2", "err line", "stopping")
}

// TestARunningContainerWhoseCopierDiedGetsANewOne: output written while
// no copier ran waits in the pipes and reaches the log once a new plugin
// process restarts the copier.
func TestARunningContainerWhoseCopierDiedGetsANewOne(t *testing.T) {
	env := newTestEnv(t)
	first := New(testutil.Logger(t))
	if err := first.Configure(t.Context(), env.settings); err != nil {
		t.Fatal(err)
	}
	c := startContainer(t, first, testSpec(t, "print", "1"))
	waitLines(t, first, c.ID, "line 1", "err line")
	dir := filepath.Join(env.root, "containers", c.ID)
	b, err := os.ReadFile(filepath.Join(dir, copierLockFile))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 {
		t.Fatalf("no copier PID in the lock file: %q", b)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill the copier the plugin started (pid %d): %v", pid, err)
	}
	testutil.EventuallyWhy(t, 5*time.Second, "the killed copier to release its lock", func() (bool, string) { return !copierActive(dir), "the copier still holds its lock" })
	first.Close()

	second := env.newRuntime(t)
	testutil.EventuallyWhy(t, 15*time.Second, "a new copier", func() (bool, string) { return copierActive(dir), "no new copier" })
	if err := second.Stop(t.Context(), c.ID, runtime.StopOptions{Timeout: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	waitLines(t, second, c.ID, "line 1", "err line", "stopping")
	if got := logLines(t, second, c.ID); len(got) != 3 {
		t.Errorf("output %q, want each line once", got)
	}
}

// TestHealthResumesInANewPluginProcess: the health a container earned is
// not reset to "starting" when the plugin restarts.
func TestHealthResumesInANewPluginProcess(t *testing.T) {
	env := newTestEnv(t)
	first := New(testutil.Logger(t))
	if err := first.Configure(t.Context(), env.settings); err != nil {
		t.Fatal(err)
	}
	spec := testSpec(t, "serve")
	spec.Healthcheck = &runtime.Healthcheck{Test: []string{"CMD", "/web", "healthcheck"}, Interval: 200 * time.Millisecond, Retries: 2}
	c := startContainer(t, first, spec)
	testutil.EventuallyWhy(t, 15*time.Second, "the container to be healthy", func() (bool, string) {
		got, err := first.Inspect(t.Context(), c.ID)
		return err == nil && got.Health == runtime.HealthHealthy, fmt.Sprintf("health %q, %v", got.Health, err)
	})
	first.Close()

	second := env.newRuntime(t)
	testutil.EventuallyWhy(t, 15*time.Second, "the new process to report the health", func() (bool, string) {
		got, err := second.Inspect(t.Context(), c.ID)
		if err != nil {
			return false, err.Error()
		}
		if got.Health == runtime.HealthStarting {
			t.Fatalf("health went back to starting in the new plugin process")
		}
		return got.Health == runtime.HealthHealthy, fmt.Sprintf("health %q", got.Health)
	})
}
