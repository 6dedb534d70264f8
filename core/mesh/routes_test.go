package mesh

import (
	"reflect"
	"testing"

	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

func svc(id, name string, ports ...types.PortConfig) *types.Service {
	s := &types.Service{ID: id, Spec: types.ServiceSpec{Name: name}}
	s.Endpoint.Ports = ports
	return s
}

func ingress(published, target uint32) types.PortConfig {
	return types.PortConfig{Protocol: types.ProtocolTCP, PublishedPort: published, TargetPort: target, PublishMode: types.PublishIngress}
}

func task(id, serviceID string, slot uint64, desired, observed types.TaskState, addrs ...string) *types.Task {
	return &types.Task{
		ID: id, ServiceID: serviceID, Slot: slot, NodeID: "node-1",
		DesiredState: desired,
		Status:       types.TaskStatus{State: observed, Addresses: addrs},
	}
}

func running(id, serviceID string, slot uint64, addr string) *types.Task {
	return task(id, serviceID, slot, types.TaskStateRunning, types.TaskStateRunning, addr)
}

func TestRoutes(t *testing.T) {
	const (
		run      = types.TaskStateRunning
		shutdown = types.TaskStateShutdown
		starting = types.TaskStateStarting
	)
	web := svc("s1", "web", ingress(8080, 80))
	tests := []struct {
		name     string
		services []*types.Service
		tasks    []*types.Task
		want     map[PortKey]Route
	}{
		{
			name: "no services",
			want: map[PortKey]Route{},
		},
		{
			name:     "service without tasks publishes an empty route",
			services: []*types.Service{web},
			want:     map[PortKey]Route{tcpKey(8080): {ServiceID: "s1", ServiceName: "web"}},
		},
		{
			name:     "only tasks desired and observed running with an address",
			services: []*types.Service{web},
			tasks: []*types.Task{
				task("a", "s1", 1, run, run, "10.0.0.1"),
				task("b", "s1", 2, shutdown, run, "10.0.0.2"), // being stopped
				task("c", "s1", 3, run, starting, "10.0.0.3"), // not up yet
				task("d", "s1", 4, run, run),                  // no address
				task("e", "s1", 5, shutdown, shutdown, "10.0.0.5"),
				task("f", "s1", 6, run, types.TaskStateFailed, "10.0.0.6"),
			},
			want: map[PortKey]Route{tcpKey(8080): {ServiceID: "s1", ServiceName: "web", Backends: []Backend{
				{TaskID: "a", NodeID: "node-1", Addr: "10.0.0.1:80"},
			}}},
		},
		{
			name:     "ordered by slot then task ID",
			services: []*types.Service{web},
			tasks: []*types.Task{
				running("z", "s1", 2, "10.0.0.4"),
				running("y", "s1", 3, "10.0.0.3"),
				running("b", "s1", 1, "10.0.0.2"),
				running("a", "s1", 1, "10.0.0.1"),
			},
			want: map[PortKey]Route{tcpKey(8080): {ServiceID: "s1", ServiceName: "web", Backends: []Backend{
				{TaskID: "a", NodeID: "node-1", Addr: "10.0.0.1:80"},
				{TaskID: "b", NodeID: "node-1", Addr: "10.0.0.2:80"},
				{TaskID: "z", NodeID: "node-1", Addr: "10.0.0.4:80"},
				{TaskID: "y", NodeID: "node-1", Addr: "10.0.0.3:80"},
			}}},
		},
		{
			name: "host-mode and udp ports are ignored",
			services: []*types.Service{svc("s1", "web",
				types.PortConfig{Protocol: types.ProtocolTCP, PublishedPort: 8080, TargetPort: 80, PublishMode: types.PublishHost},
				types.PortConfig{Protocol: types.ProtocolUDP, PublishedPort: 5353, TargetPort: 53, PublishMode: types.PublishIngress},
			)},
			tasks: []*types.Task{running("a", "s1", 1, "10.0.0.1")},
			want:  map[PortKey]Route{},
		},
		{
			name: "multiple ports and services, each task on each port's target",
			services: []*types.Service{
				svc("s1", "web", ingress(8080, 80), ingress(8443, 443)),
				svc("s2", "api", ingress(9000, 9000)),
			},
			tasks: []*types.Task{
				running("a", "s1", 1, "10.0.0.1"),
				running("b", "s2", 1, "10.0.1.1"),
				running("c", "s2", 2, "10.0.1.2"),
				running("x", "gone", 1, "10.0.9.9"), // service deleted
			},
			want: map[PortKey]Route{
				tcpKey(8080): {ServiceID: "s1", ServiceName: "web", Backends: []Backend{{TaskID: "a", NodeID: "node-1", Addr: "10.0.0.1:80"}}},
				tcpKey(8443): {ServiceID: "s1", ServiceName: "web", Backends: []Backend{{TaskID: "a", NodeID: "node-1", Addr: "10.0.0.1:443"}}},
				tcpKey(9000): {ServiceID: "s2", ServiceName: "api", Backends: []Backend{
					{TaskID: "b", NodeID: "node-1", Addr: "10.0.1.1:9000"},
					{TaskID: "c", NodeID: "node-1", Addr: "10.0.1.2:9000"},
				}},
			},
		},
		{
			name: "empty protocol and mode mean tcp ingress",
			services: []*types.Service{svc("s1", "web",
				types.PortConfig{PublishedPort: 8080, TargetPort: 80})},
			tasks: []*types.Task{running("a", "s1", 1, "10.0.0.1")},
			want: map[PortKey]Route{tcpKey(8080): {ServiceID: "s1", ServiceName: "web", Backends: []Backend{
				{TaskID: "a", NodeID: "node-1", Addr: "10.0.0.1:80"},
			}}},
		},
		{
			name: "unallocated port is skipped, spec ports used until allocation",
			services: []*types.Service{
				svc("s1", "web", ingress(0, 80)),
				{ID: "s2", Spec: types.ServiceSpec{Name: "api", Endpoint: types.EndpointSpec{
					Ports: []types.PortConfig{ingress(9000, 90), ingress(0, 91)},
				}}},
			},
			tasks: []*types.Task{running("b", "s2", 1, "10.0.1.1")},
			want: map[PortKey]Route{tcpKey(9000): {ServiceID: "s2", ServiceName: "api", Backends: []Backend{
				{TaskID: "b", NodeID: "node-1", Addr: "10.0.1.1:90"},
			}}},
		},
		{
			name:     "address prefix stripped, ipv6 bracketed, task's own target port wins",
			services: []*types.Service{svc("s1", "web", ingress(8080, 8000))},
			tasks: func() []*types.Task {
				old := running("a", "s1", 1, "10.0.0.1/24")
				old.Ports = []types.PortConfig{ingress(8080, 80)}
				v6 := running("b", "s1", 2, "fd00::2/64")
				return []*types.Task{old, v6}
			}(),
			want: map[PortKey]Route{tcpKey(8080): {ServiceID: "s1", ServiceName: "web", Backends: []Backend{
				{TaskID: "a", NodeID: "node-1", Addr: "10.0.0.1:80"},
				{TaskID: "b", NodeID: "node-1", Addr: "[fd00::2]:8000"},
			}}},
		},
		{
			name: "port claimed twice goes to the smaller service ID",
			services: []*types.Service{
				svc("s2", "late", ingress(8080, 80)),
				svc("s1", "early", ingress(8080, 80)),
			},
			want: map[PortKey]Route{tcpKey(8080): {ServiceID: "s1", ServiceName: "early"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Routes(tc.services, tc.tasks)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Routes() =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestRoutesDoesNotReorderItsInput(t *testing.T) {
	services := []*types.Service{svc("s2", "b", ingress(2, 2)), svc("s1", "a", ingress(1, 1))}
	tasks := []*types.Task{running("z", "s1", 2, "10.0.0.2"), running("a", "s1", 1, "10.0.0.1")}
	Routes(services, tasks)
	if services[0].ID != "s2" || tasks[0].ID != "z" {
		t.Errorf("Routes reordered its arguments: services[0]=%s tasks[0]=%s", services[0].ID, tasks[0].ID)
	}
}

func TestClusterRoutesCarryNodeAddresses(t *testing.T) {
	services := []*types.Service{svc("s1", "web", ingress(8080, 80))}
	a, b, c := running("a", "s1", 1, "10.0.0.1"), running("b", "s1", 2, "10.0.0.2"), running("c", "s1", 3, "10.0.0.3")
	b.NodeID, c.NodeID = "node-2", "node-gone"
	nodes := []*types.Node{nodeAt("node-1", "192.168.0.1:4242"), nodeAt("node-2", "192.168.0.2:4242"), nil}
	got := ClusterRoutes(services, []*types.Task{a, b, c}, nodes)
	want := map[PortKey]Route{tcpKey(8080): {ServiceID: "s1", ServiceName: "web", Backends: []Backend{
		{TaskID: "a", NodeID: "node-1", Addr: "10.0.0.1:80", NodeAddr: "192.168.0.1:4242"},
		{TaskID: "b", NodeID: "node-2", Addr: "10.0.0.2:80", NodeAddr: "192.168.0.2:4242"},
		{TaskID: "c", NodeID: "node-gone", Addr: "10.0.0.3:80"},
	}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ClusterRoutes() =\n%+v\nwant\n%+v", got, want)
	}
}

func nodeAt(id, addr string) *types.Node {
	return &types.Node{ID: id, Status: types.NodeStatus{Addr: addr}}
}

func TestRouteEvent(t *testing.T) {
	up := running("a", "s1", 1, "10.0.0.1")
	pending := task("a", "s1", 1, types.TaskStateRunning, types.TaskStatePending)
	stopping := task("a", "s1", 1, types.TaskStateShutdown, types.TaskStateRunning, "10.0.0.1")
	noAddr := task("a", "s1", 1, types.TaskStateRunning, types.TaskStateRunning)
	tests := []struct {
		name string
		ev   store.Event
		want bool
	}{
		{"reset", store.Event{Action: store.ActionReset}, true},
		{"service update", store.Event{Action: store.ActionUpdate, Service: svc("s1", "web")}, true},
		{"running task created", store.Event{Action: store.ActionCreate, Task: up}, true},
		{"pending task created", store.Event{Action: store.ActionCreate, Task: pending}, false},
		{"pending to assigned", store.Event{Action: store.ActionUpdate, Task: pending, OldTask: pending}, false},
		{"running without an address", store.Event{Action: store.ActionUpdate, Task: noAddr, OldTask: pending}, false},
		{"task starts running", store.Event{Action: store.ActionUpdate, Task: up, OldTask: noAddr}, true},
		{"task told to stop", store.Event{Action: store.ActionUpdate, Task: stopping, OldTask: up}, true},
		{"update without old value", store.Event{Action: store.ActionUpdate, Task: pending}, true},
		{"running task deleted", store.Event{Action: store.ActionDelete, Task: up}, true},
		{"node update keeping its address", store.Event{Action: store.ActionUpdate, Node: nodeAt("n1", "10.0.0.1:4242"), OldNode: nodeAt("n1", "10.0.0.1:4242")}, false},
		{"node address changed", store.Event{Action: store.ActionUpdate, Node: nodeAt("n1", "10.0.0.2:4242"), OldNode: nodeAt("n1", "10.0.0.1:4242")}, true},
		{"node created", store.Event{Action: store.ActionCreate, Node: nodeAt("n2", "10.0.0.3:4242")}, true},
		{"node removed", store.Event{Action: store.ActionDelete, Node: nodeAt("n2", "10.0.0.3:4242")}, true},
		{"secret", store.Event{Action: store.ActionCreate, Secret: &types.Secret{ID: "x"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := RouteEvent(tc.ev); got != tc.want {
				t.Errorf("RouteEvent() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRouteEqual(t *testing.T) {
	a := Route{ServiceID: "s1", ServiceName: "web", Backends: []Backend{{TaskID: "a", NodeID: "n1", Addr: "10.0.0.1:80", NodeAddr: "n1:4242"}}}
	moved := a
	moved.Backends = []Backend{{TaskID: "a", NodeID: "n1", Addr: "10.0.0.1:80", NodeAddr: "n1:4243"}}
	renamed := a
	renamed.ServiceName = "api"
	if !a.Equal(a) || a.Equal(moved) || a.Equal(renamed) || a.Equal(Route{ServiceID: "s1", ServiceName: "web"}) {
		t.Error("Route.Equal: want equal only for the same service and backends")
	}
}
