package dockerapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/testutil"
)

// simpleSpec is a replicated service as the docker CLI would send it.
func simpleSpec(name string, replicas uint64) swarm.ServiceSpec {
	return swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: name, Labels: map[string]string{"app": name}},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "nginx:alpine", Init: ptr(false), DNSConfig: &swarm.DNSConfig{}},
			Resources: &swarm.ResourceRequirements{Limits: &swarm.Limit{}, Reservations: &swarm.Resources{}}, Placement: &swarm.Placement{}},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: ptr(replicas)}},
		EndpointSpec: &swarm.EndpointSpec{Mode: swarm.ResolutionModeVIP},
	}
}

func (h *harness) createService(c *client.Client, spec swarm.ServiceSpec) string {
	h.t.Helper()
	res, err := c.ServiceCreate(context.Background(), client.ServiceCreateOptions{Spec: spec})
	if err != nil {
		h.t.Fatalf("ServiceCreate %s: %v", spec.Name, err)
	}
	return res.ID
}

func TestServiceCreateInspectAndRemove(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	ctx := context.Background()
	id := h.createService(c, simpleSpec("web", 2))
	if s := h.b.Service(id); s == nil || s.Spec.Name != "web" || s.Spec.Replicas != 2 || s.Spec.Task.Container.Image != "nginx:alpine" {
		t.Fatalf("stored service = %+v", s)
	}
	for _, ref := range []string{id, id[:6], "web"} {
		res, err := c.ServiceInspect(ctx, ref, client.ServiceInspectOptions{InsertDefaults: true})
		if err != nil {
			t.Fatalf("inspect %s: %v", ref, err)
		}
		var raw map[string]any
		if err := json.Unmarshal(res.Raw, &raw); err != nil || raw["ID"] != id {
			t.Errorf("inspect %s raw = %s", ref, res.Raw)
		}
		svc := res.Service
		if svc.ID != id || svc.Spec.Name != "web" || *svc.Spec.Mode.Replicated.Replicas != 2 || svc.Version.Index != h.b.Service(id).Version {
			t.Errorf("inspect %s = %+v", ref, svc)
		}
	}
	if _, err := c.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: simpleSpec("web", 1)}); !cerrdefs.IsConflict(err) {
		t.Errorf("second create of web: %v, want a conflict", err)
	}
	if _, err := c.ServiceRemove(ctx, "web", client.ServiceRemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ServiceInspect(ctx, id, client.ServiceInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("inspect after remove: %v, want not found", err)
	}
}

func TestServiceListFiltersAndStatus(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	ctx := context.Background()
	webID := h.createService(c, simpleSpec("web", 2))
	h.createService(c, simpleSpec("api", 1))
	global := simpleSpec("agent", 0)
	global.Mode = swarm.ServiceMode{Global: &swarm.GlobalService{}}
	h.createService(c, global)

	names := func(f client.Filters) []string {
		t.Helper()
		res, err := c.ServiceList(ctx, client.ServiceListOptions{Filters: f})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range res.Items {
			out = append(out, s.Spec.Name)
		}
		return out
	}
	for _, tc := range []struct {
		f    client.Filters
		want string
	}{
		{nil, "agent api web"},
		{make(client.Filters).Add("name", "we"), "web"},
		{make(client.Filters).Add("id", webID[:8]), "web"},
		{make(client.Filters).Add("label", "app=api"), "api"},
		{make(client.Filters).Add("label", "app"), "agent api web"},
		{make(client.Filters).Add("mode", "global"), "agent"},
		{make(client.Filters).Add("mode", "replicated").Add("name", "a"), "api"},
	} {
		if got := strings.Join(names(tc.f), " "); got != tc.want {
			t.Errorf("filters %v: %q, want %q", tc.f, got, tc.want)
		}
	}
	_, err := c.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("colour", "red")})
	if !cerrdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "invalid filter 'colour'") {
		t.Errorf("unknown filter: %v", err)
	}

	testutil.Eventually(t, 10*time.Second, "web's 2 tasks running in the list's status", func() bool {
		res, err := c.ServiceList(ctx, client.ServiceListOptions{Status: true, Filters: make(client.Filters).Add("name", "web")})
		if err != nil || len(res.Items) != 1 || res.Items[0].ServiceStatus == nil {
			return false
		}
		st := res.Items[0].ServiceStatus
		return st.DesiredTasks == 2 && st.RunningTasks == 2
	})
	res, err := c.ServiceList(ctx, client.ServiceListOptions{})
	if err != nil || res.Items[0].ServiceStatus != nil {
		t.Errorf("without status=true: %+v, %v", res.Items, err)
	}
}

func TestServiceUpdateChecksTheVersionAndRollsBack(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	ctx := context.Background()
	id := h.createService(c, simpleSpec("web", 1))
	h.b.AddService(func() *types.Service { // a compose dependency Docker cannot express
		s := h.b.Service(id)
		s.Spec.DependsOn = []types.ServiceDependency{{Service: "db", Condition: types.DependencyStarted}}
		return s
	}())
	res, err := c.ServiceInspect(ctx, id, client.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	old := res.Service
	spec := old.Spec
	spec.TaskTemplate.ContainerSpec.Image = "nginx:1.27"
	spec.TaskTemplate.ContainerSpec.Env = []string{"V=2"}
	if _, err := c.ServiceUpdate(ctx, id, client.ServiceUpdateOptions{Version: old.Version, Spec: spec}); err != nil {
		t.Fatal(err)
	}
	s := h.b.Service(id)
	if s.Spec.Task.Container.Image != "nginx:1.27" || len(s.Spec.DependsOn) != 1 {
		t.Fatalf("after update: image %s, depends on %v (kept from the stored spec)", s.Spec.Task.Container.Image, s.Spec.DependsOn)
	}
	spec.TaskTemplate.ContainerSpec.Image = "nginx:stale"
	_, err = c.ServiceUpdate(ctx, id, client.ServiceUpdateOptions{Version: old.Version, Spec: spec})
	if !cerrdefs.IsConflict(err) || !strings.Contains(err.Error(), "changed since it was read") {
		t.Errorf("stale update: %v, want a conflict", err)
	}
	_, err = c.ServiceUpdate(ctx, id, client.ServiceUpdateOptions{Version: old.Version, Spec: spec, Rollback: "previous"})
	if !cerrdefs.IsConflict(err) {
		t.Errorf("stale rollback: %v, want a conflict", err)
	}

	res, err = c.ServiceInspect(ctx, id, client.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Service.PreviousSpec == nil || res.Service.PreviousSpec.TaskTemplate.ContainerSpec.Image != "nginx:alpine" {
		t.Fatalf("previous spec = %+v", res.Service.PreviousSpec)
	}
	if _, err := c.ServiceUpdate(ctx, id, client.ServiceUpdateOptions{Version: res.Service.Version, Spec: res.Service.Spec, Rollback: "previous"}); err != nil {
		t.Fatal(err)
	}
	if !h.b.Called("RollbackService") || h.b.Service(id).Spec.Task.Container.Image != "nginx:alpine" {
		t.Errorf("after rollback: image %s", h.b.Service(id).Spec.Task.Container.Image)
	}
	_, err = c.ServiceUpdate(ctx, id, client.ServiceUpdateOptions{Version: swarm.Version{Index: h.b.Service(id).Version}, Spec: res.Service.Spec, Rollback: "sideways"})
	if !cerrdefs.IsInvalidArgument(err) {
		t.Errorf("rollback=sideways: %v", err)
	}
}

func TestUnsupportedFieldsAreRefusedWithTheirName(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	spec := simpleSpec("web", 1)
	spec.TaskTemplate.ContainerSpec.Privileges = &swarm.Privileges{NoNewPrivileges: true}
	_, err := c.ServiceCreate(context.Background(), client.ServiceCreateOptions{Spec: spec})
	if !cerrdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "hive does not support Spec.TaskTemplate.ContainerSpec.Privileges: remove it") {
		t.Errorf("create with Privileges: %v", err)
	}
	resp := h.rawBody(http.MethodPost, "/v1.44/services/create", `{"Name":"web","TaskTemplate":{"ContainerSpec":{"Image":"nginx","Colour":"red"}}}`)
	var body struct{ Message string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 400 || !strings.Contains(body.Message, `unknown field "Colour"`) {
		t.Errorf("create with a field Docker's spec lacks: %d %q (%v), want a 400 naming it", resp.StatusCode, body.Message, err)
	}
	if h.b.Called("CreateService") {
		t.Error("the backend was called with a spec it cannot honour")
	}
}

// X-Registry-Auth (docker service create --with-registry-auth) reaches
// the managers, which keep it as the service's pull secret; no answer
// carries it back.
func TestRegistryCredentialsBecomeThePullSecret(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	ctx := context.Background()
	const password = "pw-5d2e91"
	auth, err := authconfig.Encode(registry.AuthConfig{Username: "u", Password: password, ServerAddress: "127.0.0.1:5000"})
	if err != nil {
		t.Fatal(err)
	}
	created, err := c.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: simpleSpec("web", 1), EncodedRegistryAuth: auth})
	if err != nil {
		t.Fatalf("create with credentials: %v", err)
	}
	svc, err := h.b.GetService(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.Task.Container.PullSecret == "" {
		t.Fatal("the credential did not become the service's pull secret")
	}
	resp := h.raw("GET", "/v1.44/services/"+created.ID)
	body, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(body), password) {
		t.Fatal("service inspect carries the password")
	}
	// The docker CLI's update without --with-registry-auth keeps it.
	insp, err := c.ServiceInspect(ctx, created.ID, client.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec := insp.Service.Spec
	spec.Labels = map[string]string{"k": "v"}
	if _, err := c.ServiceUpdate(ctx, created.ID, client.ServiceUpdateOptions{Version: insp.Service.Version, Spec: spec, RegistryAuthFrom: swarm.RegistryAuthFromSpec}); err != nil {
		t.Fatal(err)
	}
	if again, _ := h.b.GetService(ctx, created.ID); again.Spec.Task.Container.PullSecret != svc.Spec.Task.Container.PullSecret {
		t.Fatalf("an update without credentials changed the pull secret: %q", again.Spec.Task.Container.PullSecret)
	}

	for _, tc := range []struct{ name, header, want string }{
		{"not base64", "%%%", "invalid X-Registry-Auth header"},
		{"registry token", mustEncode(t, registry.AuthConfig{RegistryToken: "tok"}), "registry bearer token"},
		{"user without password", mustEncode(t, registry.AuthConfig{Username: "u", ServerAddress: "127.0.0.1:5000"}), "no password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: simpleSpec("bad", 1), EncodedRegistryAuth: tc.header})
			if !cerrdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want a 400 with %q", err, tc.want)
			}
		})
	}
	empty, _ := authconfig.Encode(registry.AuthConfig{ServerAddress: "https://index.docker.io/v1/"})
	if _, err := c.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: simpleSpec("anon", 1), EncodedRegistryAuth: empty}); err != nil {
		t.Errorf("create with an address and no credentials: %v", err)
	}
	if anon, _ := h.b.GetService(ctx, "anon"); anon == nil || anon.Spec.Task.Container.PullSecret != "" {
		t.Errorf("a header without credentials made a pull secret: %+v", anon)
	}
}

func mustEncode(t *testing.T, ac registry.AuthConfig) string {
	t.Helper()
	s, err := authconfig.Encode(ac)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestServiceLogsAreMultiplexedWithDetails(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	ctx := context.Background()
	id := h.createService(c, simpleSpec("web", 1))
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	h.b.Logs[id] = []api.LogLine{
		{TaskID: "task1", NodeID: selfID, Time: t0, Stream: "stdout", Line: "hello"},
		{TaskID: "task1", NodeID: selfID, Time: t0.Add(time.Second), Stream: "stderr", Line: "oops"},
		{TaskID: "task2", NodeID: selfID, Time: t0.Add(2 * time.Second), Stream: "stdout", Line: "bye"},
	}
	_, _ = h.b.Info(ctx) // takes the backend's lock: the server's read of Logs comes after this write

	read := func(opts client.ServiceLogsOptions) (string, string, error) {
		t.Helper()
		rc, err := c.ServiceLogs(ctx, "web", opts)
		if err != nil {
			return "", "", err
		}
		defer rc.Close()
		var out, errb bytes.Buffer
		_, err = stdcopy.StdCopy(&out, &errb, rc)
		return out.String(), errb.String(), err
	}
	out, errs, err := read(client.ServiceLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil || out != "hello\nbye\n" || errs != "oops\n" {
		t.Errorf("plain: %q %q %v", out, errs, err)
	}
	out, _, err = read(client.ServiceLogsOptions{ShowStdout: true, Details: true, Timestamps: true, Tail: "1"})
	want := "2024-05-01T10:00:02.000000000Z com.docker.swarm.node.id=" + selfID + ",com.docker.swarm.service.id=" + id + ",com.docker.swarm.task.id=task2 bye\n"
	if err != nil || out != want {
		t.Errorf("details, timestamps, tail 1:\n got %q\nwant %q (%v)", out, want, err)
	}
	out, _, err = read(client.ServiceLogsOptions{ShowStdout: true, Since: "1714557601"})
	if err != nil || out != "bye\n" {
		t.Errorf("since: %q %v", out, err)
	}
	if _, _, err := read(client.ServiceLogsOptions{}); !cerrdefs.IsInvalidArgument(err) {
		t.Errorf("neither stream: %v", err)
	}
	if _, _, err := read(client.ServiceLogsOptions{ShowStdout: true, Tail: "-3"}); !cerrdefs.IsInvalidArgument(err) {
		t.Errorf("negative tail: %v", err)
	}
	if _, err := c.ServiceLogs(ctx, "nosuch", client.ServiceLogsOptions{ShowStdout: true}); !cerrdefs.IsNotFound(err) {
		t.Errorf("missing service: %v", err)
	}
}

func TestServiceLogsErrorAfterTheFirstLineIsASystemErrFrame(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	ctx := context.Background()
	id := h.createService(c, simpleSpec("web", 1))
	h.b.Logs[id] = []api.LogLine{{TaskID: "t", Stream: "stdout", Line: "one"}}
	h.b.LogsErr = context.DeadlineExceeded
	_, _ = h.b.Info(ctx)
	rc, err := c.ServiceLogs(ctx, id, client.ServiceLogsOptions{ShowStdout: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out bytes.Buffer
	_, err = stdcopy.StdCopy(&out, &out, rc)
	if out.String() != "one\n" || err == nil || !strings.Contains(err.Error(), "Error grabbing logs") {
		t.Errorf("%q, %v", out.String(), err)
	}
}
