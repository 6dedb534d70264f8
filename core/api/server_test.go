package api_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/api/apitest"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/testutil"
)

// fixture returns a backend holding one node and one service (web, ID
// svc1abc) with two tasks, and a test server for it.
func fixture(t *testing.T) (*apitest.Backend, *httptest.Server) {
	t.Helper()
	b := apitest.New()
	b.InfoValue = api.Info{NodeID: "node1", Hostname: "laptop", Role: "manager", Leader: true}
	b.AddNode(&types.Node{ID: "node1", Description: types.NodeDescription{Hostname: "laptop"},
		Spec: types.NodeSpec{Role: types.RoleManager, Availability: types.AvailabilityActive}})
	b.AddService(&types.Service{ID: "svc1abc",
		Spec: types.ServiceSpec{Name: "web", Mode: types.ModeReplicated, Replicas: 2, Task: types.TaskSpec{Container: types.ContainerSpec{Image: "nginx"}}}})
	for i := uint64(1); i <= 2; i++ {
		b.AddTask(&types.Task{ID: fmt.Sprintf("task%d", i), ServiceID: "svc1abc", ServiceName: "web", Slot: i, NodeID: "node1",
			DesiredState: types.TaskStateRunning, Status: types.TaskStatus{State: types.TaskStateRunning}})
	}
	b.PluginList = []api.PluginStatus{{Name: "runtime-docker", Kind: "runtime", Version: "1.0.0", Source: "builtin", State: "running"}}
	srv := httptest.NewServer(api.NewServer(b, testutil.Logger(t)).Handler())
	t.Cleanup(srv.Close)
	return b, srv
}

func do(t *testing.T, srv *httptest.Server, method, path, body string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func TestRoutes(t *testing.T) {
	spec := `{"name":"api","mode":"replicated","replicas":1,"task":{"container":{"image":"busybox"}}}`
	tests := []struct {
		name, method, path, body string
		status                   int
		contains                 []string
	}{
		{"ping", "GET", "/v1/_ping", "", 200, []string{`"OK"`}},
		{"info", "GET", "/v1/info", "", 200, []string{`"node_id":"node1"`, `"hostname":"laptop"`, `"leader":true`, `"tasks_running":0`}},
		{"list nodes", "GET", "/v1/nodes", "", 200, []string{`"id":"node1"`}},
		{"get node by hostname", "GET", "/v1/nodes/laptop", "", 200, []string{`"id":"node1"`}},
		{"get node self", "GET", "/v1/nodes/self", "", 200, []string{`"id":"node1"`}},
		{"get missing node", "GET", "/v1/nodes/nope", "", 404, []string{`"kind":"not_found"`, `node \"nope\" not found`}},
		{"list services", "GET", "/v1/services", "", 200, []string{`"running_tasks":2`, `"desired_tasks":2`, `"name":"web"`}},
		{"get service by name", "GET", "/v1/services/web", "", 200, []string{`"id":"svc1abc"`, `"version":VERSION`}},
		{"get service by prefix", "GET", "/v1/services/svc1", "", 200, []string{`"id":"svc1abc"`}},
		{"create service", "POST", "/v1/services", spec, 201, []string{`"name":"api"`, `"image":"busybox"`}},
		{"create duplicate", "POST", "/v1/services", strings.Replace(spec, "api", "web", 1), 409, []string{`"kind":"conflict"`}},
		{"update service", "POST", "/v1/services/web/update?version=VERSION", strings.Replace(spec, "api", "web", 1), 200, []string{`"name":"web"`, `"replicas":1`, `"previous_spec"`}},
		{"update renames", "POST", "/v1/services/web/update?version=VERSION", spec, 400, []string{`"kind":"invalid_argument"`, `renaming a service is not supported (web -\u003e api)`}},
		{"update stale version", "POST", "/v1/services/web/update?version=STALE", spec, 409, []string{`"kind":"version_conflict"`, "changed since it was read (version STALE, now VERSION)"}},
		{"update without version", "POST", "/v1/services/web/update", spec, 400, []string{"missing query parameter version"}},
		{"update bad version", "POST", "/v1/services/web/update?version=x", spec, 400, []string{`version=\"x\"`}},
		{"remove service", "DELETE", "/v1/services/web", "", 204, nil},
		{"remove missing service", "DELETE", "/v1/services/nope", "", 404, []string{`"kind":"not_found"`}},
		{"list tasks", "GET", "/v1/tasks?service=web&desired-state=running", "", 200, []string{`"id":"task1"`, `"id":"task2"`}},
		{"list tasks bad state", "GET", "/v1/tasks?desired-state=dead", "", 400, []string{`desired-state=\"dead\"`, "running, shutdown or accepted"}},
		{"list tasks missing service", "GET", "/v1/tasks?service=nope", "", 404, []string{`service \"nope\" not found`}},
		{"plugins", "GET", "/v1/plugins", "", 200, []string{`"name":"runtime-docker"`, `"source":"builtin"`}},
		{"shutdown", "POST", "/v1/shutdown", "", 202, nil},
		{"unknown route", "GET", "/v1/nothing", "", 404, []string{"no route for GET /v1/nothing", `"kind":"not_found"`}},
		{"wrong method", "PUT", "/v1/services", "", 404, []string{"no route for PUT /v1/services"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, srv := fixture(t)
			v := b.Service("web").Version
			versions := strings.NewReplacer("VERSION", fmt.Sprint(v), "STALE", fmt.Sprint(v-1))
			status, hdr, body := do(t, srv, tt.method, versions.Replace(tt.path), tt.body)
			if status != tt.status {
				t.Fatalf("status = %d, want %d; body %s", status, tt.status, body)
			}
			if status != 204 && status != 202 && hdr.Get("Content-Type") != api.ContentTypeJSON {
				t.Errorf("content type = %q", hdr.Get("Content-Type"))
			}
			for _, want := range tt.contains {
				if want = versions.Replace(want); !strings.Contains(body, want) {
					t.Errorf("body %s does not contain %s", body, want)
				}
			}
		})
	}
}

func TestErrorKindsMapToStatus(t *testing.T) {
	tests := []struct {
		err    error
		status int
		kind   string
	}{
		{fmt.Errorf("bad name: %w", errdefs.ErrInvalidArgument), 400, "invalid_argument"},
		{fmt.Errorf("no such thing: %w", errdefs.ErrNotFound), 404, "not_found"},
		{fmt.Errorf("changed: %w", errdefs.ErrConflict), 409, "conflict"},
		{fmt.Errorf("no leader: %w", errdefs.ErrUnavailable), 503, "unavailable"},
		{fmt.Errorf("workers may not: %w", errdefs.ErrPermissionDenied), 403, "permission_denied"},
		{fmt.Errorf("disk on fire"), 500, "internal"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			b, srv := fixture(t)
			b.Err["Info"] = tt.err
			status, _, body := do(t, srv, "GET", "/v1/info", "")
			if status != tt.status {
				t.Fatalf("status = %d, want %d", status, tt.status)
			}
			var er api.ErrorResponse
			if err := json.Unmarshal([]byte(body), &er); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if er.Kind != tt.kind || er.Message != tt.err.Error() {
				t.Errorf("got %+v, want kind %s message %q", er, tt.kind, tt.err.Error())
			}
		})
	}
}

func TestRequestBodyIsChecked(t *testing.T) {
	big := `{"name":"` + strings.Repeat("x", api.MaxBodyBytes) + `"}`
	tests := []struct {
		name, body, want string
	}{
		{"too large", big, "larger than the limit of 1048576 bytes (1 MiB)"},
		{"unknown field", `{"name":"x","replicaz":3}`, `unknown field \"replicaz\"`},
		{"empty", "", "request body is empty"},
		{"not json", "replicas=3", "invalid service spec in request body"},
		{"two values", `{"name":"a"} {"name":"b"}`, "more than one JSON service spec"},
		{"wrong type", `{"replicas":"three"}`, "invalid service spec in request body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, srv := fixture(t)
			status, _, body := do(t, srv, "POST", "/v1/services", tt.body)
			if status != 400 {
				t.Fatalf("status = %d, want 400; body %.200s", status, body)
			}
			if !strings.Contains(body, tt.want) || !strings.Contains(body, `"kind":"invalid_argument"`) {
				t.Errorf("body %.300s does not contain %q", body, tt.want)
			}
			if b.Called("CreateService") {
				t.Error("a bad body reached the backend")
			}
		})
	}
}

func logLines(n int) []api.LogLine {
	var out []api.LogLine
	for i := range n {
		out = append(out, api.LogLine{TaskID: "task1", TaskName: "web.1", NodeID: "node1", NodeHostname: "laptop",
			Time: time.Date(2024, 5, 1, 10, 0, i, 0, time.UTC), Stream: "stdout", Line: fmt.Sprintf("line %d", i)})
	}
	return out
}

func readNDJSON(t *testing.T, body string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestServiceLogs(t *testing.T) {
	tests := []struct {
		name     string
		query    string
		logsErr  error
		status   int
		lines    int
		lastLine string
	}{
		{"all", "", nil, 200, 3, "line 2"},
		{"tail", "?tail=2", nil, 200, 2, "line 2"},
		{"tail all", "?tail=all", nil, 200, 3, "line 2"},
		{"since", "?since=2024-05-01T10:00:01Z", nil, 200, 2, "line 2"},
		{"error after lines", "", fmt.Errorf("runtime gone: %w", errdefs.ErrUnavailable), 200, 4, ""},
		{"bad tail", "?tail=x", nil, 400, 1, ""},
		{"bad since", "?since=yesterday", nil, 400, 1, ""},
		{"bad follow", "?follow=maybe", nil, 400, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, srv := fixture(t)
			b.Logs["svc1abc"] = logLines(3)
			b.LogsErr = tt.logsErr
			status, hdr, body := do(t, srv, "GET", "/v1/services/web/logs"+tt.query, "")
			if status != tt.status {
				t.Fatalf("status = %d, want %d; body %s", status, tt.status, body)
			}
			lines := readNDJSON(t, body)
			if len(lines) != tt.lines {
				t.Fatalf("got %d lines, want %d: %s", len(lines), tt.lines, body)
			}
			if status != 200 {
				return
			}
			if hdr.Get("Content-Type") != api.ContentTypeNDJSON {
				t.Errorf("content type = %q", hdr.Get("Content-Type"))
			}
			last := lines[len(lines)-1]
			if tt.logsErr != nil {
				if last["error"] != tt.logsErr.Error() || last["kind"] != "unavailable" {
					t.Errorf("last line = %v, want the error", last)
				}
				return
			}
			if last["line"] != tt.lastLine || last["task_name"] != "web.1" {
				t.Errorf("last line = %v, want %q", last, tt.lastLine)
			}
		})
	}
}

func TestServiceLogsErrorBeforeStreamIsStatus(t *testing.T) {
	for _, follow := range []string{"false", "true"} {
		t.Run("follow="+follow, func(t *testing.T) {
			_, srv := fixture(t)
			status, _, body := do(t, srv, "GET", "/v1/services/nope/logs?follow="+follow, "")
			if status != 404 || !strings.Contains(body, `service \"nope\" not found`) {
				t.Fatalf("got %d %s, want 404 naming the service", status, body)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRequestsAreLoggedAtDebug(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := httptest.NewServer(api.NewServer(apitest.New(), logger).Handler())
	defer srv.Close()
	if status, _, _ := do(t, srv, "GET", "/v1/services/nope", ""); status != 404 {
		t.Fatalf("status = %d", status)
	}
	srv.Close()
	out := buf.String()
	for _, want := range []string{"level=DEBUG", `msg="api request"`, "method=GET", "path=/v1/services/nope", "status=404"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %s", out, want)
		}
	}
}

func fakeService() *types.Service {
	return &types.Service{ID: "svc1abc", Meta: types.Meta{Version: 7},
		Spec: types.ServiceSpec{Name: "web", Mode: types.ModeReplicated, Replicas: 2, Task: types.TaskSpec{Container: types.ContainerSpec{Image: "nginx"}}}}
}
