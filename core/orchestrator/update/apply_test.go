package update

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/orchestrator"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// memStore returns a memory store holding the services and tasks.
func memStore(t *testing.T, services []*types.Service, tasks []*types.Task) *store.Store {
	t.Helper()
	s := store.NewMemory(clock.NewFake(t0))
	t.Cleanup(func() { s.Close() })
	err := s.Update(context.Background(), func(tx store.Tx) error {
		for _, v := range services {
			if err := tx.CreateService(v.Copy()); err != nil {
				return err
			}
		}
		for _, x := range tasks {
			if err := tx.CreateTask(x.Copy()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func read(s *store.Store, id string) (svc *types.Service, tasks []*types.Task) {
	s.View(func(tx store.ReadTx) {
		svc = tx.Service(id).Copy()
		tasks = tx.TasksByService(id)
	})
	return svc, tasks
}

func port(published uint32) []types.PortConfig {
	return []types.PortConfig{{Protocol: types.ProtocolTCP, TargetPort: 80, PublishedPort: published, PublishMode: types.PublishIngress}}
}

func TestApplyWritesTheStatusThenTheTasks(t *testing.T) {
	s := memStore(t, []*types.Service{svc(2, types.UpdateConfig{Parallelism: 1, Order: types.OrderStartFirst})}, []*types.Task{old("a", 1), old("b", 2)})
	cur, tasks := read(s, "svc")
	p, _ := Reconcile(cur, tasks, t0, ids())
	p.Status = &types.UpdateStatus{State: types.UpdateUpdating, SpecVersion: 2, Failures: []string{"x"}}
	if err := Apply(context.Background(), s, t0, p); err != nil {
		t.Fatal(err)
	}
	// Applying the same plan again adds no second task to the slot.
	if err := Apply(context.Background(), s, t0, p); err != nil {
		t.Fatal(err)
	}
	after, tasks := read(s, "svc")
	if len(after.UpdateStatus.Failures) != 1 {
		t.Errorf("status %+v, want the plan's", after.UpdateStatus)
	}
	n := 0
	for _, tk := range tasks {
		if tk.Slot == 1 && orchestrator.Occupies(tk) {
			n++
		}
	}
	if n != 2 {
		t.Errorf("slot 1 has %d occupying tasks, want the old one and one new one", n)
	}
}

func TestApplyDropsAPlanOfAServiceThatChanged(t *testing.T) {
	s := memStore(t, []*types.Service{svc(1, types.UpdateConfig{Parallelism: 1})}, []*types.Task{old("a", 1)})
	cur, tasks := read(s, "svc")
	p, _ := Reconcile(cur, tasks, t0, ids())
	p.Status = &types.UpdateStatus{State: types.UpdatePaused, Message: "stale"}
	err := s.Update(context.Background(), func(tx store.Tx) error {
		v := tx.Service("svc").Copy()
		v.SpecVersion++
		return tx.UpdateService(v)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(context.Background(), s, t0, p); err != nil {
		t.Fatal(err)
	}
	after, tasks := read(s, "svc")
	if after.UpdateStatus.State != types.UpdateUpdating || len(tasks) != 1 {
		t.Errorf("a stale plan was applied: status %+v, %d tasks", after.UpdateStatus, len(tasks))
	}
}

func TestApplyRollsBack(t *testing.T) {
	v := svc(1, types.UpdateConfig{Parallelism: 1, FailureAction: types.FailureRollback})
	v.Spec.Endpoint.Ports = port(9090)
	v.Endpoint.Ports = port(9090)
	v.PreviousSpec.Endpoint.Ports = []types.PortConfig{{Protocol: types.ProtocolTCP, TargetPort: 80, PublishMode: types.PublishIngress}}
	s := memStore(t, []*types.Service{v}, nil)
	p := Plan{ServiceID: "svc", SpecVersion: 2, State: types.UpdateUpdating, Rollback: true,
		Status: &types.UpdateStatus{State: types.UpdateRollbackStarted, Message: "update rolled back due to …"}}
	if err := Apply(context.Background(), s, t0, p); err != nil {
		t.Fatal(err)
	}
	after, _ := read(s, "svc")
	if after.Spec.Task.Container.Image != "v1" || after.PreviousSpec.Task.Container.Image != "v2" || after.SpecVersion != 3 {
		t.Fatalf("after the rollback: image %s, previous %s, version %d", after.Spec.Task.Container.Image, after.PreviousSpec.Task.Container.Image, after.SpecVersion)
	}
	if st := after.UpdateStatus; st.State != types.UpdateRollbackStarted || st.SpecVersion != 3 {
		t.Errorf("status %+v, want rollback_started from version 3", st)
	}
	if got := after.Endpoint.Ports[0].PublishedPort; got != 9090 {
		t.Errorf("the rolled-back dynamic port got %d, want 9090 kept", got)
	}
}

func TestApplyPausesARollbackWhosePortIsTaken(t *testing.T) {
	v := svc(1, types.UpdateConfig{Parallelism: 1, FailureAction: types.FailureRollback})
	v.PreviousSpec.Endpoint.Ports = port(8080)
	other := &types.Service{ID: "other", Spec: types.ServiceSpec{Name: "other", Mode: types.ModeReplicated, Task: spec("x")}}
	other.Endpoint.Ports = port(8080)
	s := memStore(t, []*types.Service{v, other}, nil)
	p := Plan{ServiceID: "svc", SpecVersion: 2, State: types.UpdateUpdating, Rollback: true,
		Status: &types.UpdateStatus{State: types.UpdateRollbackStarted, Message: "update rolled back due to failure"}}
	if err := Apply(context.Background(), s, t0, p); err != nil {
		t.Fatal(err)
	}
	after, _ := read(s, "svc")
	if st := after.UpdateStatus; st.State != types.UpdatePaused || !strings.Contains(st.Message, "it cannot roll back: conflict: port 8080 is already published by service other") {
		t.Errorf("status %+v, want paused saying the port is taken", st)
	}
	if after.Spec.Task.Container.Image != "v2" || after.SpecVersion != 2 {
		t.Errorf("the spec changed: %s version %d", after.Spec.Task.Container.Image, after.SpecVersion)
	}
}

func TestRelevantEvents(t *testing.T) {
	tk := old("a", 1)
	moved := tk.Copy()
	moved.Status.State = types.TaskStateFailed
	msg := tk.Copy()
	msg.Status.Message = "pulling 50%"
	tests := []struct {
		name string
		ev   store.Event
		want bool
	}{
		{"service", store.Event{Action: store.ActionUpdate, Service: &types.Service{}}, true},
		{"task created", store.Event{Action: store.ActionCreate, Task: tk}, true},
		{"task state", store.Event{Action: store.ActionUpdate, Task: moved, OldTask: tk}, true},
		{"task message", store.Event{Action: store.ActionUpdate, Task: msg, OldTask: tk}, false},
		{"node", store.Event{Action: store.ActionUpdate, Node: &types.Node{}}, false},
		{"reset", store.Event{Action: store.ActionReset}, true},
	}
	for _, tt := range tests {
		if got := relevant(tt.ev); got != tt.want {
			t.Errorf("%s: relevant = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestApplyRollsBackTheVirtualIPs: a rollback to a spec on other
// networks gives the service VIPs on those, and releases the others.
func TestApplyRollsBackTheVirtualIPs(t *testing.T) {
	v := svc(1, types.UpdateConfig{Parallelism: 1, FailureAction: types.FailureRollback})
	v.Spec.Networks = []types.NetworkAttachmentConfig{{Target: "n2"}}
	v.Endpoint.VirtualIPs = []types.EndpointVirtualIP{{NetworkID: "n2", Addr: netip.MustParsePrefix("10.0.1.2/24")}}
	v.PreviousSpec.Networks = []types.NetworkAttachmentConfig{{Target: "n1"}}
	s := memStore(t, nil, nil)
	err := s.Update(context.Background(), func(tx store.Tx) error {
		for i, id := range []string{"n1", "n2"} {
			p := netip.MustParsePrefix(fmt.Sprintf("10.0.%d.0/24", i))
			n := &types.Network{ID: id, Spec: types.NetworkSpec{Name: id}, Subnet: p, IPRange: p, Gateway: p.Addr().Next(), VNI: uint32(4096 + i)}
			if err := tx.CreateNetwork(n); err != nil {
				return err
			}
		}
		return tx.CreateService(v)
	})
	if err != nil {
		t.Fatal(err)
	}
	p := Plan{ServiceID: "svc", SpecVersion: 2, State: types.UpdateUpdating, Rollback: true,
		Status: &types.UpdateStatus{State: types.UpdateRollbackStarted, Message: "update rolled back due to failure"}}
	if err := Apply(context.Background(), s, t0, p); err != nil {
		t.Fatal(err)
	}
	after, _ := read(s, "svc")
	if vips := after.Endpoint.VirtualIPs; len(vips) != 1 || vips[0].NetworkID != "n1" || vips[0].Addr.String() != "10.0.0.2/24" {
		t.Errorf("VIPs after the rollback = %v, want n1's 10.0.0.2/24 only", vips)
	}
}
