package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/logadapt"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/testutil"
)

// TestCreateUpdateDeleteEachKind proves the life of every kind of object:
// a create stamps Version with the command's index and both timestamps
// with the clock, an update moves Version and UpdatedAt and keeps
// CreatedAt, a delete removes the object.
func TestCreateUpdateDeleteEachKind(t *testing.T) {
	type ops struct {
		create func(Tx) error
		get    func(ReadTx) (types.Meta, bool)
		update func(Tx) error // reads, copies, changes, writes back
		delete func(Tx) error // nil when the kind cannot be deleted
	}
	cases := map[string]ops{
		"cluster": {
			create: func(tx Tx) error {
				return tx.CreateCluster(&types.Cluster{Spec: types.ClusterSpec{TaskHistoryLimit: 3}})
			},
			get: func(tx ReadTx) (types.Meta, bool) {
				c := tx.Cluster()
				if c == nil {
					return types.Meta{}, false
				}
				return c.Meta, true
			},
			update: func(tx Tx) error {
				c := tx.Cluster().Copy()
				c.Spec.TaskHistoryLimit = 9
				return tx.UpdateCluster(c)
			},
		},
		"node": {
			create: func(tx Tx) error { return tx.CreateNode(newNode("n1")) },
			get: func(tx ReadTx) (types.Meta, bool) {
				n := tx.Node("n1")
				if n == nil {
					return types.Meta{}, false
				}
				return n.Meta, true
			},
			update: func(tx Tx) error {
				n := tx.Node("n1").Copy()
				n.Spec.Availability = types.AvailabilityDrain
				return tx.UpdateNode(n)
			},
			delete: func(tx Tx) error { return tx.DeleteNode("n1") },
		},
		"service": {
			create: func(tx Tx) error { return tx.CreateService(newService("s1", "web")) },
			get: func(tx ReadTx) (types.Meta, bool) {
				s := tx.Service("s1")
				if s == nil {
					return types.Meta{}, false
				}
				return s.Meta, true
			},
			update: func(tx Tx) error {
				s := tx.Service("s1").Copy()
				s.Spec.Replicas = 5
				return tx.UpdateService(s)
			},
			delete: func(tx Tx) error { return tx.DeleteService("s1") },
		},
		"task": {
			create: func(tx Tx) error { return tx.CreateTask(newTask("t1", "s1", 1, "")) },
			get: func(tx ReadTx) (types.Meta, bool) {
				x := tx.Task("t1")
				if x == nil {
					return types.Meta{}, false
				}
				return x.Meta, true
			},
			update: func(tx Tx) error {
				x := tx.Task("t1").Copy()
				x.NodeID = "n1"
				x.Status.State = types.TaskStateAssigned
				return tx.UpdateTask(x)
			},
			delete: func(tx Tx) error { return tx.DeleteTask("t1") },
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s, clk := newMemory(t)
			mustUpdate(t, s, c.create)
			m, ok := c.get(view(s))
			if !ok {
				t.Fatal("created object not found")
			}
			if m.Version != 1 || !m.CreatedAt.Equal(t0) || !m.UpdatedAt.Equal(t0) {
				t.Fatalf("after create: meta = %+v, want version 1 and both times %v", m, t0)
			}

			clk.Advance(time.Minute)
			mustUpdate(t, s, c.update)
			m, _ = c.get(view(s))
			if m.Version != 2 || !m.CreatedAt.Equal(t0) || !m.UpdatedAt.Equal(t0.Add(time.Minute)) {
				t.Fatalf("after update: meta = %+v, want version 2, created %v, updated %v", m, t0, t0.Add(time.Minute))
			}

			if c.delete == nil {
				return
			}
			mustUpdate(t, s, c.delete)
			if _, ok := c.get(view(s)); ok {
				t.Fatal("object still there after delete")
			}
			if got := view(s).Index(); got != 3 {
				t.Fatalf("index = %d, want 3", got)
			}
		})
	}
}

func TestTxErrors(t *testing.T) {
	s, _ := newMemory(t)
	mustUpdate(t, s, func(tx Tx) error {
		if err := tx.CreateNode(newNode("n1")); err != nil {
			return err
		}
		return tx.CreateService(newService("s1", "web"))
	})
	cases := []struct {
		name string
		fn   func(Tx) error
		want error
	}{
		{"create existing node", func(tx Tx) error { return tx.CreateNode(newNode("n1")) }, ErrExist},
		{"create node without id", func(tx Tx) error { return tx.CreateNode(newNode("")) }, errdefs.ErrInvalidArgument},
		{"create nil task", func(tx Tx) error { return tx.CreateTask(nil) }, errdefs.ErrInvalidArgument},
		{"cluster with another id", func(tx Tx) error {
			return tx.CreateCluster(&types.Cluster{ID: "other"})
		}, errdefs.ErrInvalidArgument},
		{"update missing node", func(tx Tx) error { return tx.UpdateNode(newNode("nope")) }, ErrNotFound},
		{"update missing cluster", func(tx Tx) error { return tx.UpdateCluster(&types.Cluster{ID: types.ClusterID}) }, ErrNotFound},
		{"delete missing task", func(tx Tx) error { return tx.DeleteTask("nope") }, ErrNotFound},
		{"update stale node", func(tx Tx) error {
			n := tx.Node("n1").Copy()
			n.Version--
			return tx.UpdateNode(n)
		}, ErrSequenceConflict},
		{"update the shared stored object", func(tx Tx) error { return tx.UpdateNode(tx.Node("n1")) }, errdefs.ErrInvalidArgument},
		{"create duplicate service name", func(tx Tx) error { return tx.CreateService(newService("s2", "web")) }, ErrNameConflict},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := stateJSON(t, view(s))
			err := s.Update(testCtx(t), c.fn)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if after := stateJSON(t, view(s)); after != before {
				t.Fatalf("a failed update changed the state:\n%s\n%s", before, after)
			}
		})
	}
}

// TestServiceNamesAreUnique proves that no two services share a name,
// whether by create, by rename, or within one transaction, and that a
// freed name can be taken again.
func TestServiceNamesAreUnique(t *testing.T) {
	s, _ := newMemory(t)
	mustUpdate(t, s, func(tx Tx) error {
		if err := tx.CreateService(newService("s1", "web")); err != nil {
			return err
		}
		return tx.CreateService(newService("s2", "db"))
	})
	rename := func(id, name string) func(Tx) error {
		return func(tx Tx) error {
			svc := tx.Service(id).Copy()
			svc.Spec.Name = name
			return tx.UpdateService(svc)
		}
	}
	if err := s.Update(testCtx(t), rename("s2", "web")); !errors.Is(err, ErrNameConflict) {
		t.Fatalf("rename onto a taken name: err = %v, want ErrNameConflict", err)
	}
	err := s.Update(testCtx(t), func(tx Tx) error {
		if err := tx.CreateService(newService("s3", "cache")); err != nil {
			return err
		}
		return tx.CreateService(newService("s4", "cache"))
	})
	if !errors.Is(err, ErrNameConflict) {
		t.Fatalf("two creates of one name in a transaction: err = %v, want ErrNameConflict", err)
	}
	if view(s).ServiceByName("cache") != nil {
		t.Fatal("a failed transaction left a service behind")
	}
	// Renaming keeps the name; renaming away frees it.
	mustUpdate(t, s, rename("s1", "web"))
	mustUpdate(t, s, rename("s1", "www"))
	mustUpdate(t, s, func(tx Tx) error { return tx.CreateService(newService("s5", "web")) })
	// A swap through a free name works in one transaction: changes apply
	// in order.
	mustUpdate(t, s, func(tx Tx) error {
		for _, r := range []struct{ id, name string }{{"s1", "tmp"}, {"s5", "www"}, {"s1", "web"}} {
			if err := rename(r.id, r.name)(tx); err != nil {
				return err
			}
		}
		return nil
	})
	tx := view(s)
	if got := tx.ServiceByName("web"); got == nil || got.ID != "s1" {
		t.Fatalf("web = %+v, want s1", got)
	}
	if got := tx.ServiceByName("www"); got == nil || got.ID != "s5" {
		t.Fatalf("www = %+v, want s5", got)
	}
	if tx.ServiceByName("tmp") != nil {
		t.Fatal("the intermediate name is still indexed")
	}
}

// TestStaleUpdateFailsWithSequenceConflict proves optimistic concurrency:
// an update carrying a version that is no longer the stored one fails.
func TestStaleUpdateFailsWithSequenceConflict(t *testing.T) {
	s, _ := newMemory(t)
	mustUpdate(t, s, func(tx Tx) error { return tx.CreateNode(newNode("n1")) })
	stale := view(s).Node("n1").Copy()
	mustUpdate(t, s, func(tx Tx) error {
		n := tx.Node("n1").Copy()
		n.Spec.Availability = types.AvailabilityPause
		return tx.UpdateNode(n)
	})
	stale.Spec.Availability = types.AvailabilityDrain
	err := s.Update(testCtx(t), func(tx Tx) error { return tx.UpdateNode(stale) })
	if !errors.Is(err, ErrSequenceConflict) {
		t.Fatalf("err = %v, want ErrSequenceConflict", err)
	}
	if got := view(s).Node("n1").Spec.Availability; got != types.AvailabilityPause {
		t.Fatalf("availability = %s, want pause", got)
	}
}

// TestConflictDetectedWhenCommandApplies proves the FSM checks versions
// again: a change that passed the Tx's check fails when the object changed
// between the Tx's read and the command's apply.
func TestConflictDetectedWhenCommandApplies(t *testing.T) {
	s, _ := newMemory(t)
	mustUpdate(t, s, func(tx Tx) error {
		if err := tx.CreateNode(newNode("n1")); err != nil {
			return err
		}
		return tx.CreateNode(newNode("n2"))
	})
	err := s.Update(testCtx(t), func(tx Tx) error {
		n := tx.Node("n1").Copy()
		// Another writer changes n1 behind this transaction's back.
		other := n.Copy()
		other.Spec.Availability = types.AvailabilityPause
		cmd := command(t, CommandChanges, 1, false, changesBody{Changes: []change{
			changeOf(t, opUpdate, "node", "n1", other),
		}})
		if err := s.fsm.applyLocal(cmd); err != nil {
			t.Errorf("concurrent write: %v", err)
		}
		if err := tx.DeleteNode("n2"); err != nil {
			return err
		}
		n.Spec.Availability = types.AvailabilityDrain
		return tx.UpdateNode(n)
	})
	if !errors.Is(err, ErrSequenceConflict) {
		t.Fatalf("err = %v, want ErrSequenceConflict", err)
	}
	tx := view(s)
	if got := tx.Node("n1").Spec.Availability; got != types.AvailabilityPause {
		t.Fatalf("availability = %s, want the other writer's pause", got)
	}
	if tx.Node("n2") == nil {
		t.Fatal("the rejected command's delete applied")
	}
}

// TestCommandAppliesAllOrNone proves a command whose last change conflicts
// leaves no trace: no object, no event, but its index is consumed.
func TestCommandAppliesAllOrNone(t *testing.T) {
	f := newFSM(testutil.LoggerAt(t, logadapt.LevelTrace))
	apply := func(index uint64, changes ...change) error {
		resp := f.Apply(&raft.Log{Index: index, Type: raft.LogCommand,
			Data: command(t, CommandChanges, 1, false, changesBody{Changes: changes})})
		if resp == nil {
			return nil
		}
		return resp.(error)
	}
	if err := apply(1, changeOf(t, opCreate, "node", "n1", newNode("n1"))); err != nil {
		t.Fatal(err)
	}
	_, sub := f.watch(nil)
	before := f.read()

	stale := newNode("n1")
	stale.Version = 7
	err := apply(2,
		changeOf(t, opCreate, "node", "n2", newNode("n2")),
		changeOf(t, opCreate, "service", "s1", newService("s1", "web")),
		changeOf(t, opUpdate, "node", "n1", stale),
	)
	if !errors.Is(err, ErrSequenceConflict) {
		t.Fatalf("err = %v, want ErrSequenceConflict", err)
	}
	after := f.read()
	if after.Node("n2") != nil || after.Service("s1") != nil {
		t.Fatal("part of a rejected command applied")
	}
	if stateJSON(t, before.withIndex(2)) != stateJSON(t, after) {
		t.Fatal("state changed")
	}
	if after.Index() != 2 {
		t.Fatalf("index = %d, want 2: a rejected entry is still applied", after.Index())
	}
	if n := len(sub.ch); n != 0 {
		t.Fatalf("%d events published for a rejected command", n)
	}
}

// withIndex returns r reporting another index, to compare states that
// differ only by it.
func (r readTx) withIndex(i uint64) readTx { r.index = i; return r }

// TestUnknownCommands proves the forward-compatibility rule: a command this
// code does not know is skipped when optional and fails otherwise.
func TestUnknownCommands(t *testing.T) {
	body := changesBody{Changes: []change{changeOf(t, opCreate, "node", "n1", newNode("n1"))}}
	cases := []struct {
		name    string
		data    []byte
		wantErr bool
		created bool
	}{
		{"known", command(t, CommandChanges, 1, false, body), false, true},
		{"unknown type, optional", command(t, "rotate_keys", 1, true, map[string]int{"x": 1}), false, false},
		{"unknown type", command(t, "rotate_keys", 1, false, map[string]int{"x": 1}), true, false},
		{"newer version, optional", command(t, CommandChanges, 2, true, body), false, false},
		{"newer version", command(t, CommandChanges, 2, false, body), true, false},
		{"version 0", command(t, CommandChanges, 0, false, body), true, false},
		{"unknown kind", command(t, CommandChanges, 1, false, changesBody{Changes: []change{
			changeOf(t, opCreate, "volume", "v1", map[string]string{"id": "v1"}),
		}}), true, false},
		{"unknown op", command(t, CommandChanges, 1, false, changesBody{Changes: []change{
			changeOf(t, "upsert", "node", "n1", newNode("n1")),
		}}), true, false},
		{"object id differs", command(t, CommandChanges, 1, false, changesBody{Changes: []change{
			changeOf(t, opCreate, "node", "n2", newNode("n1")),
		}}), true, false},
		{"create without object", command(t, CommandChanges, 1, false, changesBody{Changes: []change{
			changeOf(t, opCreate, "node", "n1", nil),
		}}), true, false},
		{"not json", []byte("{"), true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFSM(testutil.LoggerAt(t, logadapt.LevelTrace))
			resp := f.Apply(&raft.Log{Index: 4, Type: raft.LogCommand, Data: c.data})
			if gotErr := resp != nil; gotErr != c.wantErr {
				t.Fatalf("response = %v, want error %t", resp, c.wantErr)
			}
			if resp != nil {
				if _, ok := resp.(error); !ok {
					t.Fatalf("response is a %T, want an error", resp)
				}
			}
			tx := f.read()
			if got := tx.Node("n1") != nil; got != c.created {
				t.Fatalf("node created = %t, want %t", got, c.created)
			}
			if tx.Index() != 4 {
				t.Fatalf("index = %d, want 4", tx.Index())
			}
		})
	}
}

// TestApplyIsDeterministic proves two FSMs fed the same log reach the same
// state, every object's Version being the index of its last change.
func TestApplyIsDeterministic(t *testing.T) {
	svc := newService("s1", "web")
	svc.CreatedAt = t0
	upd := newService("s1", "web")
	upd.Spec.Replicas = 7
	upd.Version = 5 // the version the create at index 5 gives it
	log := []*raft.Log{
		{Index: 5, Data: command(t, CommandChanges, 1, false, changesBody{Changes: []change{
			changeOf(t, opCreate, "service", "s1", svc),
			changeOf(t, opCreate, "task", "t1", newTask("t1", "s1", 1, "")),
			changeOf(t, opCreate, "task", "t2", newTask("t2", "s1", 2, "")),
		}})},
		{Index: 6, Data: command(t, "noop", 1, true, struct{}{})},
		{Index: 9, Data: command(t, CommandChanges, 1, false, changesBody{Changes: []change{
			changeOf(t, opUpdate, "service", "s1", upd),
			changeOf(t, opDelete, "task", "t2", nil),
		}})},
	}
	var states []string
	for range 2 {
		f := newFSM(testutil.LoggerAt(t, logadapt.LevelTrace))
		for _, l := range log {
			if resp := f.Apply(l); resp != nil {
				t.Fatalf("apply %d: %v", l.Index, resp)
			}
		}
		states = append(states, stateJSON(t, f.read()))
		tx := f.read()
		if v := tx.Service("s1").Version; v != 9 {
			t.Fatalf("service version = %d, want 9", v)
		}
		if v := tx.Task("t1").Version; v != 5 {
			t.Fatalf("task version = %d, want 5", v)
		}
		if tx.Task("t2") != nil {
			t.Fatal("deleted task still there")
		}
	}
	if states[0] != states[1] {
		t.Fatalf("states differ:\n%s\n%s", states[0], states[1])
	}
}

// TestSeveralChangesToOneObjectInATransaction proves a Tx may create,
// update and delete the same object in one go, in that order.
func TestSeveralChangesToOneObjectInATransaction(t *testing.T) {
	s, _ := newMemory(t)
	mustUpdate(t, s, func(tx Tx) error { return tx.CreateNode(newNode("old")) })
	mustUpdate(t, s, func(tx Tx) error {
		for _, step := range []func() error{
			func() error { return tx.CreateNode(newNode("n1")) },
			func() error { n := tx.Node("n1").Copy(); n.Spec.Role = types.RoleManager; return tx.UpdateNode(n) },
			func() error { n := tx.Node("n1").Copy(); n.Status.Message = "twice"; return tx.UpdateNode(n) },
			func() error { return tx.CreateNode(newNode("gone")) },
			func() error { return tx.DeleteNode("gone") },
			func() error { n := tx.Node("old").Copy(); n.Status.Message = "x"; return tx.UpdateNode(n) },
			func() error { return tx.DeleteNode("old") },
			func() error { return tx.CreateNode(newNode("old")) },
			func() error { n := tx.Node("old").Copy(); n.Status.Message = "reborn"; return tx.UpdateNode(n) },
		} {
			if err := step(); err != nil {
				return err
			}
		}
		return nil
	})
	tx := view(s)
	n1 := tx.Node("n1")
	if n1 == nil || n1.Spec.Role != types.RoleManager || n1.Status.Message != "twice" || n1.Version != 2 {
		t.Fatalf("n1 = %+v", n1)
	}
	if tx.Node("gone") != nil {
		t.Fatal("node created and deleted in one transaction exists")
	}
	if old := tx.Node("old"); old == nil || old.Status.Message != "reborn" {
		t.Fatalf("old = %+v, want the re-created node", old)
	}
}

func TestUpdateWithoutChangesWritesNothing(t *testing.T) {
	s, _ := newMemory(t)
	mustUpdate(t, s, func(tx Tx) error { return tx.CreateNode(newNode("n1")) })
	mustUpdate(t, s, func(tx Tx) error { _ = tx.Nodes(); return nil })
	if got := view(s).Index(); got != 1 {
		t.Fatalf("index = %d, want 1", got)
	}
}

func TestUpdateReturnsFnErrorAndDiscardsChanges(t *testing.T) {
	s, _ := newMemory(t)
	boom := errors.New("boom")
	err := s.Update(testCtx(t), func(tx Tx) error {
		if err := tx.CreateNode(newNode("n1")); err != nil {
			return err
		}
		if tx.Node("n1") == nil {
			t.Error("a Tx does not read its own write")
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if view(s).Node("n1") != nil || view(s).Index() != 0 {
		t.Fatal("changes of a failed function applied")
	}
}

func TestUpdateAfterCloseOrCancel(t *testing.T) {
	s, _ := newMemory(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.updateSem <- struct{}{} // an update in progress
	err := s.Update(ctx, func(tx Tx) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	<-s.updateSem
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(testCtx(t), func(tx Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
	if s.IsLeader() {
		t.Fatal("a closed store claims to lead")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestIndexes proves the secondary indexes answer exactly.
func TestIndexes(t *testing.T) {
	s, _ := newMemory(t)
	mustUpdate(t, s, func(tx Tx) error {
		for _, x := range []*types.Task{
			newTask("t3", "s1", 1, "n1"),
			newTask("t1", "s1", 1, "n2"),
			newTask("t2", "s1", 2, ""),
			newTask("t4", "s10", 1, "n1"),
			newTask("t5", "s", 1, "n10"),
		} {
			if err := tx.CreateTask(x); err != nil {
				return err
			}
		}
		if err := tx.CreateService(newService("s1", "web")); err != nil {
			return err
		}
		return tx.CreateService(newService("s10", "webapp"))
	})
	tx := view(s)
	ids := func(ts []*types.Task) []string {
		var out []string
		for _, x := range ts {
			out = append(out, x.ID)
		}
		return out
	}
	cases := []struct {
		name string
		got  []*types.Task
		want []string
	}{
		{"all", tx.Tasks(), []string{"t1", "t2", "t3", "t4", "t5"}},
		{"by service s1", tx.TasksByService("s1"), []string{"t1", "t2", "t3"}},
		{"by service s", tx.TasksByService("s"), []string{"t5"}},
		{"by node n1", tx.TasksByNode("n1"), []string{"t3", "t4"}},
		{"by node none", tx.TasksByNode(""), nil},
		{"by slot s1.1", tx.TasksBySlot("s1", 1), []string{"t1", "t3"}},
		{"by slot s1.2", tx.TasksBySlot("s1", 2), []string{"t2"}},
		{"by slot s10.1", tx.TasksBySlot("s10", 1), []string{"t4"}},
		{"by slot s1.3", tx.TasksBySlot("s1", 3), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ids(c.got); !slices.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
	if svc := tx.ServiceByName("web"); svc == nil || svc.ID != "s1" {
		t.Fatalf("ServiceByName(web) = %+v", svc)
	}
	if tx.ServiceByName("we") != nil || tx.Service("s") != nil {
		t.Fatal("a lookup matched a prefix")
	}
}
