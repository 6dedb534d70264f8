package dispatcher

import (
	"context"
	"fmt"
	"log/slog"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/session"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// next receives the next assignment set, failing after a real-time
// deadline.
func next(t *testing.T, sets <-chan *session.Assignment) ([]*types.Task, bool) {
	t.Helper()
	select {
	case a, ok := <-sets:
		if !ok {
			return nil, false
		}
		return a.Tasks, true
	case <-clock.Real{}.After(10 * time.Second):
		t.Fatal("no assignment set within 10s")
		return nil, false
	}
}

// A burst of changes larger than a watch buffer makes the store drop the
// dispatcher's subscription; the dispatcher must subscribe again and keep
// streaming the node's whole set, then end cleanly.
func TestAssignmentsSurviveAWatchOverflow(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := store.NewMemory(clk)
	defer s.Close()
	d := New(s, clk, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := d.Register(ctx, sessionReg("n1")); err != nil {
		t.Fatal(err)
	}
	sets, err := d.Assignments(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	if set, _ := next(t, sets); len(set) != 0 {
		t.Fatalf("first set has %d tasks, want 0", len(set))
	}

	// On one processor the store publishes the whole burst before the
	// dispatcher's goroutine runs, so the subscription overflows.
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(1))
	const burst = 1500
	err = s.Update(ctx, func(tx store.Tx) error {
		for i := range burst {
			if err := tx.CreateTask(&types.Task{ID: fmt.Sprintf("t%04d", i), ServiceID: "svc", ServiceName: "web", Slot: uint64(i + 1),
				NodeID: "n1", DesiredState: types.TaskStateRunning, Status: types.TaskStatus{State: types.TaskStateAssigned}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for set, ok := next(t, sets); len(set) != burst; set, ok = next(t, sets) {
		if !ok {
			t.Fatal("the assignment stream closed after the overflow")
		}
	}

	// Later changes still arrive on the new subscription.
	err = s.Update(ctx, func(tx store.Tx) error {
		cur := tx.Task("t0000").Copy()
		cur.Status.State = types.TaskStateRunning
		return tx.UpdateTask(cur)
	})
	if err != nil {
		t.Fatal(err)
	}
	for set, ok := next(t, sets); ; set, ok = next(t, sets) {
		if !ok {
			t.Fatal("the assignment stream closed")
		}
		if len(set) == burst && stateOf(set, "t0000") == types.TaskStateRunning {
			break
		}
	}

	// The new subscription follows this node only: a change on another
	// node sends nothing.
	err = s.Update(ctx, func(tx store.Tx) error {
		return tx.CreateTask(&types.Task{ID: "other", ServiceID: "svc", ServiceName: "web", Slot: burst + 1,
			NodeID: "n2", DesiredState: types.TaskStateRunning, Status: types.TaskStatus{State: types.TaskStateAssigned}})
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		goruntime.Gosched() // let the dispatcher's goroutine run, were it woken
	}
	select {
	case <-sets:
		t.Fatal("a change on another node sent this node a new set: the re-subscription lost its filter")
	default:
	}

	cancel()
	for _, ok := next(t, sets); ok; _, ok = next(t, sets) {
	}
}

func stateOf(set []*types.Task, id string) types.TaskState {
	for _, t := range set {
		if t.ID == id {
			return t.Status.State
		}
	}
	return -1
}

func sessionReg(id string) session.Registration { return session.Registration{NodeID: id} }

// A node that registers unable to run tasks is recorded down with its
// reason, and ready with no message once it registers able again.
func TestRegisterUnavailableRecordsTheNodeDown(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := store.NewMemory(clk)
	defer s.Close()
	d := New(s, clk, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	node := func() types.NodeStatus {
		var st types.NodeStatus
		s.View(func(tx store.ReadTx) { st = tx.Node("n1").Status })
		return st
	}
	reg := sessionReg("n1")
	reg.Addr = "10.0.0.1:4242"
	reg.Unavailable = "the runtime does not answer: containerd at /x.sock is unreachable"
	if err := d.Register(ctx, reg); err != nil {
		t.Fatal(err)
	}
	if st := node(); st.State != types.NodeStateDown || st.Message != reg.Unavailable || st.Addr != reg.Addr {
		t.Errorf("node after an unavailable registration: %+v", st)
	}
	reg.Unavailable = ""
	if err := d.Register(ctx, reg); err != nil {
		t.Fatal(err)
	}
	if st := node(); st.State != types.NodeStateReady || st.Message != "" {
		t.Errorf("node after it registered able: %+v", st)
	}
}
