package containerd

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/internal/testutil"
	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// TestAnExitedContainerStartsAgain: Start of an exited container runs it
// again, with a new network and its output appended to the same log.
func TestAnExitedContainerStartsAgain(t *testing.T) {
	env := newTestEnv(t)
	r := env.newRuntime(t)
	c := startContainer(t, r, testSpec(t, "print", "1"))
	waitLines(t, r, c.ID, "line 1")
	for run := 2; run <= 3; run++ {
		if err := r.Stop(t.Context(), c.ID, runtime.StopOptions{Timeout: 5 * time.Second}); err != nil {
			t.Fatal(err)
		}
		if err := r.Start(t.Context(), c.ID); err != nil {
			t.Fatalf("start again: %v", err)
		}
		got, err := r.Inspect(t.Context(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != runtime.StateRunning || len(got.Addresses) != 1 || got.ExitCode != 0 || !got.FinishedAt.IsZero() {
			t.Errorf("run %d: %+v, want running with an address and no exit", run, got)
		}
		testutil.EventuallyWhy(t, 15*time.Second, "the run's output", func() (bool, string) {
			lines := logLines(t, r, c.ID)
			n := 0
			for _, l := range lines {
				if l == "line 1" {
					n++
				}
			}
			return n == run, "output " + strings.Join(lines, " | ")
		})
	}
	if lines := logLines(t, r, c.ID); !slices.Contains(lines, "stopping") {
		t.Errorf("the first runs' output is gone: %q", lines)
	}
}

// TestCreateRefusesWhatCannotRun checks the errors Create gives before it
// touches anything.
func TestCreateRefusesWhatCannotRun(t *testing.T) {
	env := newTestEnv(t)
	r := env.newRuntime(t)
	for _, tc := range []struct {
		name   string
		modify func(*runtime.ContainerSpec)
		want   string
	}{
		{"a bind source that does not exist", func(s *runtime.ContainerSpec) {
			s.Mounts = []runtime.Mount{{Type: runtime.MountBind, Source: "/no/such/dir", Target: "/x"}}
		}, "does not exist on this node"},
		{"a relative mount target", func(s *runtime.ContainerSpec) {
			s.Mounts = []runtime.Mount{{Type: runtime.MountTmpfs, Target: "x"}}
		}, "not an absolute path"},
		{"a bad volume name", func(s *runtime.ContainerSpec) {
			s.Mounts = []runtime.Mount{{Type: runtime.MountVolume, Source: "../etc", Target: "/x"}}
		}, "volume name"},
		{"an unknown stop signal", func(s *runtime.ContainerSpec) { s.StopSignal = "SIGNOPE" }, "unknown signal"},
		{"a host port of 0", func(s *runtime.ContainerSpec) {
			s.Ports = []runtime.PortBinding{{ContainerPort: 80}}
		}, "explicit host port"},
		{"a label of the runtime's own", func(s *runtime.ContainerSpec) { s.Labels[labelName] = "x" }, "runtime's own"},
		{"a health check without a command", func(s *runtime.ContainerSpec) {
			s.Healthcheck = &runtime.Healthcheck{Test: []string{"CMD"}}
		}, "needs a command"},
		{"a bad name", func(s *runtime.ContainerSpec) { s.Name = "no spaces allowed" }, "invalid name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := testSpec(t, "sleep")
			tc.modify(spec)
			_, err := r.Create(t.Context(), spec)
			if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Create = %v, want an invalid argument saying %q", err, tc.want)
			}
		})
	}
	cs, err := r.List(t.Context(), runtime.ListFilter{})
	if err != nil || len(cs) != 0 {
		t.Errorf("refused creates left %d containers (%v)", len(cs), err)
	}
}
