package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hiveorch/hive/internal/testutil"
	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

func newFake(t *testing.T) *runtime.Fake {
	t.Helper()
	f := runtime.NewFake()
	f.AddImage(testImage)
	if err := f.EnsureImage(ctxFor(t), testImage, nil, nil); err != nil {
		t.Fatal(err)
	}
	return f
}

func create(t *testing.T, f *runtime.Fake, spec runtime.ContainerSpec) string {
	t.Helper()
	if spec.Image == "" {
		spec.Image = testImage
	}
	id, err := f.Create(ctxFor(t), &spec)
	if err != nil {
		t.Fatalf("Create(%s) = %v", spec.Name, err)
	}
	return id
}

func run(t *testing.T, f *runtime.Fake, spec runtime.ContainerSpec) string {
	t.Helper()
	id := create(t, f, spec)
	if err := f.Start(ctxFor(t), id); err != nil {
		t.Fatalf("Start(%s) = %v", spec.Name, err)
	}
	return id
}

func lines(t *testing.T, f *runtime.Fake, id string) []string {
	t.Helper()
	var out []string
	err := f.Logs(ctxFor(t), id, runtime.LogOptions{Tail: -1}, func(e runtime.LogEntry) error {
		out = append(out, e.Stream+": "+string(e.Line))
		return nil
	})
	if err != nil {
		t.Fatalf("Logs = %v", err)
	}
	return out
}

func TestFakeImages(t *testing.T) {
	ctx := ctxFor(t)
	f := runtime.NewFake()
	if _, err := f.Create(ctx, &runtime.ContainerSpec{Name: "a", Image: testImage}); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("Create before the image is pulled = %v, want not found", err)
	}
	if err := f.EnsureImage(ctx, testImage, nil, nil); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("EnsureImage of an image the registry lacks = %v, want not found", err)
	}
	f.AllowAnyImage(true)
	for i, wantProgress := range []bool{true, false} {
		progress := 0
		if err := f.EnsureImage(ctx, "anything:1", nil, func(runtime.PullProgress) { progress++ }); err != nil {
			t.Fatalf("EnsureImage with AllowAnyImage = %v", err)
		}
		if (progress > 0) != wantProgress {
			t.Errorf("EnsureImage #%d reported %d progress steps; want some only on the first pull", i+1, progress)
		}
	}
	if got := f.Images(); !reflect.DeepEqual(got, []string{"anything:1"}) {
		t.Errorf("Images = %v", got)
	}
	if _, err := f.Create(ctx, &runtime.ContainerSpec{Name: "a", Image: "anything:1"}); err != nil {
		t.Errorf("Create of a pulled image = %v", err)
	}
	ctxDone, cancel := context.WithCancel(ctx)
	cancel()
	if err := f.EnsureImage(ctxDone, "other:1", nil, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("EnsureImage with a cancelled context = %v", err)
	}
}

func TestFakeNamesAndRemoval(t *testing.T) {
	ctx := ctxFor(t)
	f := newFake(t)
	id := run(t, f, runtime.ContainerSpec{Name: "web.1", Args: []string{"sleep"}})
	if c, err := f.Inspect(ctx, "web.1"); err != nil || c.ID != id {
		t.Errorf("Inspect by name = %v, %v", c, err)
	}
	if err := f.Remove(ctx, id, runtime.RemoveOptions{}); !errors.Is(err, sdk.ErrFailedPrecondition) {
		t.Errorf("Remove of a running container = %v, want failed precondition", err)
	}
	waited := make(chan *runtime.ExitStatus, 1)
	go func() {
		st, _ := f.Wait(ctx, id)
		waited <- st
	}()
	testutil.Eventually(t, 15*time.Second, "Wait to block", func() bool { return countCalls(f, "Wait") > 0 })
	if err := f.Remove(ctx, id, runtime.RemoveOptions{Force: true}); err != nil {
		t.Fatalf("Remove(Force) = %v", err)
	}
	if st := <-waited; st == nil || st.ExitCode != 137 {
		t.Errorf("Wait across a forced removal = %+v, want 137", st)
	}
	if err := f.Remove(ctx, id, runtime.RemoveOptions{}); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("second Remove = %v, want not found", err)
	}
	// The name is free again.
	create(t, f, runtime.ContainerSpec{Name: "web.1"})
	if len(f.Containers()) != 1 {
		t.Errorf("Containers = %d, want 1", len(f.Containers()))
	}
}

func TestFakeSignalsAndExit(t *testing.T) {
	ctx := ctxFor(t)
	f := newFake(t)
	for _, tc := range []struct {
		name string
		args []string
		act  func(id string) error
		code int
	}{
		{"stop of an unknown program", []string{"/bin/app"}, func(id string) error { return f.Stop(ctx, id, runtime.StopOptions{}) }, 0},
		{"IgnoreStop then stop", []string{"sleep"}, func(id string) error {
			if err := f.IgnoreStop(id); err != nil {
				return err
			}
			return f.Stop(ctx, id, runtime.StopOptions{})
		}, 137},
		{"Exit", []string{"serve"}, func(id string) error { return f.Exit(id, 42) }, 42},
		{"kill SIGQUIT", []string{"sleep"}, func(id string) error { return f.Kill(ctx, id, "QUIT") }, 131},
		{"kill 15", []string{"sleep"}, func(id string) error { return f.Kill(ctx, id, "15") }, 0},
		{"crash on start", []string{"serve"}, func(string) error { return nil }, 3},
		{"a bad number", []string{"exit", "x"}, func(string) error { return nil }, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := runtime.ContainerSpec{Name: tc.name, Args: tc.args}
			if tc.name == "crash on start" {
				spec.Env = []string{"CRASH=1"}
			}
			id := run(t, f, spec)
			if err := tc.act(id); err != nil {
				t.Fatalf("act = %v", err)
			}
			st, err := f.Wait(ctx, id)
			if err != nil || st.ExitCode != tc.code {
				t.Errorf("Wait = %+v, %v; want exit code %d", st, err, tc.code)
			}
		})
	}
	t.Run("usage errors", func(t *testing.T) {
		id := run(t, f, runtime.ContainerSpec{Name: "usage", Args: []string{"sleep"}})
		if err := f.Kill(ctx, id, "SIGNOPE"); !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("Kill with an unknown signal = %v", err)
		}
		if err := f.Stop(ctx, id, runtime.StopOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := f.Kill(ctx, id, ""); !errors.Is(err, sdk.ErrFailedPrecondition) {
			t.Errorf("Kill of a stopped container = %v", err)
		}
		if err := f.Exit(id, 1); !errors.Is(err, sdk.ErrFailedPrecondition) {
			t.Errorf("Exit of a stopped container = %v", err)
		}
		if err := f.Exit("nope", 1); !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("Exit of a missing container = %v", err)
		}
		if _, err := f.Create(ctx, &runtime.ContainerSpec{Name: "bad", Image: testImage, StopSignal: "SIGWHAT"}); !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("Create with a bad stop signal = %v", err)
		}
		if _, err := f.Create(ctx, &runtime.ContainerSpec{Name: "bad", Image: testImage,
			Mounts: []runtime.Mount{{Type: "nfs", Target: "/x"}}}); !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("Create with a bad mount type = %v", err)
		}
	})
}

func TestFakeRestartAndFiles(t *testing.T) {
	ctx := ctxFor(t)
	f := newFake(t)
	clock := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	f.SetClock(func() time.Time { return clock })

	tmp := runtime.ContainerSpec{Name: "tmp", Args: []string{"cat", "/scratch/f"},
		Mounts: []runtime.Mount{{Type: runtime.MountTmpfs, Target: "/scratch"}}}
	id := run(t, f, tmp)
	if got := lines(t, f, id); !slices.Equal(got, []string{"stderr: web: open /scratch/f: no such file or directory"}) {
		t.Errorf("cat of a missing file printed %q", got)
	}
	if st, _ := f.Wait(ctx, id); st.ExitCode != 2 || !st.FinishedAt.Equal(clock) {
		t.Errorf("cat of a missing file: %+v, want exit 2 at the fake clock's time", st)
	}

	w := run(t, f, runtime.ContainerSpec{Name: "w", Args: []string{"write", "/nodir/f", "x"}})
	if st, _ := f.Wait(ctx, w); st.ExitCode != 2 {
		t.Errorf("write into a missing directory: exit %d, want 2", st.ExitCode)
	}

	wd := run(t, f, runtime.ContainerSpec{Name: "wd", WorkingDir: "/app", Args: []string{"write", "rel.txt", "hi"}})
	if got := lines(t, f, wd); !slices.Equal(got, []string{"stdout: wrote rel.txt"}) {
		t.Errorf("write in the working dir printed %q", got)
	}

	r := run(t, f, runtime.ContainerSpec{Name: "restart", Args: []string{"print", "1"}})
	if err := f.Stop(ctx, r, runtime.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(time.Minute)
	if err := f.Start(ctx, r); err != nil {
		t.Fatalf("restart = %v", err)
	}
	c, _ := f.Inspect(ctx, r)
	if c.State != runtime.StateRunning || !c.StartedAt.Equal(clock) || !c.FinishedAt.IsZero() {
		t.Errorf("restarted: %s, StartedAt %v FinishedAt %v; want running since the new start, no finish", c.State, c.StartedAt, c.FinishedAt)
	}
	var since []string
	_ = f.Logs(ctx, r, runtime.LogOptions{Tail: -1, Since: clock}, func(e runtime.LogEntry) error {
		since = append(since, string(e.Line))
		return nil
	})
	if !slices.Equal(since, []string{"line 1", "err line"}) {
		t.Errorf("Logs(Since the restart) = %q, want the second run's lines only", since)
	}
}

func TestFakePorts(t *testing.T) {
	ctx := ctxFor(t)
	f := newFake(t)
	port := []runtime.PortBinding{{ContainerPort: 80, HostPort: 8080}}
	run(t, f, runtime.ContainerSpec{Name: "a", Ports: port})
	b := create(t, f, runtime.ContainerSpec{Name: "b", Ports: port})
	if err := f.Start(ctx, b); !errors.Is(err, sdk.ErrFailedPrecondition) {
		t.Errorf("Start with a host port in use = %v, want failed precondition", err)
	}
	any := run(t, f, runtime.ContainerSpec{Name: "any", Ports: []runtime.PortBinding{{ContainerPort: 80}}})
	c, _ := f.Inspect(ctx, any)
	if len(c.Ports) != 1 || c.Ports[0].HostPort == 0 || c.Ports[0].Protocol != "tcp" {
		t.Errorf("a port with no host port: %+v, want one chosen", c.Ports)
	}
	if len(c.Addresses) != 1 || c.PID == 0 {
		t.Errorf("running container: addresses %v PID %d", c.Addresses, c.PID)
	}
}

func TestFakeTestControls(t *testing.T) {
	ctx := ctxFor(t)
	f := newFake(t)
	id := run(t, f, runtime.ContainerSpec{Name: "c", Args: []string{"sleep"}, Labels: map[string]string{"k": "v"}})

	t.Run("FailNext queues errors per method", func(t *testing.T) {
		e1, e2 := errors.New("first"), errors.New("second")
		f.FailNext("Inspect", e1)
		f.FailNext("Inspect", e2)
		for _, want := range []error{e1, e2, nil} {
			if _, err := f.Inspect(ctx, id); err != want {
				t.Errorf("Inspect = %v, want %v", err, want)
			}
		}
	})
	t.Run("snapshots are copies", func(t *testing.T) {
		c := f.Containers()[0]
		c.Labels["k"] = "changed"
		if got, _ := f.Inspect(ctx, id); got.Labels["k"] != "v" {
			t.Errorf("changing a snapshot changed the fake")
		}
	})
	t.Run("SetDown fails every call and wakes waiters", func(t *testing.T) {
		waitErr := make(chan error, 1)
		logsErr := make(chan error, 1)
		go func() { _, err := f.Wait(ctx, id); waitErr <- err }()
		go func() {
			logsErr <- f.Logs(ctx, id, runtime.LogOptions{Follow: true}, func(runtime.LogEntry) error { return nil })
		}()
		f.SetDown(true)
		for name, ch := range map[string]chan error{"Wait": waitErr, "Logs": logsErr} {
			if err := <-ch; !errors.Is(err, sdk.ErrUnavailable) {
				t.Errorf("in-flight %s = %v, want unavailable", name, err)
			}
		}
		if err := f.Health(ctx); !errors.Is(err, sdk.ErrUnavailable) {
			t.Errorf("Health while down = %v", err)
		}
		if _, err := f.List(ctx, runtime.ListFilter{}); !errors.Is(err, sdk.ErrUnavailable) {
			t.Errorf("List while down = %v", err)
		}
		f.SetDown(false)
		if c, err := f.Inspect(ctx, id); err != nil || c.State != runtime.StateRunning {
			t.Errorf("Inspect after coming back = %v, %v; want the container still running", c, err)
		}
	})
	t.Run("Calls logs every method", func(t *testing.T) {
		g := newFake(t)
		_, _ = g.Describe(ctx)
		_ = g.Health(ctx)
		want := []string{"EnsureImage", "Describe", "Health"}
		if got := g.Calls(); !slices.Equal(got, want) {
			t.Errorf("Calls = %q, want %q", got, want)
		}
	})
	t.Run("AddLog", func(t *testing.T) {
		if err := f.AddLog(id, runtime.StreamStderr, "custom"); err != nil {
			t.Fatal(err)
		}
		if got := lines(t, f, id); !slices.Contains(got, "stderr: custom") {
			t.Errorf("logs = %q", got)
		}
		if err := f.AddLog(id, "stdin", "x"); !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("AddLog on a bad stream = %v", err)
		}
	})
}

func TestFakeConcurrentUse(t *testing.T) {
	ctx := ctxFor(t)
	f := newFake(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("c%d", i)
			id, err := f.Create(ctx, &runtime.ContainerSpec{Name: name, Image: testImage, Args: []string{"print", "3"}})
			if err != nil {
				t.Error(err)
				return
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = f.Logs(ctx, id, runtime.LogOptions{Follow: true, Tail: -1}, func(runtime.LogEntry) error { return nil })
			}()
			_ = f.Start(ctx, id)
			_, _ = f.Stats(ctx, id)
			_, _ = f.List(ctx, runtime.ListFilter{})
			_ = f.Stop(ctx, id, runtime.StopOptions{})
			<-done
			_ = f.Remove(ctx, id, runtime.RemoveOptions{})
		}()
	}
	wg.Wait()
	if n := len(f.Containers()); n != 0 {
		t.Errorf("%d containers left", n)
	}
}

func TestFakeRecordsSpecAndDNS(t *testing.T) {
	f := newFake(t)
	// Through the harness, so the DNS servers cross the wire.
	rt := runtime.NewHarness(t, f)
	ctx := ctxFor(t)
	dns := []string{"127.0.0.11", "fd00::53"}
	id, err := rt.Create(ctx, &runtime.ContainerSpec{Name: "web.1", Image: testImage, Args: []string{"cat", "/etc/resolv.conf"}, DNS: dns})
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	spec, err := f.Spec("web.1")
	if err != nil {
		t.Fatalf("Spec(web.1) = %v", err)
	}
	if !slices.Equal(spec.DNS, dns) {
		t.Errorf("Spec(web.1).DNS = %q, want %q", spec.DNS, dns)
	}
	spec.DNS[0] = "10.9.9.9"
	if again, _ := f.Spec(id); again.DNS[0] != dns[0] {
		t.Errorf("changing the spec Spec returned changed the Fake's: DNS %q", again.DNS)
	}
	if err := rt.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	want := []string{"stdout: nameserver 127.0.0.11", "stdout: nameserver fd00::53"}
	if got := lines(t, f, id); !slices.Equal(got, want) {
		t.Errorf("cat /etc/resolv.conf printed %q, want %q", got, want)
	}

	if _, err := f.Spec("nope"); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("Spec(nope) = %v, want an error wrapping sdk.ErrNotFound", err)
	}
	_, err = f.Create(ctx, &runtime.ContainerSpec{Name: "bad", Image: testImage, DNS: []string{"10.0.0.2", "10.0.0.256"}})
	if !errors.Is(err, sdk.ErrInvalidArgument) || err.Error() != `create bad: DNS server "10.0.0.256" is not an IP address` {
		t.Errorf("Create with DNS 10.0.0.256 = %v, want an invalid argument naming it", err)
	}
}
