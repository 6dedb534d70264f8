package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/hiveorch/hive/internal/testutil"
	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

func TestListByLabelIncludesEveryState(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	ctx := t.Context()
	run := randomID(t)
	mk := func(args ...string) *runtime.ContainerSpec {
		s := spec(t, args...)
		s.Labels["hive.test.run"] = run
		return s
	}
	created := create(t, r, mk("sleep"))
	running := create(t, r, mk("sleep"))
	exited := create(t, r, mk("exit", "4"))
	other := spec(t, "sleep")
	other.Labels["hive.test.run"] = run + "-other"
	create(t, r, other)
	for _, id := range []string{running, exited} {
		if err := r.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Wait(ctx, exited); err != nil {
		t.Fatal(err)
	}

	got, err := r.List(ctx, runtime.ListFilter{Labels: map[string]string{"hive.test.run": run, testLabel: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, c := range got {
		states[c.ID] = c.State
		// List answers what Inspect does.
		want, err := r.Inspect(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c, want) {
			t.Errorf("listed %+v\ninspected %+v", c, want)
		}
	}
	wantStates := map[string]string{created: runtime.StateCreated, running: runtime.StateRunning, exited: runtime.StateExited}
	if !reflect.DeepEqual(states, wantStates) {
		t.Fatalf("listed states %v, want %v", states, wantStates)
	}
	for _, c := range got {
		if c.ID == exited && c.ExitCode != 4 {
			t.Fatalf("exited container listed with exit code %d, want 4", c.ExitCode)
		}
	}
	if !slices.IsSortedFunc(got, func(a, b *runtime.Container) int { return a.CreatedAt.Compare(b.CreatedAt) }) {
		t.Errorf("list is not oldest first")
	}

	none, err := r.List(ctx, runtime.ListFilter{Labels: map[string]string{"hive.test.run": "no-such-run"}})
	if err != nil || len(none) != 0 {
		t.Fatalf("list of an unknown label = %v, %v", none, err)
	}
}

func TestEnsureImage(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	ctx := t.Context()

	t.Run("present", func(t *testing.T) {
		calls := 0
		if err := r.EnsureImage(ctx, testImage, nil, func(runtime.PullProgress) { calls++ }); err != nil {
			t.Fatal(err)
		}
		if calls != 0 {
			t.Fatalf("a present image reported %d progress messages", calls)
		}
	})
	t.Run("missing", func(t *testing.T) {
		const ref = "hive-test/does-not-exist:1"
		err := r.EnsureImage(ctx, ref, nil, func(p runtime.PullProgress) { t.Logf("progress %+v", p) })
		mustErrIs(t, err, sdk.ErrNotFound)
		if !strings.HasPrefix(err.Error(), "image not found: "+ref+": ") || len(err.Error()) <= len("image not found: "+ref+": ") {
			t.Fatalf("error %q; want \"image not found: %s: <reason>\"", err, ref)
		}
	})
	t.Run("invalid reference", func(t *testing.T) {
		err := r.EnsureImage(ctx, "Not A Reference!", nil, nil)
		mustErrIs(t, err, sdk.ErrInvalidArgument)
	})
}

func TestMounts(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	ctx := t.Context()

	t.Run("named volume shared by two containers", func(t *testing.T) {
		t.Parallel()
		vol := "hive-test-vol-" + randomID(t)
		cli := rawClient(t)
		if _, err := cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: vol, Labels: map[string]string{testLabel: "1"}}); err != nil {
			t.Fatal(err)
		}
		writer := spec(t, "write", "/data/msg", "hello from the writer\n")
		writer.Mounts = []runtime.Mount{{Type: runtime.MountVolume, Source: vol, Target: "/data"}}
		reader := spec(t, "cat", "/shared/msg")
		reader.Mounts = []runtime.Mount{{Type: runtime.MountVolume, Source: vol, Target: "/shared", ReadOnly: true}}
		// Cleanups run last-in first-out: the volume goes after both
		// containers.
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := cli.VolumeRemove(ctx, vol, client.VolumeRemoveOptions{Force: true}); err != nil {
				t.Errorf("cleanup: remove volume %s: %v", vol, err)
			}
		})
		w := run(t, r, writer)
		waitForOutput(t, r, w, "wrote /data/msg")
		rd := run(t, r, reader)
		waitForOutput(t, r, rd, "hello from the writer")
	})

	t.Run("bind", func(t *testing.T) {
		t.Parallel()
		s := spec(t, "cat", "/host/file")
		dir := t.TempDir()
		if err := os.WriteFile(dir+"/file", []byte("from the host\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		s.Mounts = []runtime.Mount{{Type: runtime.MountBind, Source: dir, Target: "/host", ReadOnly: true}}
		id := run(t, r, s)
		waitForOutput(t, r, id, "from the host")
	})

	t.Run("tmpfs", func(t *testing.T) {
		t.Parallel()
		s := spec(t, "write", "/scratch/x", "y")
		s.Mounts = []runtime.Mount{{Type: runtime.MountTmpfs, Target: "/scratch"}}
		id := run(t, r, s)
		waitForOutput(t, r, id, "wrote /scratch/x")
		res, err := rawClient(t).ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Container.Mounts) != 1 || res.Container.Mounts[0].Type != "tmpfs" {
			t.Fatalf("mounts = %+v, want one tmpfs", res.Container.Mounts)
		}
	})
}

func TestResourceLimits(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	ctx := t.Context()
	s := spec(t, "serve")
	s.Resources = runtime.Resources{NanoCPUs: 500_000_000, MemoryBytes: 64 << 20}
	id := run(t, r, s)
	waitForOutput(t, r, id, "serving")

	res, err := rawClient(t).ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if hc := res.Container.HostConfig; hc.NanoCPUs != 500_000_000 || hc.Memory != 64<<20 {
		t.Fatalf("engine's limits: %d nano CPUs, %d bytes", hc.NanoCPUs, hc.Memory)
	}
	st, err := r.Stats(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.MemoryLimit != 64<<20 || st.MemoryBytes == 0 || st.MemoryBytes > 64<<20 || st.CPUNanos == 0 ||
		st.PIDs == 0 || !st.Known.Has(runtime.StatsCPU|runtime.StatsMemory|runtime.StatsMemoryLimit|runtime.StatsNetwork) || st.Time.IsZero() {
		t.Fatalf("stats = %+v; want the 64 MiB limit and some use", st)
	}
}

func TestHostPortAnswersHTTP(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	port := freePort(t)
	s := spec(t, "serve")
	s.Hostname = "hive-web"
	s.Ports = []runtime.PortBinding{{Protocol: "tcp", ContainerPort: 80, HostPort: port, HostIP: "127.0.0.1"}}
	id := create(t, r, s)
	want := []runtime.PortBinding{{Protocol: "tcp", ContainerPort: 80, HostPort: port, HostIP: "127.0.0.1"}}
	if c, err := r.Inspect(t.Context(), id); err != nil || !reflect.DeepEqual(c.Ports, want) {
		t.Fatalf("created container's ports = %+v, %v; want %+v", c.Ports, err, want)
	}
	if err := r.Start(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	if c, err := r.Inspect(t.Context(), id); err != nil || !reflect.DeepEqual(c.Ports, want) {
		t.Fatalf("running container's ports = %+v, %v; want %+v", c.Ports, err, want)
	}
	body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port))
	if !strings.HasPrefix(body, "hive-web ") {
		t.Fatalf("GET / = %q; want the hostname hive-web", body)
	}
}

func TestContainerAddressIsReachable(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	s := spec(t, "serve")
	s.Env = []string{"GREETING=hello"}
	id := run(t, r, s)
	c := waitForState(t, r, id, runtime.StateRunning)
	if len(c.Addresses) == 0 {
		t.Fatalf("running container has no address: %+v", c)
	}
	if body := httpGet(t, "http://"+net.JoinHostPort(c.Addresses[0], "80")+"/env?name=GREETING"); body != "hello\n" {
		t.Fatalf("GET /env = %q, want the container's env", body)
	}
}

func TestUserWorkingDirAndEntrypoint(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	s := spec(t, "whoami")
	s.Command = []string{"/web"}
	s.User = "1234:5678"
	s.WorkingDir = "/work"
	id := run(t, r, s)
	waitForOutput(t, r, id, "1234:5678 /work")
}

func TestAnotherRuntimeAdoptsContainers(t *testing.T) {
	t.Parallel()
	first := newTestRuntime(t)
	s := spec(t)
	s.Labels["hive.test.run"] = randomID(t)
	id := serve(t, first, s)

	second := newTestRuntime(t)
	got, err := second.List(t.Context(), runtime.ListFilter{Labels: map[string]string{"hive.test.run": s.Labels["hive.test.run"]}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != id || got[0].Name != s.Name || got[0].State != runtime.StateRunning {
		t.Fatalf("second runtime lists %+v", got)
	}
	done := make(chan error, 1)
	var st *runtime.ExitStatus
	go func() {
		var err error
		st, err = second.Wait(t.Context(), id)
		done <- err
	}()
	if err := first.Stop(t.Context(), id, runtime.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil || st.ExitCode != 0 {
			t.Fatalf("second runtime's wait = %+v, %v", st, err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("second runtime's wait did not return")
	}
}

func TestUnreachableEngineIsUnavailable(t *testing.T) {
	t.Parallel()
	const host = "unix:///nonexistent.sock"
	r := New(testutil.Logger(t))
	if err := r.Configure(t.Context(), map[string]string{"host": host}); err != nil {
		t.Fatalf("configure must not need the engine: %v", err)
	}
	ctx := t.Context()
	err := r.Health(ctx)
	mustErrIs(t, err, sdk.ErrUnavailable)
	if !strings.Contains(err.Error(), host) || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("health error %q does not say the engine at %s is unreachable", err, host)
	}
	nop := func(runtime.LogEntry) error { return nil }
	calls := map[string]func() error{
		"EnsureImage": func() error { return r.EnsureImage(ctx, testImage, nil, nil) },
		"Create":      func() error { _, err := r.Create(ctx, spec(t, "sleep")); return err },
		"Start":       func() error { return r.Start(ctx, "x") },
		"Stop":        func() error { return r.Stop(ctx, "x", runtime.StopOptions{}) },
		"StopSignal":  func() error { return r.Stop(ctx, "x", runtime.StopOptions{Signal: "SIGINT"}) },
		"Kill":        func() error { return r.Kill(ctx, "x", "") },
		"Remove":      func() error { return r.Remove(ctx, "x", runtime.RemoveOptions{}) },
		"Inspect":     func() error { _, err := r.Inspect(ctx, "x"); return err },
		"List":        func() error { _, err := r.List(ctx, runtime.ListFilter{}); return err },
		"Wait":        func() error { _, err := r.Wait(ctx, "x"); return err },
		"Logs":        func() error { return r.Logs(ctx, "x", runtime.LogOptions{Tail: -1}, nop) },
		"Stats":       func() error { _, err := r.Stats(ctx, "x"); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			mustErrIs(t, err, sdk.ErrUnavailable)
			if errors.Is(err, sdk.ErrNotFound) {
				t.Fatalf("%v also wraps ErrNotFound", err)
			}
		})
	}
}

// freePort returns a TCP port free on 127.0.0.1 just now.
func freePort(t *testing.T) uint32 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return uint32(l.Addr().(*net.TCPAddr).Port)
}

// httpGet polls url until it answers 200 and returns the body.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	c := http.Client{Timeout: 2 * time.Second}
	var body string
	testutil.EventuallyWhy(t, 15*time.Second, "an answer from GET", func() (bool, string) {
		resp, err := c.Get(url)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			return false, fmt.Sprintf("GET %s: %d %s %v", url, resp.StatusCode, b, err)
		}
		body = string(b)
		return true, ""
	})
	return body
}

// TestNetworkNoneKeepsTheDNSServers: with the setting network=none (tasks
// whose network another plugin sets up in their namespace), the engine
// still writes the container's /etc/resolv.conf with the spec's DNS
// servers and the host's search domains and options, and Inspect reports
// a PID (to find the namespace by) and no address.
func TestNetworkNoneKeepsTheDNSServers(t *testing.T) {
	t.Parallel()
	requireDocker(t)
	r := New(testutil.Logger(t))
	if err := r.Configure(t.Context(), map[string]string{"network": "none"}); err != nil {
		t.Fatalf("configure network=none: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	s := spec(t, "cat", "/etc/resolv.conf")
	s.DNS = []string{"127.0.0.11"}
	id := run(t, r, s)

	c := waitForState(t, r, id, runtime.StateRunning)
	if c.PID <= 0 || len(c.Addresses) != 0 {
		t.Errorf("Inspect on network none = PID %d, addresses %v; want a PID and no address", c.PID, c.Addresses)
	}
	raw, err := rawClient(t).ContainerInspect(t.Context(), id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if mode := raw.Container.HostConfig.NetworkMode; mode != "none" {
		t.Errorf("network mode = %q, want none", mode)
	}

	waitForOutput(t, r, id, "nameserver 127.0.0.11")
	if err := r.Stop(t.Context(), id, runtime.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	var servers, kept []string
	for _, e := range collectLogs(t, r, id, runtime.LogOptions{Tail: -1}) {
		line := string(e.Line)
		switch f := strings.Fields(line); {
		case len(f) == 0:
		case f[0] == "nameserver":
			servers = append(servers, line)
		case f[0] == "search" || f[0] == "options":
			kept = append(kept, strings.Join(f, " "))
		}
	}
	if want := []string{"nameserver 127.0.0.11"}; !slices.Equal(servers, want) {
		t.Errorf("resolv.conf nameservers = %q, want %q", servers, want)
	}
	host, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(host), "\n") {
		if f := strings.Fields(line); len(f) > 0 && (f[0] == "search" || f[0] == "options") && !slices.Contains(kept, strings.Join(f, " ")) {
			t.Errorf("the host's %q is missing from the container's resolv.conf (it has %q)", line, kept)
		}
	}
}
