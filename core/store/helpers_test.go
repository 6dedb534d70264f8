package store

import (
	"context"
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/types"
)

// t0 is the fake clock's start in every test.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// testWait bounds every wait of a test.
const testWait = 15 * time.Second

// newMemory returns a NewMemory store on a fake clock, closed at cleanup.
func newMemory(t *testing.T) (*Store, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(t0)
	s := NewMemory(clk)
	t.Cleanup(func() { _ = s.Close() })
	return s, clk
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	t.Cleanup(cancel)
	return ctx
}

// mustUpdate runs an Update that must succeed.
func mustUpdate(t *testing.T, s *Store, fn func(Tx) error) {
	t.Helper()
	if err := s.Update(testCtx(t), fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

// view returns the state as one ReadTx, for assertions.
func view(s *Store) ReadTx {
	var out ReadTx
	s.View(func(tx ReadTx) { out = tx })
	return out
}

func newNode(id string) *types.Node {
	return &types.Node{
		ID: id,
		Spec: types.NodeSpec{
			Role: types.RoleWorker, Availability: types.AvailabilityActive,
			Labels: map[string]string{"zone": "a"},
		},
		Description: types.NodeDescription{Hostname: "host-" + id},
		Status:      types.NodeStatus{State: types.NodeStateReady},
	}
}

func newService(id, name string) *types.Service {
	return &types.Service{
		ID: id,
		Spec: types.ServiceSpec{
			Name: name, Mode: types.ModeReplicated, Replicas: 2,
			Task: types.TaskSpec{Container: types.ContainerSpec{Image: "busybox", Args: []string{"sleep", "1d"}}},
		},
		SpecVersion: 1,
	}
}

func newTask(id, serviceID string, slot uint64, nodeID string) *types.Task {
	return &types.Task{
		ID: id, ServiceID: serviceID, ServiceName: "svc-" + serviceID, Slot: slot, NodeID: nodeID,
		DesiredState: types.TaskStateRunning,
		Status:       types.TaskStatus{State: types.TaskStateNew, Timestamp: t0},
	}
}

func newNetwork(id, name, subnet string, vni uint32) *types.Network {
	p := netip.MustParsePrefix(subnet)
	return &types.Network{
		ID: id, Spec: types.NetworkSpec{Name: name, Driver: types.DriverOverlay},
		Subnet: p, IPRange: p, Gateway: p.Addr().Next(), VNI: vni,
	}
}

// stateJSON encodes everything a ReadTx holds, for comparing states.
func stateJSON(t *testing.T, tx ReadTx) string {
	t.Helper()
	b, err := json.Marshal(snapshotDoc{
		Version: snapshotVersion, Index: tx.Index(), Cluster: tx.Cluster(),
		Nodes: tx.Nodes(), Services: tx.Services(), Tasks: tx.Tasks(),
		Secrets: tx.Secrets(), Configs: tx.Configs(), Networks: tx.Networks(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// command encodes a command with a body, for feeding the FSM directly.
func command(t *testing.T, typ string, v int, optional bool, body any) []byte {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(Command{Type: typ, Version: v, Optional: optional, Body: raw})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// changeOf builds a change carrying obj.
func changeOf(t *testing.T, o op, kindName, id string, obj any) change {
	t.Helper()
	c := change{Op: o, Kind: kindName, ID: id}
	if obj != nil {
		raw, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		c.Object = raw
	}
	return c
}
