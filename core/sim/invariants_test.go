package sim

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/hiveorch/hive/core/agent"
	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// The checks must catch what they claim to: each is run on hand-built
// states, healthy and broken.

const (
	running  = types.TaskStateRunning
	ready    = types.TaskStateReady
	shutdown = types.TaskStateShutdown
	remove   = types.TaskStateRemove
)

type state struct {
	nodes    []*types.Node
	services []*types.Service
	tasks    []*types.Task
}

func node(id string, a types.Availability) *types.Node {
	return &types.Node{ID: id, Spec: types.NodeSpec{Role: types.RoleWorker, Availability: a},
		Status: types.NodeStatus{State: types.NodeStateReady}}
}

func svcReplicated(id string, replicas uint64) *types.Service {
	return &types.Service{ID: id, Spec: ReplicatedSpec(id, replicas)}
}

func svcGlobal(id string) *types.Service { return &types.Service{ID: id, Spec: GlobalSpec(id)} }

func tk(id, service string, slot uint64, nodeID string, desired, observed types.TaskState) *types.Task {
	return &types.Task{ID: id, ServiceID: service, ServiceName: service, Slot: slot, NodeID: nodeID,
		DesiredState: desired, Status: types.TaskStatus{State: observed}}
}

// view loads st into a memory store and runs fn on it.
func view(t *testing.T, st state, fn func(store.ReadTx)) {
	t.Helper()
	s := store.NewMemory(clock.NewFake(Epoch))
	defer s.Close()
	err := s.Update(context.Background(), func(tx store.Tx) error {
		for _, n := range st.nodes {
			if err := tx.CreateNode(n.Copy()); err != nil {
				return err
			}
		}
		for _, v := range st.services {
			if err := tx.CreateService(v.Copy()); err != nil {
				return err
			}
		}
		for _, x := range st.tasks {
			if err := tx.CreateTask(x.Copy()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.View(fn)
}

func ctr(taskID, nodeID string, run bool) *runtime.Container {
	st := runtime.StateExited
	if run {
		st = runtime.StateRunning
	}
	return &runtime.Container{ID: "c-" + taskID, Name: taskID, State: st,
		Labels: map[string]string{agent.LabelTask: taskID, agent.LabelNode: nodeID}}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("got %v, want no violation", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Fatalf("got %v, want a violation containing %q", err, want)
	}
}

func TestSafetyChecksCatchViolations(t *testing.T) {
	nodes := []*types.Node{node("n1", types.AvailabilityActive), node("n2", types.AvailabilityActive)}
	web := svcReplicated("web", 2)
	mon := svcGlobal("mon")
	tests := []struct {
		name       string
		tasks      []*types.Task
		containers map[string][]*runtime.Container
		check      func(store.ReadTx, map[string][]*runtime.Container) error
		want       string
	}{
		{"one task per slot", []*types.Task{tk("a", "web", 1, "n1", running, running), tk("b", "web", 1, "n2", shutdown, types.TaskStateFailed)},
			nil, slots, ""},
		{"two tasks in a slot", []*types.Task{tk("a", "web", 1, "n1", running, running), tk("b", "web", 1, "n2", ready, types.TaskStatePending)},
			nil, slots, "service web slot 1 has 2 tasks desired to run"},
		{"one global task per node", []*types.Task{tk("a", "mon", 0, "n1", running, running), tk("b", "mon", 0, "n2", running, running)},
			nil, globalNodes, ""},
		{"two global tasks on a node", []*types.Task{tk("a", "mon", 0, "n1", running, running), tk("b", "mon", 0, "n1", running, types.TaskStateNew)},
			nil, globalNodes, "has 2 tasks desired to run on node n1"},
		{"containers of live tasks", []*types.Task{tk("a", "web", 1, "n1", running, running), tk("b", "web", 2, "n2", shutdown, shutdown)},
			map[string][]*runtime.Container{"n1": {ctr("a", "n1", true)}, "n2": {ctr("b", "n2", false)}}, CheckContainers, ""},
		{"container of a deleted task", nil,
			map[string][]*runtime.Container{"n1": {ctr("gone", "n1", true)}}, CheckContainers, "which is not in the store"},
		{"container of another node's task", []*types.Task{tk("a", "web", 1, "n2", running, running)},
			map[string][]*runtime.Container{"n1": {ctr("a", "n1", true)}}, CheckContainers, "which is not assigned to it"},
		{"container labelled for another node", []*types.Task{tk("a", "web", 1, "n1", running, running)},
			map[string][]*runtime.Container{"n1": {ctr("a", "n2", true)}}, CheckContainers, "labelled for node"},
		{"running container of a terminal task", []*types.Task{tk("a", "web", 1, "n1", remove, shutdown)},
			map[string][]*runtime.Container{"n1": {ctr("a", "n1", true)}}, CheckContainers, "which the store says is shutdown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			view(t, state{nodes: nodes, services: []*types.Service{web, mon}, tasks: tt.tasks}, func(tx store.ReadTx) {
				checkErr(t, tt.check(tx, tt.containers), tt.want)
			})
		})
	}
}

func slots(tx store.ReadTx, _ map[string][]*runtime.Container) error { return CheckSlots(tx) }
func globalNodes(tx store.ReadTx, _ map[string][]*runtime.Container) error {
	return CheckGlobalNodes(tx)
}

func TestConvergenceChecksCatchUnfinishedWork(t *testing.T) {
	active := []*types.Node{node("n1", types.AvailabilityActive), node("n2", types.AvailabilityActive)}
	drainedN2 := []*types.Node{node("n1", types.AvailabilityActive), node("n2", types.AvailabilityDrain)}
	pausedN2 := []*types.Node{node("n1", types.AvailabilityActive), node("n2", types.AvailabilityPause)}
	web := []*types.Service{svcReplicated("web", 2)}
	mon := []*types.Service{svcGlobal("mon")}
	both := func(ids ...string) map[string][]*runtime.Container {
		out := map[string][]*runtime.Container{}
		for i := 0; i < len(ids); i += 2 {
			out[ids[i+1]] = append(out[ids[i+1]], ctr(ids[i], ids[i+1], true))
		}
		return out
	}
	tests := []struct {
		name       string
		st         state
		containers map[string][]*runtime.Container
		want       string
	}{
		{"replicated service converged",
			state{active, web, []*types.Task{tk("a", "web", 1, "n1", running, running), tk("b", "web", 2, "n2", running, running),
				tk("old", "web", 1, "n1", shutdown, types.TaskStateFailed)}},
			map[string][]*runtime.Container{"n1": {ctr("a", "n1", true), ctr("old", "n1", false)}, "n2": {ctr("b", "n2", true)}}, ""},
		{"a replica missing",
			state{active, web, []*types.Task{tk("a", "web", 1, "n1", running, running)}},
			both("a", "n1"), "service web has 1 tasks desired to run, want 2 replicas"},
		{"a replica still starting",
			state{active, web, []*types.Task{tk("a", "web", 1, "n1", running, running), tk("b", "web", 2, "n2", running, types.TaskStateStarting)}},
			both("a", "n1"), "task web.2 (b) of service web is desired running and starting"},
		{"a replica above the scale",
			state{active, web, []*types.Task{tk("a", "web", 1, "n1", running, running), tk("b", "web", 2, "n2", running, running),
				tk("c", "web", 3, "n2", running, running)}},
			both("a", "n1", "b", "n2", "c", "n2"), "is in slot 3, outside 1…2"},
		{"a task still stopping",
			state{active, web, []*types.Task{tk("a", "web", 1, "n1", running, running), tk("b", "web", 2, "n2", running, running),
				tk("c", "web", 3, "n2", remove, running)}},
			both("a", "n1", "b", "n2", "c", "n2"), "web.3 (c) is desired remove but still running"},
		{"a task of a removed service",
			state{active, nil, []*types.Task{tk("a", "web", 1, "n1", remove, shutdown)}},
			nil, "of removed service web is still in the store"},
		{"a container left behind",
			state{active, nil, nil},
			map[string][]*runtime.Container{"n1": {ctr("gone", "n1", false)}}, "keeps container gone"},
		{"a running task without its container",
			state{active, web, []*types.Task{tk("a", "web", 1, "n1", running, running), tk("b", "web", 2, "n2", running, running)}},
			both("a", "n1"), "web.2 (b) is running in the store but has no running container"},
		{"a task left on a drained node",
			state{drainedN2, web, []*types.Task{tk("a", "web", 1, "n1", running, running), tk("b", "web", 2, "n2", running, running)}},
			both("a", "n1", "b", "n2"), "drained node n2 still has task web.2 (b) desired running"},
		{"global service converged",
			state{active, mon, []*types.Task{tk("a", "mon", 0, "n1", running, running), tk("b", "mon", 0, "n2", running, running)}},
			both("a", "n1", "b", "n2"), ""},
		{"global service missing a node",
			state{active, mon, []*types.Task{tk("a", "mon", 0, "n1", running, running)}},
			both("a", "n1"), "has 0 tasks desired to run on eligible node n2"},
		{"global task waiting on a paused node",
			state{pausedN2, mon, []*types.Task{tk("a", "mon", 0, "n1", running, running), tk("b", "mon", 0, "n2", running, types.TaskStatePending)}},
			both("a", "n1"), ""},
		{"global task left on a drained node",
			state{drainedN2, mon, []*types.Task{tk("a", "mon", 0, "n1", running, running), tk("b", "mon", 0, "n2", running, running)}},
			both("a", "n1", "b", "n2"), "still has a task desired to run on ineligible node n2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			view(t, tt.st, func(tx store.ReadTx) { checkErr(t, CheckConverged(tx, tt.containers), tt.want) })
		})
	}
}

func TestStateTrackerCatchesAStateGoingBack(t *testing.T) {
	at := func(s types.TaskState) *types.Task { return tk("a", "web", 1, "n1", running, s) }
	tests := []struct {
		name   string
		states []types.TaskState
		want   string
	}{
		{"forward", []types.TaskState{types.TaskStateNew, types.TaskStateAssigned, running, types.TaskStateFailed}, ""},
		{"repeated", []types.TaskState{types.TaskStateNew, types.TaskStatePending, types.TaskStatePending}, ""},
		{"backward", []types.TaskState{types.TaskStateNew, running, types.TaskStateStarting}, "went back from running to starting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewStateTracker()
			for i, s := range tt.states {
				action := store.ActionUpdate
				if i == 0 {
					action = store.ActionCreate
				}
				tr.Observe(store.Event{Action: action, Index: uint64(i + 1), Task: at(s)})
			}
			checkErr(t, tr.Err(), tt.want)
		})
	}
}

func TestCheckAddressesFindsAnAddressHeldTwice(t *testing.T) {
	p := netip.MustParsePrefix
	net := &types.Network{ID: "n1", Spec: types.NetworkSpec{Name: "backend", Driver: "overlay"},
		Subnet: p("10.0.9.0/24"), Gateway: netip.MustParseAddr("10.0.9.1"), IPRange: p("10.0.9.0/24"), VNI: 4096}
	on := func(tk *types.Task, addr string) *types.Task {
		tk.Networks = []types.NetworkAttachment{{NetworkID: "n1", Addresses: []netip.Prefix{p(addr)}}}
		return tk
	}
	web := svcReplicated("web", 2)
	web.Endpoint.VirtualIPs = []types.EndpointVirtualIP{{NetworkID: "n1", Addr: p("10.0.9.2/24")}}
	tests := []struct {
		name  string
		tasks []*types.Task
		want  string
	}{
		{"distinct", []*types.Task{on(tk("a", "web", 1, "n1", running, running), "10.0.9.3/24"), on(tk("b", "web", 2, "n1", running, running), "10.0.9.4/24")}, ""},
		{"two tasks", []*types.Task{on(tk("a", "web", 1, "n1", running, running), "10.0.9.3/24"), on(tk("b", "web", 2, "n1", running, running), "10.0.9.3/24")}, "is held by task"},
		{"a task on the VIP", []*types.Task{on(tk("a", "web", 1, "n1", running, running), "10.0.9.2/24")}, "held by the virtual IP of service web and by task"},
		{"the gateway", []*types.Task{on(tk("a", "web", 1, "n1", running, running), "10.0.9.1/24")}, "holds the gateway"},
		{"an ended task frees its address", []*types.Task{on(tk("a", "web", 1, "n1", shutdown, shutdown), "10.0.9.3/24"), on(tk("b", "web", 2, "n1", running, running), "10.0.9.3/24")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := store.NewMemory(clock.NewFake(Epoch))
			defer s.Close()
			err := s.Update(context.Background(), func(tx store.Tx) error {
				if err := tx.CreateNetwork(net.Copy()); err != nil {
					return err
				}
				if err := tx.CreateService(web.Copy()); err != nil {
					return err
				}
				for _, x := range tt.tasks {
					if err := tx.CreateTask(x.Copy()); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			s.View(func(tx store.ReadTx) { checkErr(t, CheckAddresses(tx), tt.want) })
		})
	}
}
