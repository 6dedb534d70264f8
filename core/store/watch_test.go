package store

import (
	"fmt"
	"sync"
	"testing"

	"github.com/hiveorch/hive/core/types"
)

// receive reads one event or fails the test when none is queued.
func receive(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return ev
	default:
		t.Fatal("no event queued")
	}
	return Event{}
}

// TestViewAndWatchSeesStateThenLaterEvents proves a subscriber gets the
// state as of the subscription and then exactly the events after it.
func TestViewAndWatchSeesStateThenLaterEvents(t *testing.T) {
	s, _ := newMemory(t)
	mustUpdate(t, s, func(tx Tx) error {
		for _, id := range []string{"n1", "n2", "n3"} {
			if err := tx.CreateNode(newNode(id)); err != nil {
				return err
			}
		}
		return nil
	})
	var seen []string
	var index uint64
	ch, cancel := s.ViewAndWatch(func(tx ReadTx) {
		index = tx.Index()
		for _, n := range tx.Nodes() {
			seen = append(seen, n.ID)
		}
	}, nil)
	defer cancel()
	if len(seen) != 3 || index != 1 {
		t.Fatalf("view saw %v at index %d, want 3 nodes at 1", seen, index)
	}

	mustUpdate(t, s, func(tx Tx) error {
		n := tx.Node("n1").Copy()
		n.Spec.Availability = types.AvailabilityDrain
		return tx.UpdateNode(n)
	})
	mustUpdate(t, s, func(tx Tx) error {
		if err := tx.DeleteNode("n2"); err != nil {
			return err
		}
		return tx.CreateService(newService("s1", "web"))
	})

	ev := receive(t, ch)
	if ev.Action != ActionUpdate || ev.Index != 2 || ev.Node == nil || ev.OldNode == nil ||
		ev.Node.Spec.Availability != types.AvailabilityDrain ||
		ev.OldNode.Spec.Availability != types.AvailabilityActive {
		t.Fatalf("first event = %+v, want the update of n1 at 2 with its old value", ev)
	}
	ev = receive(t, ch)
	if ev.Action != ActionDelete || ev.Index != 3 || ev.Node == nil || ev.Node.ID != "n2" || ev.Node.Version != 1 {
		t.Fatalf("second event = %+v, want the delete of n2 at 3 with its last value", ev)
	}
	ev = receive(t, ch)
	if ev.Action != ActionCreate || ev.Index != 3 || ev.Service == nil || ev.Service.Version != 3 {
		t.Fatalf("third event = %+v, want the create of s1 at 3", ev)
	}
	if len(ch) != 0 {
		t.Fatalf("%d extra events", len(ch))
	}
}

// TestViewAndWatchIsAtomicUnderConcurrentWrites proves that no change
// falls between the state a subscriber reads and its first event, and
// none is seen twice, while writers run.
func TestViewAndWatchIsAtomicUnderConcurrentWrites(t *testing.T) {
	s, _ := newMemory(t)
	const writes = 300
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range writes {
			if err := s.Update(testCtx(t), func(tx Tx) error {
				return tx.CreateNode(newNode(fmt.Sprintf("n%03d", i)))
			}); err != nil {
				t.Errorf("write %d: %v", i, err)
				return
			}
		}
	})
	for range 20 {
		var have map[string]bool
		var index uint64
		ch, cancel := s.ViewAndWatch(func(tx ReadTx) {
			index = tx.Index()
			have = make(map[string]bool)
			for _, n := range tx.Nodes() {
				have[n.ID] = true
			}
		}, nil)
		if len(have) != int(index) {
			t.Fatalf("view at index %d holds %d nodes", index, len(have))
		}
		next := index + 1
		for len(ch) > 0 {
			ev := <-ch
			if ev.Index != next || have[ev.Node.ID] {
				t.Fatalf("event %+v after view at %d: want index %d and a new node", ev, index, next)
			}
			have[ev.Node.ID] = true
			next++
		}
		cancel()
	}
	wg.Wait()
}

func TestViewAndWatchFilter(t *testing.T) {
	s, _ := newMemory(t)
	ch, cancel := s.ViewAndWatch(nil, func(ev Event) bool { return ev.Task != nil && ev.Task.ServiceID == "s1" })
	defer cancel()
	mustUpdate(t, s, func(tx Tx) error {
		if err := tx.CreateNode(newNode("n1")); err != nil {
			return err
		}
		if err := tx.CreateTask(newTask("t1", "s1", 1, "")); err != nil {
			return err
		}
		return tx.CreateTask(newTask("t2", "s2", 1, ""))
	})
	if ev := receive(t, ch); ev.Task == nil || ev.Task.ID != "t1" {
		t.Fatalf("event = %+v, want t1 only", ev)
	}
	if len(ch) != 0 {
		t.Fatalf("%d events got past the filter", len(ch))
	}
}

// TestSlowSubscriberIsResetAndDropped proves the overflow policy: writes
// never wait for a subscriber; one that falls behind reads what was
// queued, then an ActionReset, then a closed channel; others are not
// affected.
func TestSlowSubscriberIsResetAndDropped(t *testing.T) {
	s, _ := newMemory(t)
	slow, cancelSlow := s.ViewAndWatch(nil, nil)
	defer cancelSlow()
	const total = watchBuffer + 100
	fast, cancelFast := s.ViewAndWatch(nil, nil)
	defer cancelFast()
	for i := range total {
		mustUpdate(t, s, func(tx Tx) error { return tx.CreateNode(newNode(fmt.Sprintf("n%04d", i))) })
		if ev := receive(t, fast); ev.Action != ActionCreate || ev.Index != uint64(i+1) {
			t.Fatalf("fast subscriber got %+v at write %d", ev, i)
		}
	}

	var events int
	var reset *Event
	for ev := range slow {
		if reset != nil {
			t.Fatalf("event %+v after the reset", ev)
		}
		if ev.Action == ActionReset {
			reset = &ev
			continue
		}
		events++
		if ev.Index != uint64(events) {
			t.Fatalf("event %d has index %d", events, ev.Index)
		}
	}
	if events != watchBuffer-1 || reset == nil {
		t.Fatalf("slow subscriber got %d events and reset %v, want %d and a reset", events, reset, watchBuffer-1)
	}
	if reset.Index != watchBuffer {
		t.Fatalf("reset index = %d, want %d (the first missed event)", reset.Index, watchBuffer)
	}
	cancelSlow() // after the drop, cancel is harmless
}

func TestWatchCancelAndClose(t *testing.T) {
	s, _ := newMemory(t)
	ch, cancel := s.ViewAndWatch(nil, nil)
	cancel()
	cancel()
	if _, ok := <-ch; ok {
		t.Fatal("channel open after cancel")
	}
	mustUpdate(t, s, func(tx Tx) error { return tx.CreateNode(newNode("n1")) })

	ch2, cancel2 := s.ViewAndWatch(nil, nil)
	defer cancel2()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-ch2; ok {
		t.Fatal("channel open after Close")
	}
	ch3, cancel3 := s.ViewAndWatch(func(tx ReadTx) {
		if tx.Node("n1") == nil {
			t.Error("a closed store lost its state")
		}
	}, nil)
	defer cancel3()
	if _, ok := <-ch3; ok {
		t.Fatal("a watch on a closed store is open")
	}
}

func TestMemoryLeaderCh(t *testing.T) {
	s, _ := newMemory(t)
	for i := range 2 {
		ch := s.LeaderCh()
		if v := <-ch; !v {
			t.Fatalf("channel %d: first value false", i)
		}
		if len(ch) != 0 {
			t.Fatalf("channel %d: more than one value", i)
		}
	}
	if id, _ := s.Leader(); id != memoryLeaderID || !s.IsLeader() || s.Raft() != nil {
		t.Fatalf("memory store: leader %q, IsLeader %t", id, s.IsLeader())
	}
	if err := s.WaitLeader(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	ch := s.LeaderCh()
	<-ch
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if v, ok := <-ch; v || ok {
		t.Fatal("LeaderCh not closed by Close")
	}
}

// TestLeadershipKeepsLatestValue proves a receiver that does not keep up
// still learns the latest leadership state.
func TestLeadershipKeepsLatestValue(t *testing.T) {
	var l leadership
	ch := l.subscribe()
	l.set(true)
	l.set(false)
	l.set(false) // no transition
	if v := <-ch; v {
		t.Fatal("latest value true, want false")
	}
	l.set(true)
	l.set(false)
	l.set(true)
	if v := <-ch; !v || len(ch) != 0 {
		t.Fatal("want exactly the latest true")
	}
	l.close()
	l.close()
	if _, ok := <-ch; ok {
		t.Fatal("open after close")
	}
	l.set(true) // after close: ignored, no panic
}
