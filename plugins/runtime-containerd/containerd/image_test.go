package containerd

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/pkg/namespaces"
	cerrdefs "github.com/containerd/errdefs"

	"github.com/hiveorch/hive/internal/testutil"
	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
	"github.com/hiveorch/hive/plugins/sdk/runtime/conformance"
)

func TestNormalizeRefResolvesDockerHubStyleNames(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"nginx", "docker.io/library/nginx:latest"},
		{"hive-test/web:v1", "docker.io/hive-test/web:v1"},
		{"127.0.0.1:5000/web:v2", "127.0.0.1:5000/web:v2"},
		{"ghcr.io/acme/app", "ghcr.io/acme/app:latest"},
		{"busybox@sha256:" + strings.Repeat("a", 64), "docker.io/library/busybox@sha256:" + strings.Repeat("a", 64)},
	} {
		if got, err := normalizeRef(tc.in); err != nil || got != tc.want {
			t.Errorf("normalizeRef(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "Web", "web:v1:extra"} {
		if _, err := normalizeRef(bad); !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("normalizeRef(%q) = %v, want invalid argument", bad, err)
		}
	}
}

// buildImage builds a test image FROM hive-test/web:v1 with extra
// Dockerfile lines, labelled hive.test=1 and removed when t ends, and
// imports it into the env's namespace.
func buildImage(t *testing.T, env *testEnv, lines ...string) string {
	t.Helper()
	ref := "hive-test/web:ctd-" + randomHex(4)
	dir := t.TempDir()
	df := "FROM " + testImage + "\nLABEL hive.test=1\n" + strings.Join(lines, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("docker", "build", "-q", "-t", ref, dir).CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", ref).Run() })
	tar, err := conformance.DockerSave(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	env.importImages(tar)
	return ref
}

// TestAnImagesHealthcheckAndStopSignalApply: Docker keeps both in the
// image configuration, which OCI configs lack; the runtime reads them.
func TestAnImagesHealthcheckAndStopSignalApply(t *testing.T) {
	env := newTestEnv(t)
	r := env.newRuntime(t)
	ref := buildImage(t, env,
		`HEALTHCHECK --interval=1s --timeout=5s --retries=2 CMD ["/web", "healthcheck"]`,
		"STOPSIGNAL SIGINT")

	t.Run("the image's check runs", func(t *testing.T) {
		spec := testSpec(t, "serve")
		spec.Image = ref
		c := startContainer(t, r, spec)
		testutil.EventuallyWhy(t, 20*time.Second, "the image's check to pass", func() (bool, string) {
			got, err := r.Inspect(t.Context(), c.ID)
			return err == nil && got.Health == runtime.HealthHealthy, fmt.Sprintf("health %q, %v", got.Health, err)
		})
	})
	t.Run("a spec's interval overrides the image's, keeping its test", func(t *testing.T) {
		spec := testSpec(t, "serve")
		spec.Image = ref
		spec.Env = []string{"UNHEALTHY=1"}
		spec.Healthcheck = &runtime.Healthcheck{Interval: 100 * time.Millisecond}
		c := startContainer(t, r, spec)
		testutil.EventuallyWhy(t, 20*time.Second, "the spec's interval to run the image's failing check", func() (bool, string) {
			got, err := r.Inspect(t.Context(), c.ID)
			return err == nil && got.Health == runtime.HealthUnhealthy && got.HealthLog != "",
				fmt.Sprintf("health %q log %q, %v", got.Health, got.HealthLog, err)
		})
	})
	t.Run("NONE disables the image's check", func(t *testing.T) {
		spec := testSpec(t, "serve")
		spec.Image = ref
		spec.Healthcheck = &runtime.Healthcheck{Test: []string{"NONE"}}
		c := startContainer(t, r, spec)
		time.Sleep(1500 * time.Millisecond) // past the image's interval
		if got, _ := r.Inspect(t.Context(), c.ID); got.Health != runtime.HealthNone {
			t.Errorf("health %q with the check disabled", got.Health)
		}
	})
	t.Run("the image's stop signal is sent", func(t *testing.T) {
		// ignore-term ignores SIGTERM and dies of SIGINT.
		spec := testSpec(t, "ignore-term")
		spec.Image = ref
		c := startContainer(t, r, spec)
		waitLines(t, r, c.ID, "ignoring SIGTERM")
		start := time.Now()
		if err := r.Stop(t.Context(), c.ID, runtime.StopOptions{Timeout: 20 * time.Second}); err != nil {
			t.Fatal(err)
		}
		got, _ := r.Inspect(t.Context(), c.ID)
		if took := time.Since(start); took > 10*time.Second || got.ExitCode == 137 {
			t.Errorf("Stop took %v, exit code %d: SIGINT was not sent", took, got.ExitCode)
		}
	})
}

// TestRemoveDeletesTheSnapshotAndTheDirectory: nothing of a removed
// container is left but its named volumes.
func TestRemoveDeletesTheSnapshotAndTheDirectory(t *testing.T) {
	env := newTestEnv(t)
	r := env.newRuntime(t)
	spec := testSpec(t, "write", "/data/f", "kept")
	vol := "hive-test-vol-" + randomHex(3)
	spec.Mounts = []runtime.Mount{{Type: runtime.MountVolume, Source: vol, Target: "/data"}}
	c := startContainer(t, r, spec)
	waitLines(t, r, c.ID, "wrote /data/f")
	if err := r.Remove(t.Context(), c.ID, runtime.RemoveOptions{}); !errors.Is(err, sdk.ErrFailedPrecondition) {
		t.Errorf("Remove of a running container without force = %v, want a failed precondition", err)
	}
	if err := r.Remove(t.Context(), c.ID, runtime.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	ctx := namespaces.WithNamespace(t.Context(), env.ns)
	if _, err := env.client.SnapshotService(DefaultSnapshotter).Stat(ctx, c.ID); !cerrdefs.IsNotFound(err) {
		t.Errorf("snapshot of the removed container: %v, want not found", err)
	}
	if _, err := os.Stat(filepath.Join(env.root, "containers", c.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory of the removed container: %v, want it gone", err)
	}
	data, err := os.ReadFile(filepath.Join(env.root, "volumes", vol, "_data", "f"))
	if err != nil || string(data) != "kept" {
		t.Errorf("the named volume's file = %q, %v; want it kept", data, err)
	}
	if err := r.RemoveVolume(t.Context(), vol); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(env.root, "volumes", vol)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("volume after RemoveVolume: %v", err)
	}
}

func TestStatsReportCPUTimeAndTheMemoryLimit(t *testing.T) {
	env := newTestEnv(t)
	r := env.newRuntime(t)
	spec := testSpec(t, "serve")
	spec.Resources = runtime.Resources{NanoCPUs: 250_000_000, MemoryBytes: 48 << 20}
	c := startContainer(t, r, spec)
	st, err := r.Stats(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.MemoryLimit != 48<<20 || st.MemoryBytes == 0 || st.CPUNanos == 0 || st.PIDs == 0 || st.Time.IsZero() ||
		!st.Known.Has(runtime.StatsCPU|runtime.StatsMemory|runtime.StatsMemoryLimit|runtime.StatsPIDs|runtime.StatsNetwork) {
		t.Errorf("Stats = %+v, want the 48 MiB limit, some memory and CPU time", *st)
	}
	ctx := namespaces.WithNamespace(t.Context(), env.ns)
	ctr, err := env.client.LoadContainer(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	spc, err := ctr.Spec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cpu := spc.Linux.Resources.CPU
	if cpu == nil || cpu.Quota == nil || *cpu.Quota != 25_000 || cpu.Period == nil || *cpu.Period != 100_000 {
		t.Errorf("CPU limit in the OCI spec = %+v, want a quota of 25ms per 100ms", cpu)
	}
}
