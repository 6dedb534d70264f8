package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/hiveorch/hive/core/logadapt"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/testutil"
)

// bufferSink is a raft.SnapshotSink into memory.
type bufferSink struct {
	bytes.Buffer
	closed, cancelled bool
	failWrite         bool
}

func (b *bufferSink) Write(p []byte) (int, error) {
	if b.failWrite {
		return 0, errors.New("disk full")
	}
	return b.Buffer.Write(p)
}
func (b *bufferSink) ID() string    { return "test" }
func (b *bufferSink) Close() error  { b.closed = true; return nil }
func (b *bufferSink) Cancel() error { b.cancelled = true; return nil }

var _ raft.SnapshotSink = (*bufferSink)(nil)

// fill writes a state with every kind of object and a few deletions.
func fill(t *testing.T, s *Store) {
	t.Helper()
	clk := s.clock
	mustUpdate(t, s, func(tx Tx) error {
		return tx.CreateCluster(&types.Cluster{Spec: types.ClusterSpec{TaskHistoryLimit: 4}, CreatedBy: "n1"})
	})
	mustUpdate(t, s, func(tx Tx) error {
		for _, id := range []string{"n1", "n2", "n3"} {
			if err := tx.CreateNode(newNode(id)); err != nil {
				return err
			}
		}
		for _, svc := range []*types.Service{newService("s1", "web"), newService("s2", "db")} {
			if err := tx.CreateService(svc); err != nil {
				return err
			}
		}
		for _, x := range []*types.Task{
			newTask("t1", "s1", 1, "n1"), newTask("t2", "s1", 2, "n2"), newTask("t3", "s2", 1, ""),
		} {
			if err := tx.CreateTask(x); err != nil {
				return err
			}
		}
		if err := tx.CreateSecret(&types.Secret{ID: "sec1", Spec: types.SecretSpec{Name: "db_pass"}, ValueVersion: 1, Sealed: []byte{1, 2, 3}}); err != nil {
			return err
		}
		if err := tx.CreateNetwork(newNetwork("net1", "backend", "10.0.0.0/24", 4096)); err != nil {
			return err
		}
		return tx.CreateConfig(&types.Config{ID: "cfg1", Spec: types.ConfigSpec{Name: "app.conf"}, ValueVersion: 1, Data: []byte("x=1")})
	})
	mustUpdate(t, s, func(tx Tx) error {
		x := tx.Task("t1").Copy()
		x.Status = types.TaskStatus{State: types.TaskStateRunning, Timestamp: clk.Now(), ContainerID: "c1",
			Addresses: []string{"10.0.0.2"}, StartedAt: clk.Now()}
		x.Networks = []types.NetworkAttachment{{NetworkID: "net1", Addresses: []netip.Prefix{netip.MustParsePrefix("10.0.0.3/24")}}}
		if err := tx.UpdateTask(x); err != nil {
			return err
		}
		if err := tx.DeleteNode("n3"); err != nil {
			return err
		}
		svc := tx.Service("s1").Copy()
		prev := svc.Spec.Copy()
		svc.PreviousSpec = &prev
		svc.Spec.Replicas = 3
		svc.Spec.Labels = map[string]string{"tier": "front"}
		svc.Endpoint.Ports = []types.PortConfig{{Protocol: types.ProtocolTCP, TargetPort: 80, PublishedPort: 8080}}
		svc.Spec.Networks = []types.NetworkAttachmentConfig{{Target: "net1", Aliases: []string{"www"}}}
		svc.Endpoint.VirtualIPs = []types.EndpointVirtualIP{{NetworkID: "net1", Addr: netip.MustParsePrefix("10.0.0.2/24")}}
		return tx.UpdateService(svc)
	})
}

// TestSnapshotPersistRestore proves a snapshot carries the whole state:
// restored into a fresh FSM it reads back identical, indexes included,
// and subscribers of that FSM get one ActionReset.
func TestSnapshotPersistRestore(t *testing.T) {
	s, clk := newMemory(t)
	clk.Advance(time.Hour)
	fill(t, s)

	snap, err := s.fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Writes after the snapshot was taken do not reach it.
	mustUpdate(t, s, func(tx Tx) error { return tx.CreateNode(newNode("late")) })

	var sink bufferSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	if !sink.closed || sink.cancelled {
		t.Fatalf("sink closed %t cancelled %t, want closed", sink.closed, sink.cancelled)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(sink.Bytes(), &doc); err != nil {
		t.Fatalf("snapshot is not a JSON document: %v", err)
	}
	for _, key := range []string{"version", "index", "cluster", "nodes", "services", "tasks"} {
		if _, ok := doc[key]; !ok {
			t.Fatalf("snapshot lacks %q: %s", key, sink.String())
		}
	}

	fresh := newFSM(testutil.LoggerAt(t, logadapt.LevelTrace))
	_, sub := fresh.watch(nil)
	if err := fresh.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	got := fresh.read()
	if got.Index() != 3 {
		t.Fatalf("restored index = %d, want 3", got.Index())
	}
	if got.Node("late") != nil {
		t.Fatal("the snapshot holds a later write")
	}
	// The source minus the late node is the restored state.
	if g, w := stateJSON(t, got), stateJSON(t, withoutNode(t, s.fsm, "late").withIndex(3)); g != w {
		t.Fatalf("restored state differs:\n got %s\nwant %s", g, w)
	}
	if svc := got.ServiceByName("web"); svc == nil || svc.ID != "s1" || svc.Spec.Replicas != 3 {
		t.Fatalf("ServiceByName(web) after restore = %+v", svc)
	}
	if n := got.NetworkByName("backend"); n == nil || n.ID != "net1" || n.Subnet.String() != "10.0.0.0/24" || n.VNI != 4096 {
		t.Fatalf("NetworkByName(backend) after restore = %+v", n)
	}
	if tk := got.Task("t1"); len(tk.Networks) != 1 || tk.Networks[0].Addresses[0].String() != "10.0.0.3/24" {
		t.Fatalf("task t1's networks after restore = %+v", tk.Networks)
	}
	if ts := got.TasksBySlot("s1", 2); len(ts) != 1 || ts[0].ID != "t2" {
		t.Fatalf("TasksBySlot after restore = %v", ts)
	}
	if ts := got.TasksByNode("n1"); len(ts) != 1 || !ts[0].Status.StartedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("TasksByNode after restore = %v", ts)
	}

	ev := receive(t, sub.ch)
	if ev.Action != ActionReset || ev.Index != 3 {
		t.Fatalf("event = %+v, want one reset at 3", ev)
	}
	if len(sub.ch) != 0 {
		t.Fatal("more than one event for a restore")
	}
}

// withoutNode returns f's state without one node, in a scratch
// transaction.
func withoutNode(t *testing.T, f *fsm, id string) readTx {
	t.Helper()
	r := f.scratch()
	t.Cleanup(r.txn.Abort)
	if err := r.txn.Delete(tableNodes, r.Node(id)); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRestoreRejectsBadSnapshots(t *testing.T) {
	cases := map[string]string{
		"newer format": `{"version":2,"index":5,"cluster":null,"nodes":[],"services":[],"tasks":[]}`,
		"no version":   `{"index":5}`,
		"not json":     `{"version":1,`,
		"object without id": `{"version":1,"index":5,"nodes":[{"id":""}],
			"services":[],"tasks":[]}`,
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFSM(testutil.LoggerAt(t, logadapt.LevelTrace))
			mustApply(t, f, 1, changeOf(t, opCreate, "node", "keep", newNode("keep")))
			if err := f.Restore(io.NopCloser(strings.NewReader(data))); err == nil {
				t.Fatal("restore succeeded")
			}
			if f.read().Node("keep") == nil || f.read().Index() != 1 {
				t.Fatal("a failed restore changed the state")
			}
		})
	}
}

func TestPersistCancelsSinkOnError(t *testing.T) {
	s, _ := newMemory(t)
	fill(t, s)
	snap, err := s.fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &bufferSink{failWrite: true}
	if err := snap.Persist(sink); err == nil {
		t.Fatal("persist succeeded on a failing sink")
	}
	if !sink.cancelled || sink.closed {
		t.Fatalf("sink cancelled %t closed %t, want cancelled", sink.cancelled, sink.closed)
	}
}

func TestSnapshotOfEmptyState(t *testing.T) {
	f := newFSM(testutil.LoggerAt(t, logadapt.LevelTrace))
	snap, _ := f.Snapshot()
	var sink bufferSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sink.String(), `"nodes":[]`) {
		t.Fatalf("empty lists should encode as []: %s", sink.String())
	}
	fresh := newFSM(testutil.LoggerAt(t, logadapt.LevelTrace))
	if err := fresh.Restore(io.NopCloser(&sink)); err != nil {
		t.Fatal(err)
	}
	if tx := fresh.read(); tx.Cluster() != nil || len(tx.Nodes()) != 0 || tx.Index() != 0 {
		t.Fatal("restored empty state is not empty")
	}
}

// mustApply applies one changes command to f at index.
func mustApply(t *testing.T, f *fsm, index uint64, changes ...change) {
	t.Helper()
	resp := f.Apply(&raft.Log{Index: index, Type: raft.LogCommand,
		Data: command(t, CommandChanges, 1, false, changesBody{Changes: changes})})
	if resp != nil {
		t.Fatalf("apply %d: %v", index, resp)
	}
}
