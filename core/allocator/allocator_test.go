package allocator

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/ipam"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/testutil"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newStore(t *testing.T) (*store.Store, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(t0)
	st := store.NewMemory(clk)
	t.Cleanup(func() { st.Close() })
	return st, clk
}

func update(t *testing.T, st *store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := st.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// network stores a network with subnet, allocated as the control API
// does.
func network(t *testing.T, st *store.Store, id, subnet string) {
	t.Helper()
	update(t, st, func(tx store.Tx) error {
		n := &types.Network{ID: id, Spec: types.NetworkSpec{Name: "net-" + id, Driver: types.DriverOverlay, Subnet: subnet}}
		if err := AllocateNetwork(tx, ipam.Default(), n); err != nil {
			return err
		}
		return tx.CreateNetwork(n)
	})
}

// waitingTask stores a task of service svc in slot, attached to the
// networks given without an address, created at the clock's time.
func waitingTask(t *testing.T, st *store.Store, clk *clock.Fake, id string, slot uint64, networks ...string) {
	t.Helper()
	tk := &types.Task{ID: id, ServiceID: "svc", ServiceName: "web", Slot: slot, DesiredState: types.TaskStateRunning,
		Status: types.TaskStatus{State: types.TaskStateNew, Timestamp: clk.Now(), Message: "created"}}
	for _, n := range networks {
		tk.Networks = append(tk.Networks, types.NetworkAttachment{NetworkID: n})
	}
	update(t, st, func(tx store.Tx) error { return tx.CreateTask(tk) })
	clk.Advance(time.Millisecond)
}

func allocate(t *testing.T, st *store.Store, clk *clock.Fake) []string {
	t.Helper()
	var given []string
	update(t, st, func(tx store.Tx) error {
		var err error
		given, _, err = Allocate(tx, clk.Now())
		return err
	})
	return given
}

// addresses prints a task's addresses, network by network.
func addresses(st *store.Store, id string) string {
	var out []string
	st.View(func(tx store.ReadTx) {
		for _, a := range tx.Task(id).Networks {
			for _, p := range a.Addresses {
				out = append(out, a.NetworkID+"="+p.String())
			}
		}
	})
	return strings.Join(out, " ")
}

func task(st *store.Store, id string) *types.Task {
	var tk *types.Task
	st.View(func(tx store.ReadTx) { tk = tx.Task(id) })
	return tk
}

func TestAllocateGivesTasksTheLowestFreeAddresses(t *testing.T) {
	st, clk := newStore(t)
	network(t, st, "n1", "")
	network(t, st, "n2", "")
	update(t, st, func(tx store.Tx) error {
		return tx.CreateService(&types.Service{ID: "svc", Spec: types.ServiceSpec{Name: "web",
			Networks: []types.NetworkAttachmentConfig{{Target: "n1"}, {Target: "n2"}}},
			Endpoint: types.Endpoint{VirtualIPs: []types.EndpointVirtualIP{{NetworkID: "n1", Addr: netip.MustParsePrefix("10.0.0.2/24")}}}})
	})
	waitingTask(t, st, clk, "b", 1, "n1", "n2")
	waitingTask(t, st, clk, "a", 2, "n1")
	if given := allocate(t, st, clk); strings.Join(given, ",") != "b,a" {
		t.Fatalf("given %v, want b then a (oldest first)", given)
	}
	if got := addresses(st, "b"); got != "n1=10.0.0.3/24 n2=10.0.1.2/24" {
		t.Errorf("task b: %s", got)
	}
	if got := addresses(st, "a"); got != "n1=10.0.0.4/24" {
		t.Errorf("task a: %s (the VIP .2 and task b's .3 are taken)", got)
	}
	if tk := task(st, "a"); tk.AwaitsAddresses() || tk.Status.State != types.TaskStateNew || tk.Status.Message != "created" {
		t.Errorf("task a after allocation: %+v", tk.Status)
	}
	if given := allocate(t, st, clk); len(given) != 0 {
		t.Errorf("second pass gave %v", given)
	}
}

func TestFullSubnetLeavesTheTaskPendingUntilAnAddressIsFreed(t *testing.T) {
	st, clk := newStore(t)
	network(t, st, "tiny", "10.9.0.0/29") // .2 to .6
	network(t, st, "wide", "")
	for i, id := range []string{"t1", "t2", "t3", "t4", "t5"} {
		waitingTask(t, st, clk, id, uint64(i+1), "tiny")
	}
	waitingTask(t, st, clk, "t6", 6, "wide", "tiny")
	allocate(t, st, clk)
	tk := task(st, "t6")
	if tk.Status.State != types.TaskStatePending || tk.Status.Message != MsgWaiting ||
		tk.Status.Err != "network net-tiny: subnet 10.9.0.0/29 is full: no address left for another task or virtual IP: create the network with a larger --subnet, or scale its services down" {
		t.Fatalf("task t6 on a full subnet: %+v", tk.Status)
	}
	if got := addresses(st, "t6"); got != "" {
		t.Fatalf("task t6 holds %s: a task gets all its addresses or none", got)
	}
	version := tk.Version
	if given := allocate(t, st, clk); len(given) != 0 || task(st, "t6").Version != version {
		t.Fatal("a pass with nothing freed changed the waiting task")
	}

	// A task replaced before it reached a node frees nothing until it is
	// no longer desired to run; one that ran frees its address when it
	// ends.
	update(t, st, func(tx store.Tx) error {
		x := tx.Task("t2").Copy()
		x.Status.State = types.TaskStateRunning
		x.DesiredState = types.TaskStateShutdown
		return tx.UpdateTask(x)
	})
	if given := allocate(t, st, clk); len(given) != 0 {
		t.Fatalf("gave %v while t2 still runs", given)
	}
	update(t, st, func(tx store.Tx) error {
		x := tx.Task("t2").Copy()
		x.Status.State = types.TaskStateShutdown
		return tx.UpdateTask(x)
	})
	if given := allocate(t, st, clk); strings.Join(given, ",") != "t6" {
		t.Fatalf("given %v once t2 stopped, want t6", given)
	}
	if got := addresses(st, "t6"); got != "wide=10.0.0.2/24 tiny=10.9.0.3/29" {
		t.Errorf("task t6: %s, want t2's old address on tiny", got)
	}
	if tk := task(st, "t6"); tk.Status.State != types.TaskStatePending || tk.Status.Err != "" || tk.Status.Message != MsgAllocated {
		t.Errorf("task t6 status after allocation: %+v", tk.Status)
	}
}

func TestHoldsAddresses(t *testing.T) {
	tests := []struct {
		desired, state types.TaskState
		want           bool
	}{
		{types.TaskStateRunning, types.TaskStateNew, true},
		{types.TaskStateRunning, types.TaskStateRunning, true},
		{types.TaskStateReady, types.TaskStatePending, true},
		{types.TaskStateShutdown, types.TaskStateRunning, true},
		{types.TaskStateShutdown, types.TaskStateAssigned, true},
		{types.TaskStateShutdown, types.TaskStatePending, false},
		{types.TaskStateRemove, types.TaskStateNew, false},
		{types.TaskStateRunning, types.TaskStateFailed, false},
		{types.TaskStateShutdown, types.TaskStateShutdown, false},
	}
	for _, tt := range tests {
		tk := &types.Task{DesiredState: tt.desired, Status: types.TaskStatus{State: tt.state}}
		if got := HoldsAddresses(tk); got != tt.want {
			t.Errorf("desired %s, state %s: HoldsAddresses = %t, want %t", tt.desired, tt.state, got, tt.want)
		}
	}
}

// TestAllocatorReactsToNewTasks runs the controller: a task created on a
// network gets its address without any clock advance.
func TestAllocatorReactsToNewTasks(t *testing.T) {
	st, clk := newStore(t)
	network(t, st, "n1", "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(st, clk, testutil.Logger(t)).Run(ctx) }()
	waitingTask(t, st, clk, "t1", 1, "n1")
	testutil.Eventually(t, 10*time.Second, "task t1 gets an address", func() bool { return addresses(st, "t1") == "n1=10.0.0.2/24" })
	waitingTask(t, st, clk, "t2", 2, "n1")
	testutil.Eventually(t, 10*time.Second, "task t2 gets an address", func() bool { return addresses(st, "t2") == "n1=10.0.0.3/24" })
	cancel()
	testutil.Returns(t, done, 10*time.Second, "the allocator")
}

// TestAllocateBoundsOneCommand gives at most 200 tasks their addresses in
// one transaction and says when more wait.
func TestAllocateBoundsOneCommand(t *testing.T) {
	st, clk := newStore(t)
	network(t, st, "n1", "10.8.0.0/22")
	update(t, st, func(tx store.Tx) error {
		for i := range 250 {
			tk := &types.Task{ID: fmt.Sprintf("t%03d", i), ServiceID: "svc", ServiceName: "web", Slot: uint64(i + 1),
				DesiredState: types.TaskStateRunning, Networks: []types.NetworkAttachment{{NetworkID: "n1"}}}
			if err := tx.CreateTask(tk); err != nil {
				return err
			}
		}
		return nil
	})
	var given []string
	var more bool
	update(t, st, func(tx store.Tx) error {
		var err error
		given, more, err = Allocate(tx, clk.Now())
		return err
	})
	if len(given) != 200 || !more {
		t.Fatalf("first command gave %d tasks, more %t: want 200 and more", len(given), more)
	}
	update(t, st, func(tx store.Tx) error {
		var err error
		given, more, err = Allocate(tx, clk.Now())
		return err
	})
	if len(given) != 50 || more {
		t.Fatalf("second command gave %d tasks, more %t: want the last 50", len(given), more)
	}
	if got := addresses(st, "t249"); got != "n1=10.8.0.251/22" {
		t.Errorf("last task: %s", got)
	}
}
