package commands

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/types"
)

func TestFormatPorts(t *testing.T) {
	in := func(pub, target uint32) types.PortConfig {
		return types.PortConfig{Protocol: types.ProtocolTCP, PublishedPort: pub, TargetPort: target, PublishMode: types.PublishIngress}
	}
	udp := in(53, 53)
	udp.Protocol = types.ProtocolUDP
	host := types.PortConfig{Protocol: types.ProtocolTCP, PublishedPort: 8443, TargetPort: 443, PublishMode: types.PublishHost}
	tests := []struct {
		name  string
		ports []types.PortConfig
		want  string
	}{
		{"none", nil, ""},
		{"one", []types.PortConfig{in(8080, 80)}, "*:8080->80/tcp"},
		{"range", []types.PortConfig{in(8081, 81), in(8080, 80), in(8082, 82)}, "*:8080-8082->80-82/tcp"},
		{"not consecutive", []types.PortConfig{in(8080, 80), in(9090, 90)}, "*:8080->80/tcp, *:9090->90/tcp"},
		{"protocols", []types.PortConfig{udp, in(53, 53)}, "*:53->53/tcp, *:53->53/udp"},
		{"host mode", []types.PortConfig{in(80, 80), host}, "*:80->80/tcp, 8443->443/tcp (host)"},
		{"not allocated yet", []types.PortConfig{in(0, 80)}, "*:?->80/tcp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatPorts(tt.ports); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRenderTasks(t *testing.T) {
	now := time.Date(2024, 5, 1, 10, 5, 0, 0, time.UTC)
	mk := func(id string, slot uint64, created time.Duration, desired, state types.TaskState, err string) *types.Task {
		return &types.Task{ID: id, ServiceID: "svc1", ServiceName: "web", Slot: slot, NodeID: "node1aaaaaaaaaaaaaaaaaaaa",
			Meta: types.Meta{CreatedAt: now.Add(-created)},
			Spec: types.TaskSpec{Container: types.ContainerSpec{Image: "nginx:alpine@sha256:abcdef"}},
			Ports: []types.PortConfig{{Protocol: "tcp", PublishedPort: 8443, TargetPort: 443, PublishMode: types.PublishHost},
				{Protocol: "tcp", PublishedPort: 8080, TargetPort: 80, PublishMode: types.PublishIngress}},
			DesiredState: desired,
			Status:       types.TaskStatus{State: state, Timestamp: now.Add(-created), Err: err}}
	}
	tasks := []*types.Task{
		mk("task2old00000000000000000", 2, 3*time.Minute, types.TaskStateShutdown, types.TaskStateFailed, "task: non-zero exit (1): the process ended"),
		mk("task1new00000000000000000", 1, 5*time.Second, types.TaskStateRunning, types.TaskStateRunning, ""),
		mk("task2new00000000000000000", 2, 30*time.Second, types.TaskStateRunning, types.TaskStatePending, "no suitable node (1 node not available)"),
	}
	unassigned := mk("task3new00000000000000000", 3, time.Second, types.TaskStateRunning, types.TaskStatePending, "")
	unassigned.NodeID = ""
	tasks = append(tasks, unassigned)
	sortTasks(tasks)

	var out bytes.Buffer
	if err := renderTasks(&out, tasks, map[string]string{"node1aaaaaaaaaaaaaaaaaaaa": "laptop"}, true, now); err != nil {
		t.Fatal(err)
	}
	want := "" +
		`ID             NAME        IMAGE          NODE     DESIRED STATE   CURRENT STATE            ERROR                              PORTS` + "\n" +
		`task1new0000   web.1       nginx:alpine   laptop   Running         Running 5 seconds ago                                       *:8443->443/tcp` + "\n" +
		`task2new0000   web.2       nginx:alpine   laptop   Running         Pending 30 seconds ago   "no suitable node (1 node not …"   *:8443->443/tcp` + "\n" +
		`task2old0000    \_ web.2   nginx:alpine   laptop   Shutdown        Failed 3 minutes ago     "task: non-zero exit (1): the …"   *:8443->443/tcp` + "\n" +
		`task3new0000   web.3       nginx:alpine            Running         Pending 1 second ago                                        *:8443->443/tcp` + "\n"
	if out.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", out.String(), want)
	}

	out.Reset()
	if err := renderTasks(&out, tasks[:1], nil, false, now); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "task1new00000000000000000   web.1   nginx:alpine@sha256:abcdef   node1aaaaaaaaaaaaaaaaaaaa") {
		t.Errorf("--no-trunc table:\n%s", out.String())
	}
}

func TestRenderServicesAndPlugins(t *testing.T) {
	web := &types.Service{ID: "abcdefghijklmnopqrstuvwxy", Spec: types.ServiceSpec{Name: "web", Mode: types.ModeReplicated, Replicas: 3,
		Task:     types.TaskSpec{Container: types.ContainerSpec{Image: "nginx:1.25"}},
		Endpoint: types.EndpointSpec{Ports: []types.PortConfig{{Protocol: "tcp", TargetPort: 80, PublishMode: types.PublishIngress}}}},
		Endpoint: types.Endpoint{Ports: []types.PortConfig{{Protocol: "tcp", PublishedPort: 30001, TargetPort: 80, PublishMode: types.PublishIngress}}}}
	agent := &types.Service{ID: "zyxwvutsrqponmlkjihgfedcb", Spec: types.ServiceSpec{Name: "agent", Mode: types.ModeGlobal,
		Task: types.TaskSpec{Container: types.ContainerSpec{Image: "busybox"}}}}
	var out bytes.Buffer
	err := renderServices(&out, []api.ServiceSummary{{Service: web, RunningTasks: 2, DesiredTasks: 3}, {Service: agent, RunningTasks: 4, DesiredTasks: 4}})
	if err != nil {
		t.Fatal(err)
	}
	want := "" +
		"ID             NAME    MODE         REPLICAS   IMAGE        PORTS\n" +
		"abcdefghijkl   web     replicated   2/3        nginx:1.25   *:30001->80/tcp\n" +
		"zyxwvutsrqpo   agent   global       4/4        busybox\n"
	if out.String() != want {
		t.Errorf("service ls:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestRenderInfo(t *testing.T) {
	now := time.Date(2024, 5, 1, 10, 5, 0, 0, time.UTC)
	info := &api.Info{NodeID: "n1", Hostname: "laptop", Role: "manager", LeaderID: "n2", Managers: 3, Nodes: 5,
		Services: 2, Tasks: 7, TasksRunning: 6, RaftIndex: 42, StartedAt: now.Add(-5 * time.Minute)}
	var out bytes.Buffer
	if err := renderInfo(&out, info, now); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Node ID:     n1\n", "Leader:      no (leader: n2)\n", "Tasks:       7 (6 running)\n", "Raft index:  42\n", "(5 minutes ago)\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("info lacks %q:\n%s", want, out.String())
		}
	}
}

func TestSmallFormatters(t *testing.T) {
	for nano, want := range map[int64]string{1_500_000_000: "1.5", 2_000_000_000: "2", 250_000_000: "0.25", 1: "0.000000001"} {
		if got := formatCPU(nano); got != want {
			t.Errorf("formatCPU(%d) = %q, want %q", nano, got, want)
		}
	}
	if got := formatBytes(512 << 20); got != "512MiB" {
		t.Errorf("formatBytes = %q", got)
	}
	if got := taskError("short", true); got != `"short"` {
		t.Errorf("taskError = %q", got)
	}
	if got := ago(time.Unix(100, 0), time.Unix(40, 0)); got != "about a minute ago" {
		t.Errorf("ago = %q", got)
	}
}
