package networks

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/network"
)

func task(id, node, net, addr string, state types.TaskState) *types.Task {
	t := &types.Task{ID: id, ServiceID: "s-" + id[:1], NodeID: node, DesiredState: types.TaskStateRunning}
	t.Status.State = state
	t.Status.Message = "noise that must not reach the view"
	if net != "" {
		t.Networks = []types.NetworkAttachment{{NetworkID: net, Addresses: []netip.Prefix{netip.MustParsePrefix(addr)}}}
	}
	return t
}

func TestComputeNodeView(t *testing.T) {
	nets := []*types.Network{{ID: "n2", Spec: types.NetworkSpec{Name: "back"}}, {ID: "n1", Spec: types.NetworkSpec{Name: "front"}}}
	services := []*types.Service{
		{ID: "s-w", Spec: types.ServiceSpec{Name: "web", Networks: []types.NetworkAttachmentConfig{{Target: "n1"}}}},
		{ID: "s-d", Spec: types.ServiceSpec{Name: "db", Networks: []types.NetworkAttachmentConfig{{Target: "n2"}}}},
		{ID: "s-x", Spec: types.ServiceSpec{Name: "plain"}},
	}
	tasks := []*types.Task{
		task("w1", "a", "n1", "10.0.0.3/24", types.TaskStateRunning),
		task("w2", "b", "n1", "10.0.0.4/24", types.TaskStateStarting),
		task("w3", "b", "n1", "10.0.0.5/24", types.TaskStateFailed),  // ended: not a peer
		task("d1", "b", "n2", "10.0.1.3/24", types.TaskStateRunning), // on a network node a does not have
		task("x1", "a", "", "", types.TaskStateRunning),
	}
	nodes := []*types.Node{
		{ID: "a", Status: types.NodeStatus{Addr: "192.168.1.1:4242"}},
		{ID: "b", Status: types.NodeStatus{Addr: "192.168.1.2:4242"}, Description: types.NodeDescription{DataPath: types.DataPath{Port: 4790}}},
	}
	v := ComputeNodeView("a", services, tasks, nodes, nets)
	if len(v.Networks) != 1 || v.Networks[0].ID != "n1" || v.Network("n1") == nil || v.Network("n2") != nil {
		t.Fatalf("networks = %+v, want front only", v.Networks)
	}
	if len(v.Services) != 1 || v.Services[0].Spec.Name != "web" {
		t.Errorf("services = %+v, want web only", v.Services)
	}
	var ids []string
	for _, tk := range v.Tasks {
		ids = append(ids, tk.ID)
		if tk.Status.Message != "" {
			t.Errorf("task %s keeps its status message: the view must change only with what it needs", tk.ID)
		}
	}
	if !reflect.DeepEqual(ids, []string{"w1", "w2"}) {
		t.Errorf("tasks = %v, want the live tasks on front", ids)
	}
	want := []network.Peer{{Address: netip.MustParseAddr("10.0.0.4"), MAC: "02:42:0a:00:00:04", NodeAddr: netip.MustParseAddr("192.168.1.2"), NodePort: 4790}}
	if got := v.Peers("n1", "a"); !reflect.DeepEqual(got, want) {
		t.Errorf("peers = %+v, want %+v", got, want)
	}
	if again := ComputeNodeView("a", services, tasks, nodes, nets); !reflect.DeepEqual(again, v) {
		t.Errorf("two views of one state differ")
	}
	if v := ComputeNodeView("c", services, tasks, nodes, nets); len(v.Networks)+len(v.Tasks) != 0 {
		t.Errorf("a node with no task on a network has a view: %+v", v)
	}
}

func TestEndpointPrefersTheDataPath(t *testing.T) {
	n := &types.Node{ID: "a", Status: types.NodeStatus{Addr: "127.0.0.2:4242"},
		Description: types.NodeDescription{DataPath: types.DataPath{Addr: "10.9.0.1", Port: 4800}}}
	if e, ok := Endpoint(n); !ok || e.Addr.String() != "10.9.0.1" || e.Port != 4800 {
		t.Errorf("Endpoint = %+v %v", e, ok)
	}
	n.Description.DataPath.Addr = ""
	if e, ok := Endpoint(n); !ok || e.Addr.String() != "127.0.0.2" {
		t.Errorf("Endpoint without data path = %+v %v, want the advertise host", e, ok)
	}
	n.Status.Addr = "node-a.example:4242"
	if _, ok := Endpoint(n); ok {
		t.Errorf("a host name is no underlay address")
	}
}
