package dockerapi

import (
	"bytes"
	"context"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/testutil"
)

func TestTaskToDockerCarriesStatusAndNetworks(t *testing.T) {
	ts := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	addr := netip.MustParsePrefix("10.0.1.5/24")
	task := &types.Task{ID: "task1", Meta: types.Meta{Version: 7, CreatedAt: ts}, ServiceID: "svc1", ServiceName: "web", Slot: 2, NodeID: "node1",
		Spec: types.TaskSpec{Container: types.ContainerSpec{Image: "nginx"}}, SpecVersion: 3,
		Ports: []types.PortConfig{{Protocol: "tcp", TargetPort: 80, PublishedPort: 8080, PublishMode: types.PublishHost},
			{Protocol: "tcp", TargetPort: 443, PublishedPort: 443, PublishMode: types.PublishIngress}},
		Networks:     []types.NetworkAttachment{{NetworkID: "net1", Addresses: []netip.Prefix{addr}}},
		DesiredState: types.TaskStateShutdown,
		Status: types.TaskStatus{State: types.TaskStateFailed, Timestamp: ts, Message: "started", Err: "exit 3",
			ContainerID: "c1", PID: 0, ExitCode: 3}}
	d := taskToDocker(task)
	if d.ID != "task1" || d.Version.Index != 7 || d.ServiceID != "svc1" || d.Slot != 2 || d.NodeID != "node1" ||
		d.Spec.ContainerSpec.Image != "nginx" || d.DesiredState != swarm.TaskStateShutdown {
		t.Errorf("task = %+v", d)
	}
	st := d.Status
	if st.State != swarm.TaskStateFailed || !st.Timestamp.Equal(ts) || st.Err != "exit 3" || st.Message != "started" ||
		st.ContainerStatus == nil || st.ContainerStatus.ContainerID != "c1" || st.ContainerStatus.ExitCode != 3 {
		t.Errorf("status = %+v", st)
	}
	if len(st.PortStatus.Ports) != 1 || st.PortStatus.Ports[0].PublishedPort != 8080 {
		t.Errorf("port status = %+v, want the host-mode port only", st.PortStatus)
	}
	if len(d.NetworksAttachments) != 1 || d.NetworksAttachments[0].Network.ID != "net1" || d.NetworksAttachments[0].Addresses[0] != addr ||
		len(d.Spec.Networks) != 1 || d.Spec.Networks[0].Target != "net1" {
		t.Errorf("networks = %+v, spec networks %+v", d.NetworksAttachments, d.Spec.Networks)
	}
	for s := types.TaskStateNew; s <= types.TaskStateOrphaned; s++ {
		if got := taskToDocker(&types.Task{Status: types.TaskStatus{State: s}}).Status.State; string(got) != s.String() {
			t.Errorf("state %s is %s in Docker", s, got)
		}
	}
}

func TestTaskListFiltersInspectAndLogs(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	ctx := context.Background()
	webID := h.createService(c, simpleSpec("web", 2))
	h.createService(c, simpleSpec("api", 1))
	testutil.Eventually(t, 10*time.Second, "3 tasks running", func() bool {
		res, err := c.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("desired-state", "running")})
		if err != nil {
			return false
		}
		n := 0
		for _, tk := range res.Items {
			if tk.Status.State == swarm.TaskStateRunning {
				n++
			}
		}
		return n == 3
	})
	list := func(f client.Filters) []swarm.Task {
		t.Helper()
		res, err := c.TaskList(ctx, client.TaskListOptions{Filters: f})
		if err != nil {
			t.Fatalf("filters %v: %v", f, err)
		}
		return res.Items
	}
	slots := func(ts []swarm.Task) string {
		var out []string
		for _, tk := range ts {
			name := "api"
			if tk.ServiceID == webID {
				name = "web"
			}
			out = append(out, name+"."+string(rune('0'+tk.Slot)))
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		f    client.Filters
		want string
	}{
		{make(client.Filters).Add("service", "web"), "web.1 web.2"},
		{make(client.Filters).Add("service", webID), "web.1 web.2"},
		{make(client.Filters).Add("service", "web", "api"), "api.1 web.1 web.2"},
		{make(client.Filters).Add("node", "laptop").Add("service", "api"), "api.1"},
		{make(client.Filters).Add("node", selfID), "api.1 web.1 web.2"},
		{make(client.Filters).Add("name", "web.2"), "web.2"},
		{make(client.Filters).Add("desired-state", "shutdown"), ""},
		{make(client.Filters).Add("_up-to-date", "true").Add("service", "api"), "api.1"},
	} {
		if got := slots(list(tc.f)); got != tc.want {
			t.Errorf("filters %v: %q, want %q", tc.f, got, tc.want)
		}
	}
	web := list(make(client.Filters).Add("service", "web"))
	if got := slots(list(make(client.Filters).Add("id", web[0].ID[:10]))); got != slots(web[:1]) {
		t.Errorf("id prefix: %q", got)
	}

	// After an update the old tasks are no longer up to date.
	res, err := c.ServiceInspect(ctx, webID, client.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec := res.Service.Spec
	spec.TaskTemplate.ForceUpdate++
	if _, err := c.ServiceUpdate(ctx, webID, client.ServiceUpdateOptions{Version: res.Service.Version, Spec: spec}); err != nil {
		t.Fatal(err)
	}
	upToDate := make(client.Filters).Add("_up-to-date", "1").Add("service", "web")
	testutil.Eventually(t, 10*time.Second, "web's 2 tasks of the new spec", func() bool {
		n := 0
		for _, tk := range list(upToDate) {
			if tk.Spec.ForceUpdate == spec.TaskTemplate.ForceUpdate {
				n++
			}
		}
		return n == 2
	})
	up := list(upToDate)
	if len(up) != 2 {
		t.Errorf("up-to-date tasks of web: %d, want 2", len(up))
	}
	for _, tk := range up {
		if tk.Spec.ForceUpdate != spec.TaskTemplate.ForceUpdate {
			t.Errorf("up-to-date task %s has ForceUpdate %d", tk.ID, tk.Spec.ForceUpdate)
		}
	}
	// A scale leaves the tasks up to date (docker service scale waits
	// for the replicas among them).
	res, err = c.ServiceInspect(ctx, webID, client.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scaled := res.Service.Spec
	three := uint64(3)
	scaled.Mode.Replicated.Replicas = &three
	if _, err := c.ServiceUpdate(ctx, webID, client.ServiceUpdateOptions{Version: res.Service.Version, Spec: scaled}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "web's 3 up-to-date tasks after a scale, the 2 before it among them", func() bool {
		ids := map[string]bool{}
		for _, tk := range list(upToDate) {
			ids[tk.ID] = true
		}
		return len(ids) == 3 && ids[up[0].ID] && ids[up[1].ID]
	})

	for _, tc := range []struct {
		f    client.Filters
		want func(error) bool
		msg  string
	}{
		{make(client.Filters).Add("colour", "red"), cerrdefs.IsInvalidArgument, "invalid filter 'colour'"},
		{make(client.Filters).Add("desired-state", "bored"), cerrdefs.IsInvalidArgument, "Invalid desired-state filter: 'bored'"},
		{make(client.Filters).Add("service", "nosuch"), cerrdefs.IsNotFound, "nosuch"},
		{make(client.Filters).Add("node", "nosuch"), cerrdefs.IsNotFound, "nosuch"},
	} {
		_, err := c.TaskList(ctx, client.TaskListOptions{Filters: tc.f})
		if !tc.want(err) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("filters %v: %v, want %q", tc.f, err, tc.msg)
		}
	}

	got, err := c.TaskInspect(ctx, web[0].ID[:12], client.TaskInspectOptions{})
	if err != nil || got.Task.ID != web[0].ID || got.Task.ServiceID != webID {
		t.Errorf("inspect by prefix: %+v, %v", got.Task, err)
	}
	if _, err := c.TaskInspect(ctx, "nosuch", client.TaskInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("inspect nosuch: %v", err)
	}

	h.b.Logs[webID] = []api.LogLine{
		{TaskID: web[0].ID, Stream: "stdout", Line: "mine"},
		{TaskID: "other", Stream: "stdout", Line: "not mine"},
	}
	_, _ = h.b.Info(ctx) // orders this write before the server's read
	rc, err := c.TaskLogs(ctx, web[0].ID, client.TaskLogsOptions{ShowStdout: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, rc); err != nil || out.String() != "mine\n" {
		t.Errorf("task logs: %q, %v", out.String(), err)
	}
}
