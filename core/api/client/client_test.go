package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/api/apitest"
	"github.com/hiveorch/hive/core/api/client"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/testutil"
)

// start serves b on a unix socket in t.TempDir and returns a client for it.
func start(t *testing.T, b api.Backend) *client.Client {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hive.sock")
	l, err := api.ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	logger := testutil.Logger(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.NewServer(b, logger).Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	c, err := client.New("unix://" + path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// backend returns a backend with one node, on which services converge.
func backend(t *testing.T) *apitest.Backend {
	b := apitest.New()
	b.Logger = testutil.Logger(t)
	t.Cleanup(b.Close)
	b.InfoValue = api.Info{NodeID: "node1", Hostname: "laptop", Leader: true, Nodes: 1}
	b.AddNode(&types.Node{ID: "node1", Description: types.NodeDescription{Hostname: "laptop"},
		Spec: types.NodeSpec{Role: types.RoleManager, Availability: types.AvailabilityActive}})
	b.PluginList = []api.PluginStatus{{Name: "scheduler-spread", Kind: "scheduler", State: "running", Source: "builtin"}}
	b.AutoRun = true
	return b
}

func spec(name string, replicas uint64) types.ServiceSpec {
	return types.ServiceSpec{Name: name, Mode: types.ModeReplicated, Replicas: replicas,
		Task: types.TaskSpec{Container: types.ContainerSpec{Image: "nginx:alpine", Args: []string{"nginx", "-g", "daemon off;"}}}}
}

func TestClientRoundTrip(t *testing.T) {
	b := backend(t)
	c := start(t, b)
	ctx := context.Background()

	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	info, err := c.Info(ctx)
	if err != nil || info.NodeID != "node1" || !info.Leader {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	nodes, err := c.ListNodes(ctx)
	if err != nil || len(nodes) != 1 || nodes[0].Description.Hostname != "laptop" {
		t.Fatalf("ListNodes = %v, %v", nodes, err)
	}
	self, err := c.GetNode(ctx, "self")
	if err != nil || self.ID != "node1" {
		t.Fatalf("GetNode(self) = %v, %v", self, err)
	}

	created, err := c.CreateService(ctx, spec("web", 2))
	if err != nil {
		t.Fatalf("CreateService: %v", err)
	}
	if created.ID == "" || created.Spec.Task.Container.Args[2] != "daemon off;" {
		t.Fatalf("created = %+v", created)
	}
	got, err := c.GetService(ctx, "web")
	if err != nil || got.ID != created.ID {
		t.Fatalf("GetService = %v, %v", got, err)
	}
	testutil.Eventually(t, 10*time.Second, "web runs 2 tasks", func() bool {
		sums, err := c.ListServices(ctx)
		return err == nil && len(sums) == 1 && sums[0].RunningTasks == 2
	})
	sums, err := c.ListServices(ctx)
	if err != nil || len(sums) != 1 || sums[0].RunningTasks != 2 || sums[0].DesiredTasks != 2 {
		t.Fatalf("ListServices = %+v, %v", sums, err)
	}
	updated, err := c.UpdateService(ctx, created.ID[:5], got.Version, spec("web", 3))
	if err != nil || updated.Spec.Replicas != 3 {
		t.Fatalf("UpdateService = %v, %v", updated, err)
	}
	testutil.Eventually(t, 10*time.Second, "web has 3 tasks", func() bool {
		tasks, err := c.ListTasks(ctx, api.TaskFilter{Service: "web", DesiredState: api.DesiredRunning})
		return err == nil && len(tasks) == 3
	})
	plugins, err := c.Plugins(ctx)
	if err != nil || len(plugins) != 1 || plugins[0].Name != "scheduler-spread" {
		t.Fatalf("Plugins = %v, %v", plugins, err)
	}
	if err := c.RemoveService(ctx, "web"); err != nil {
		t.Fatalf("RemoveService: %v", err)
	}
	if err := c.Shutdown(ctx); err != nil || b.ShutdownCalls() != 1 {
		t.Fatalf("Shutdown: %v, calls %d", err, b.ShutdownCalls())
	}
}

func TestClientErrorsKeepKindAndMessage(t *testing.T) {
	b := backend(t)
	c := start(t, b)
	ctx := context.Background()
	svc, err := c.CreateService(ctx, spec("web", 1))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func() error
		kind error
		msg  string
	}{
		{"not found", func() error { _, err := c.GetService(ctx, "nope"); return err }, errdefs.ErrNotFound, `service "nope" not found`},
		{"conflict", func() error { _, err := c.UpdateService(ctx, "web", svc.Version-1, spec("web", 2)); return err }, errdefs.ErrConflict, "changed since it was read (version"},
		{"exists", func() error { _, err := c.CreateService(ctx, spec("web", 1)); return err }, errdefs.ErrConflict, `service name "web" is already in use`},
		{"invalid", func() error { _, err := c.ListTasks(ctx, api.TaskFilter{DesiredState: "zombie"}); return err }, errdefs.ErrInvalidArgument, "want running, shutdown or accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, tt.kind) {
				t.Fatalf("err = %v, want kind %v", err, tt.kind)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %q, want it to contain %q", err, tt.msg)
			}
			var apiErr *client.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode < 400 {
				t.Errorf("err = %#v, want a *client.Error with the status", err)
			}
		})
	}
	b.Err["Info"] = errors.New("disk on fire")
	_, err = c.Info(ctx)
	if err == nil || err.Error() != "disk on fire" || errdefs.Kind(err) != "internal" {
		t.Errorf("internal error = %v (kind %s)", err, errdefs.Kind(err))
	}
}

func TestClientUnreachable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x", "hive.sock")
	c, err := client.New("unix://" + path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Info(context.Background())
	want := fmt.Sprintf("cannot reach hive at unix://%s: dial unix %s: connect: no such file or directory — is hive running? start it with 'hive up', or point -H/HIVE_HOST at it", path, path)
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant  %s", err, want)
	}
	if !errors.Is(err, errdefs.ErrUnavailable) {
		t.Error("a connection failure is not errdefs.ErrUnavailable")
	}
}

func TestNewRejectsBadEndpoints(t *testing.T) {
	tests := []struct {
		endpoint, want string
	}{
		{"http://localhost:80", "want unix:///path/to/hive.sock or tcp://HOST:PORT"},
		{"tcp://localhost", "want tcp://HOST:PORT"},
		{"unix://relative.sock", "needs an absolute path"},
		{"", "want unix:///path/to/hive.sock or tcp://HOST:PORT"},
	}
	for _, tt := range tests {
		t.Run(tt.endpoint, func(t *testing.T) {
			_, err := client.New(tt.endpoint)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	for _, ok := range []string{"unix:///run/hive.sock", "/run/hive.sock", "tcp://10.0.0.5:7946", "tcp://[::1]:7946"} {
		if _, err := client.New(ok); err != nil {
			t.Errorf("New(%q) = %v", ok, err)
		}
	}
}

func TestClientOverTCP(t *testing.T) {
	b := backend(t)
	srv := httptest.NewServer(api.NewServer(b, nil).Handler())
	defer srv.Close()
	c, err := client.New("tcp://" + strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	if info, err := c.Info(context.Background()); err != nil || info.Hostname != "laptop" {
		t.Fatalf("Info = %v, %v", info, err)
	}
}

func TestServiceLogs(t *testing.T) {
	b := backend(t)
	c := start(t, b)
	ctx := context.Background()
	svc, err := c.CreateService(ctx, spec("web", 1))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	for i := range 3 {
		b.Logs[svc.ID] = append(b.Logs[svc.ID], api.LogLine{TaskID: "t1", TaskName: "web.1", NodeHostname: "laptop",
			Time: at.Add(time.Duration(i) * time.Second), Stream: "stdout", Line: fmt.Sprintf("hello %d", i)})
	}

	var got []string
	collect := func(l api.LogLine) error {
		got = append(got, l.TaskName+" "+l.Line+" "+l.Time.Format(time.RFC3339))
		return nil
	}
	if err := c.ServiceLogs(ctx, "web", api.LogOptions{Tail: 2, Timestamps: true}, collect); err != nil {
		t.Fatal(err)
	}
	want := []string{"web.1 hello 1 2024-05-01T10:00:01Z", "web.1 hello 2 2024-05-01T10:00:02Z"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lines = %q, want %q", got, want)
	}

	got = nil
	if err := c.ServiceLogs(ctx, "web", api.LogOptions{Tail: -1, Since: at.Add(2 * time.Second)}, collect); err != nil || len(got) != 1 {
		t.Errorf("since: lines %q, err %v", got, err)
	}

	b.LogsErr = fmt.Errorf("node laptop is down: %w", errdefs.ErrUnavailable)
	got = nil
	err = c.ServiceLogs(ctx, "web", api.LogOptions{Tail: -1}, collect)
	if !errors.Is(err, errdefs.ErrUnavailable) || err.Error() != "node laptop is down: unavailable" || len(got) != 3 {
		t.Errorf("stream error: err %v, %d lines", err, len(got))
	}

	stop := errors.New("enough")
	n := 0
	err = c.ServiceLogs(ctx, "web", api.LogOptions{Tail: -1}, func(api.LogLine) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("sink error: err %v after %d lines", err, n)
	}

	err = c.ServiceLogs(ctx, "nope", api.LogOptions{Tail: -1, Follow: true}, collect)
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("missing service: err %v", err)
	}
}

func TestServiceLogsFollowStopsWithContext(t *testing.T) {
	b := backend(t)
	c := start(t, b)
	svc, err := c.CreateService(context.Background(), spec("web", 1))
	if err != nil {
		t.Fatal(err)
	}
	b.Logs[svc.ID] = []api.LogLine{{TaskName: "web.1", Line: "first"}}
	ctx, cancel := context.WithCancel(context.Background())
	err = c.ServiceLogs(ctx, "web", api.LogOptions{Follow: true, Tail: -1}, func(l api.LogLine) error {
		cancel() // the stream stays open; cancelling must end the call
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
