package store

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/hiveorch/hive/core/types"
)

// The property test drives a NewMemory store and a plain map model with
// the same random transactions (creates, updates, stale updates, deletes,
// renames onto taken names, aborted transactions) and checks after each
// one that both agree on every object, every version, the index and every
// secondary index.

// entry is the model of one object: the fields the test varies.
type entry struct {
	version uint64
	msg     string // node: Status.Message
	name    string // service: Spec.Name
	svc     string // task: ServiceID
	node    string // task: NodeID
	slot    uint64 // task: Slot
}

type model struct {
	index uint64
	objs  map[string]map[string]entry // kind name -> id -> entry
}

func newModel() *model {
	return &model{objs: map[string]map[string]entry{"node": {}, "service": {}, "task": {}}}
}

func (m *model) clone() *model {
	c := &model{index: m.index, objs: map[string]map[string]entry{}}
	for k, v := range m.objs {
		c.objs[k] = maps.Clone(v)
	}
	return c
}

// nameOwner returns the service holding name, or "".
func (m *model) nameOwner(name string) string {
	for id, e := range m.objs["service"] {
		if e.name == name {
			return id
		}
	}
	return ""
}

var (
	poolIDs = map[string][]string{
		"node":    {"n0", "n1", "n2", "n3"},
		"service": {"s0", "s1", "s2", "s3"},
		"task":    {"t0", "t1", "t2", "t3", "t4", "t5"},
	}
	poolNames    = []string{"a", "b", "c"}
	poolTaskNode = []string{"", "n0", "n1", "n2"}
	kindNames    = []string{"node", "service", "task"}
)

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// randomEntry returns random field values for an object of kind.
func randomEntry(rng *rand.Rand, kind string) entry {
	switch kind {
	case "node":
		return entry{msg: fmt.Sprintf("m%d", rng.IntN(100))}
	case "service":
		return entry{name: pick(rng, poolNames)}
	}
	return entry{svc: pick(rng, poolIDs["service"]), node: pick(rng, poolTaskNode), slot: uint64(rng.IntN(3))}
}

// object builds the stored object of kind with e's fields, over base
// (a copy of the current object) when not nil.
func object(kind, id string, e entry, base any) any {
	switch kind {
	case "node":
		n, _ := base.(*types.Node)
		if n == nil {
			n = newNode(id)
		}
		n.Status.Message = e.msg
		return n
	case "service":
		s, _ := base.(*types.Service)
		if s == nil {
			s = newService(id, "")
		}
		s.Spec.Name = e.name
		return s
	}
	x, _ := base.(*types.Task)
	if x == nil {
		x = newTask(id, "", 0, "")
	}
	x.ServiceID, x.NodeID, x.Slot = e.svc, e.node, e.slot
	return x
}

// read returns a copy of the object kind/id in tx, or nil.
func read(tx ReadTx, kind, id string) any {
	switch kind {
	case "node":
		if n := tx.Node(id); n != nil {
			return n.Copy()
		}
	case "service":
		if s := tx.Service(id); s != nil {
			return s.Copy()
		}
	default:
		if x := tx.Task(id); x != nil {
			return x.Copy()
		}
	}
	return nil
}

func txCreate(tx Tx, kind string, obj any) error {
	switch kind {
	case "node":
		return tx.CreateNode(obj.(*types.Node))
	case "service":
		return tx.CreateService(obj.(*types.Service))
	}
	return tx.CreateTask(obj.(*types.Task))
}

func txUpdate(tx Tx, kind string, obj any) error {
	switch kind {
	case "node":
		return tx.UpdateNode(obj.(*types.Node))
	case "service":
		return tx.UpdateService(obj.(*types.Service))
	}
	return tx.UpdateTask(obj.(*types.Task))
}

func txDelete(tx Tx, kind, id string) error {
	switch kind {
	case "node":
		return tx.DeleteNode(id)
	case "service":
		return tx.DeleteService(id)
	}
	return tx.DeleteTask(id)
}

var errAbort = errors.New("abort")

// step runs one random transaction on s and the model, checking each
// operation's error against the model's prediction, and returns the model
// after it.
func step(t *testing.T, rng *rand.Rand, s *Store, m *model, seen map[string]int) *model {
	t.Helper()
	next := m.clone()
	touched := map[[2]string]bool{}
	abort := rng.IntN(7) == 0
	err := s.Update(testCtx(t), func(tx Tx) error {
		for range 1 + rng.IntN(4) {
			kind := pick(rng, kindNames)
			id := pick(rng, poolIDs[kind])
			cur, exists := next.objs[kind][id]
			var want, got error
			switch action := rng.IntN(4); action {
			case 0: // create
				e := randomEntry(rng, kind)
				switch {
				case exists:
					want = ErrExist
				case kind == "service" && next.nameOwner(e.name) != "":
					want = ErrNameConflict
				}
				got = txCreate(tx, kind, object(kind, id, e, nil))
				if want == nil {
					next.objs[kind][id] = e
				}
			case 1, 2: // update, stale when 2
				e := randomEntry(rng, kind)
				obj := object(kind, id, e, read(tx, kind, id))
				switch {
				case !exists:
					want = ErrNotFound
				case action == 2:
					want = ErrSequenceConflict
					kinds[kind].meta(obj).Version++
				case kind == "service" && next.nameOwner(e.name) != "" && next.nameOwner(e.name) != id:
					want = ErrNameConflict
				}
				got = txUpdate(tx, kind, obj)
				if want == nil {
					e.version = cur.version
					next.objs[kind][id] = e
				}
			case 3: // delete
				if !exists {
					want = ErrNotFound
				}
				got = txDelete(tx, kind, id)
				if want == nil {
					delete(next.objs[kind], id)
				}
			}
			if (want == nil) != (got == nil) || (want != nil && !errors.Is(got, want)) {
				t.Fatalf("%s %s: err = %v, want %v", kind, id, got, want)
			}
			seen[fmt.Sprint(want)]++
			if want == nil {
				touched[[2]string{kind, id}] = true
			}
		}
		if abort {
			return errAbort
		}
		return nil
	})
	if abort {
		seen["aborted"]++
		if !errors.Is(err, errAbort) {
			t.Fatalf("aborted update: err = %v", err)
		}
		return m
	}
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if len(touched) > 0 {
		next.index++
		for key := range touched {
			kind, id := key[0], key[1]
			if e, ok := next.objs[kind][id]; ok {
				e.version = next.index
				next.objs[kind][id] = e
			}
		}
	}
	return next
}

// agree fails the test when the store's state differs from the model.
func agree(t *testing.T, s *Store, m *model) {
	t.Helper()
	tx := view(s)
	if tx.Index() != m.index {
		t.Fatalf("index = %d, model %d", tx.Index(), m.index)
	}
	got := map[string]map[string]entry{"node": {}, "service": {}, "task": {}}
	for _, n := range tx.Nodes() {
		got["node"][n.ID] = entry{version: n.Version, msg: n.Status.Message}
	}
	for _, svc := range tx.Services() {
		got["service"][svc.ID] = entry{version: svc.Version, name: svc.Spec.Name}
	}
	for _, x := range tx.Tasks() {
		got["task"][x.ID] = entry{version: x.Version, svc: x.ServiceID, node: x.NodeID, slot: x.Slot}
	}
	for _, k := range kindNames {
		if !maps.Equal(got[k], m.objs[k]) {
			t.Fatalf("%ss:\nstore %v\nmodel %v", k, got[k], m.objs[k])
		}
	}
	for _, name := range poolNames {
		gotID := ""
		if svc := tx.ServiceByName(name); svc != nil {
			gotID = svc.ID
		}
		if want := m.nameOwner(name); gotID != want {
			t.Fatalf("ServiceByName(%s) = %q, model %q", name, gotID, want)
		}
	}
	taskIDs := func(ts []*types.Task) []string {
		out := []string{}
		for _, x := range ts {
			out = append(out, x.ID)
		}
		return out
	}
	modelTasks := func(keep func(entry) bool) []string {
		out := []string{}
		for _, id := range slices.Sorted(maps.Keys(m.objs["task"])) {
			if keep(m.objs["task"][id]) {
				out = append(out, id)
			}
		}
		return out
	}
	for _, svc := range poolIDs["service"] {
		if g, w := taskIDs(tx.TasksByService(svc)), modelTasks(func(e entry) bool { return e.svc == svc }); !slices.Equal(g, w) {
			t.Fatalf("TasksByService(%s) = %v, model %v", svc, g, w)
		}
		for slot := range uint64(3) {
			g := taskIDs(tx.TasksBySlot(svc, slot))
			w := modelTasks(func(e entry) bool { return e.svc == svc && e.slot == slot })
			if !slices.Equal(g, w) {
				t.Fatalf("TasksBySlot(%s, %d) = %v, model %v", svc, slot, g, w)
			}
		}
	}
	for _, node := range poolTaskNode[1:] {
		if g, w := taskIDs(tx.TasksByNode(node)), modelTasks(func(e entry) bool { return e.node == node }); !slices.Equal(g, w) {
			t.Fatalf("TasksByNode(%s) = %v, model %v", node, g, w)
		}
	}
}

// TestStoreAgreesWithMapModel is the property test.
func TestStoreAgreesWithMapModel(t *testing.T) {
	steps := 300
	if testing.Short() {
		steps = 50
	}
	seen := map[string]int{}
	for seed := range uint64(12) {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0x5eed))
			s, _ := newMemory(t)
			m := newModel()
			for i := range steps {
				m = step(t, rng, s, m, seen)
				agree(t, s, m)
				if t.Failed() {
					t.Fatalf("after step %d", i)
				}
			}
		})
	}
	// The run must have exercised every outcome, or it proves little.
	for _, want := range []error{nil, ErrExist, ErrNotFound, ErrSequenceConflict, ErrNameConflict, errAbort} {
		key := fmt.Sprint(want)
		if want == errAbort {
			key = "aborted"
		}
		if seen[key] == 0 {
			t.Errorf("no operation had outcome %q (outcomes %v)", key, seen)
		}
	}
	t.Logf("outcomes: %v", seen)
}
