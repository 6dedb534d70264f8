package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// recorder wraps a Fake to see what reaches the implementation on the
// plugin side of the wire.
type recorder struct {
	*runtime.Fake
	mu       sync.Mutex
	spec     *runtime.ContainerSpec
	logsDone chan error // gets what each Logs call of the implementation returned
}

func (r *recorder) Create(ctx context.Context, spec *runtime.ContainerSpec) (string, error) {
	r.mu.Lock()
	r.spec = spec
	r.mu.Unlock()
	return r.Fake.Create(ctx, spec)
}

func (r *recorder) Logs(ctx context.Context, id string, opts runtime.LogOptions, sink func(runtime.LogEntry) error) error {
	err := r.Fake.Logs(ctx, id, opts, sink)
	if r.logsDone != nil {
		r.logsDone <- err
	}
	return err
}

func newHarness(t *testing.T) (*runtime.Fake, runtime.Runtime) {
	t.Helper()
	f := runtime.NewFake()
	f.AddImage(testImage)
	return f, runtime.NewHarness(t, f)
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// started creates and starts a container of the test image running args.
func started(t *testing.T, rt runtime.Runtime, name string, args ...string) string {
	t.Helper()
	ctx := ctxFor(t)
	if err := rt.EnsureImage(ctx, testImage, nil, nil); err != nil {
		t.Fatalf("EnsureImage = %v", err)
	}
	id, err := rt.Create(ctx, &runtime.ContainerSpec{Name: name, Image: testImage, Args: args})
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	if err := rt.Start(ctx, id); err != nil {
		t.Fatalf("Start = %v", err)
	}
	return id
}

func TestHarnessBaseCalls(t *testing.T) {
	f, rt := newHarness(t)
	ctx := ctxFor(t)
	info, err := rt.Describe(ctx)
	want := sdk.Info{Name: "runtime-fake", Kind: sdk.KindRuntime, Version: runtime.FakeVersion, Capabilities: []string{"logs.follow", "stats"}}
	if err != nil || !reflect.DeepEqual(info, want) {
		t.Errorf("Describe = %+v, %v; want %+v", info, err, want)
	}
	settings := map[string]string{"socket": "/run/engine.sock", "debug": "true"}
	if err := rt.Configure(ctx, settings); err != nil {
		t.Fatalf("Configure = %v", err)
	}
	if got := f.Settings(); !reflect.DeepEqual(got, settings) {
		t.Errorf("settings reaching the plugin = %v, want %v", got, settings)
	}
	if err := rt.Health(ctx); err != nil {
		t.Errorf("Health = %v", err)
	}
	f.FailNext("Health", fmt.Errorf("engine socket /run/engine.sock: %w", sdk.ErrUnavailable))
	if err := rt.Health(ctx); !errors.Is(err, sdk.ErrUnavailable) || err.Error() != "engine socket /run/engine.sock: unavailable" {
		t.Errorf("unhealthy Health = %v, want the plugin's message wrapping sdk.ErrUnavailable", err)
	}
}

func TestHarnessSpecRoundTrip(t *testing.T) {
	rec := &recorder{Fake: runtime.NewFake()}
	rec.AddImage(testImage)
	rt := runtime.NewHarness(t, rec)
	spec := &runtime.ContainerSpec{
		Name:       "web.1",
		Image:      testImage,
		Command:    []string{"/web"},
		Args:       []string{"serve"},
		Env:        []string{"PORT=8080", "EMPTY="},
		Labels:     map[string]string{"hive.task": "t1", "hive.service": "web"},
		WorkingDir: "/srv",
		User:       "1000:1000",
		Hostname:   "web-1",
		Ports:      []runtime.PortBinding{{Protocol: "tcp", ContainerPort: 8080, HostPort: 80, HostIP: "127.0.0.1"}},
		Mounts: []runtime.Mount{
			{Type: runtime.MountVolume, Source: "data", Target: "/data"},
			{Type: runtime.MountTmpfs, Target: "/run/secrets", ReadOnly: true},
		},
		Resources:   runtime.Resources{NanoCPUs: 1_500_000_000, MemoryBytes: 256 << 20},
		StopSignal:  "SIGINT",
		StopTimeout: 7 * time.Second,
		Healthcheck: &runtime.Healthcheck{Test: []string{"CMD-SHELL", "curl -f localhost:8080"}, Interval: time.Second,
			Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, Retries: 4},
	}
	ctx := ctxFor(t)
	if err := rt.EnsureImage(ctx, testImage, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Create(ctx, spec); err != nil {
		t.Fatalf("Create = %v", err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if !reflect.DeepEqual(rec.spec, spec) {
		t.Errorf("spec reaching the plugin:\n got %+v\nwant %+v", rec.spec, spec)
	}
}

func TestHarnessContainerRoundTrip(t *testing.T) {
	f, rt := newHarness(t)
	ctx := ctxFor(t)
	if err := rt.EnsureImage(ctx, testImage, nil, nil); err != nil {
		t.Fatal(err)
	}
	id, err := rt.Create(ctx, &runtime.ContainerSpec{Name: "c", Image: testImage, Args: []string{"sleep"},
		Labels: map[string]string{"a": "1"}, Ports: []runtime.PortBinding{{Protocol: "tcp", ContainerPort: 80}},
		Healthcheck: &runtime.Healthcheck{Test: []string{"CMD", "/web", "healthcheck"}, Interval: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}

	// A created container has zero start and finish times: they must come
	// back zero, not as 1970 or year 1 in another zone.
	c, err := rt.Inspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !c.StartedAt.IsZero() || !c.FinishedAt.IsZero() || c.CreatedAt.IsZero() {
		t.Errorf("created container times: created %v started %v finished %v; want only created set", c.CreatedAt, c.StartedAt, c.FinishedAt)
	}

	if err := rt.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		state func(t *testing.T)
	}{
		{"running", nil},
		{"unhealthy", func(t *testing.T) {
			if err := f.SetHealth(id, runtime.HealthUnhealthy, "check failed: connection refused"); err != nil {
				t.Fatal(err)
			}
		}},
		{"exited", func(t *testing.T) {
			if err := f.Exit(id, 5); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.state != nil {
				tc.state(t)
			}
			got, err := rt.Inspect(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := f.Inspect(ctx, id)
			if !sameContainer(got, want) {
				t.Errorf("Inspect through the wire:\n got %+v\nwant %+v", got, want)
			}
			list, err := rt.List(ctx, runtime.ListFilter{Labels: map[string]string{"a": "1"}})
			if err != nil || len(list) != 1 || !sameContainer(list[0], want) {
				t.Errorf("List through the wire = %v, %v; want [%+v]", list, err, want)
			}
		})
	}
	st, err := rt.Wait(ctx, id)
	if err != nil || st.ExitCode != 5 || st.FinishedAt.IsZero() {
		t.Errorf("Wait = %+v, %v; want exit code 5 and a finish time", st, err)
	}
	stats, err := rt.Stats(ctx, id)
	if err != nil || stats.Time.IsZero() || stats.MemoryBytes != 0 {
		t.Errorf("Stats of an exited container = %+v, %v; want a zero sample with a time", stats, err)
	}
	if err := rt.Remove(ctx, id, runtime.RemoveOptions{}); err != nil {
		t.Errorf("Remove = %v", err)
	}
}

// sameContainer compares containers whose times went through the wire
// (which keeps the instant but not the location or monotonic reading).
func sameContainer(a, b *runtime.Container) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) || !a.StartedAt.Equal(b.StartedAt) || !a.FinishedAt.Equal(b.FinishedAt) {
		return false
	}
	a2, b2 := *a, *b
	a2.CreatedAt, a2.StartedAt, a2.FinishedAt = time.Time{}, time.Time{}, time.Time{}
	b2.CreatedAt, b2.StartedAt, b2.FinishedAt = time.Time{}, time.Time{}, time.Time{}
	return reflect.DeepEqual(a2, b2)
}

func TestHarnessStopKillSignals(t *testing.T) {
	_, rt := newHarness(t)
	ctx := ctxFor(t)
	for _, tc := range []struct {
		name string
		args []string
		call func(id string) error
		code int
	}{
		{"stop with the default signal", []string{"sleep"}, func(id string) error { return rt.Stop(ctx, id, runtime.StopOptions{}) }, 0},
		{"stop ignored then killed", []string{"ignore-term"}, func(id string) error {
			return rt.Stop(ctx, id, runtime.StopOptions{Timeout: time.Second})
		}, 137},
		{"stop with SIGINT", []string{"ignore-term"}, func(id string) error {
			return rt.Stop(ctx, id, runtime.StopOptions{Signal: "SIGINT"})
		}, 130},
		{"kill", []string{"sleep"}, func(id string) error { return rt.Kill(ctx, id, "") }, 137},
		{"kill with SIGHUP", []string{"sleep"}, func(id string) error { return rt.Kill(ctx, id, "HUP") }, 129},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := started(t, rt, strings.ReplaceAll(tc.name, " ", "-"), tc.args...)
			if err := tc.call(id); err != nil {
				t.Fatalf("call = %v", err)
			}
			st, err := rt.Wait(ctx, id)
			if err != nil || st.ExitCode != tc.code {
				t.Errorf("Wait = %+v, %v; want exit code %d", st, err, tc.code)
			}
		})
	}
}

func TestHarnessErrorKindsSurvive(t *testing.T) {
	f, rt := newHarness(t)
	ctx := ctxFor(t)
	kinds := []error{sdk.ErrNotFound, sdk.ErrAlreadyExists, sdk.ErrInvalidArgument, sdk.ErrUnavailable,
		sdk.ErrFailedPrecondition, sdk.ErrUnimplemented}
	calls := map[string]func() error{
		"EnsureImage": func() error { return rt.EnsureImage(ctx, testImage, nil, nil) },
		"Create": func() error {
			_, err := rt.Create(ctx, &runtime.ContainerSpec{Name: "x", Image: testImage})
			return err
		},
		"Start":   func() error { return rt.Start(ctx, "x") },
		"Stop":    func() error { return rt.Stop(ctx, "x", runtime.StopOptions{}) },
		"Kill":    func() error { return rt.Kill(ctx, "x", "") },
		"Remove":  func() error { return rt.Remove(ctx, "x", runtime.RemoveOptions{}) },
		"Inspect": func() error { _, err := rt.Inspect(ctx, "x"); return err },
		"List":    func() error { _, err := rt.List(ctx, runtime.ListFilter{}); return err },
		"Wait":    func() error { _, err := rt.Wait(ctx, "x"); return err },
		"Logs": func() error {
			return rt.Logs(ctx, "x", runtime.LogOptions{}, func(runtime.LogEntry) error { return nil })
		},
		"Stats":     func() error { _, err := rt.Stats(ctx, "x"); return err },
		"Describe":  func() error { _, err := rt.Describe(ctx); return err },
		"Configure": func() error { return rt.Configure(ctx, nil) },
		"Health":    func() error { return rt.Health(ctx) },
	}
	for _, method := range slices.Sorted(maps.Keys(calls)) {
		for _, kind := range kinds {
			t.Run(method+"/"+kind.Error(), func(t *testing.T) {
				msg := fmt.Sprintf("%s of x: engine says no: %v", strings.ToLower(method), kind)
				f.FailNext(method, fmt.Errorf("%s of x: engine says no: %w", strings.ToLower(method), kind))
				err := calls[method]()
				if !errors.Is(err, kind) {
					t.Errorf("error = %v, want it to wrap %v", err, kind)
				}
				if err != nil && err.Error() != msg {
					t.Errorf("message = %q, want the plugin's %q", err.Error(), msg)
				}
			})
		}
	}

	t.Run("an error of no kind keeps its message", func(t *testing.T) {
		f.FailNext("Start", errors.New("start x: engine exploded"))
		err := rt.Start(ctx, "x")
		if err == nil || err.Error() != "start x: engine exploded" {
			t.Errorf("Start = %v, want the plugin's message", err)
		}
		for _, kind := range kinds {
			if errors.Is(err, kind) {
				t.Errorf("Start = %v, which wraps %v; want no kind", err, kind)
			}
		}
	})
	t.Run("fake errors name what is missing", func(t *testing.T) {
		_, err := rt.Inspect(ctx, "nope")
		if !errors.Is(err, sdk.ErrNotFound) || !strings.Contains(err.Error(), "nope") {
			t.Errorf("Inspect(nope) = %v, want not found naming nope", err)
		}
		err = rt.EnsureImage(ctx, "example.com/missing:1", nil, nil)
		if !errors.Is(err, sdk.ErrNotFound) || err.Error() != "image not found: example.com/missing:1" {
			t.Errorf("EnsureImage(missing) = %v, want %q wrapping sdk.ErrNotFound", err, "image not found: example.com/missing:1")
		}
	})
}
