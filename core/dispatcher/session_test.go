package dispatcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/mesh"
	"github.com/hiveorch/hive/core/session"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/testutil"
)

// sessionRun is a Session running on its own goroutine; its messages
// arrive on msgs and its result on done.
type sessionRun struct {
	msgs   chan *SessionMessage
	done   chan error
	cancel context.CancelFunc
}

func startSession(t *testing.T, d *Dispatcher, nodeID string) *sessionRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &sessionRun{msgs: make(chan *SessionMessage, 64), done: make(chan error, 1), cancel: cancel}
	go func() {
		r.done <- d.Session(ctx, session.Registration{NodeID: nodeID, Addr: "10.0.0.9"}, func(m *SessionMessage) error {
			r.msgs <- m
			return nil
		})
	}()
	t.Cleanup(cancel)
	return r
}

func (r *sessionRun) next(t *testing.T) *SessionMessage {
	t.Helper()
	select {
	case m := <-r.msgs:
		return m
	case err := <-r.done:
		t.Fatalf("the session ended: %v", err)
	case <-clock.Real{}.After(10 * time.Second):
		t.Fatal("no session message within 10s")
	}
	return nil
}

func (r *sessionRun) end(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		return err
	case <-clock.Real{}.After(10 * time.Second):
		t.Fatal("the session did not end within 10s")
	}
	return nil
}

func memoryDispatcher(t *testing.T) (*Dispatcher, *store.Store, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := store.NewMemory(clk)
	t.Cleanup(func() { _ = s.Close() })
	d := New(s, clk, slog.New(slog.DiscardHandler))
	d.RouteDelay = 0
	return d, s, clk
}

func mustUpdate(t *testing.T, s *store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func webService() *types.Service {
	svc := &types.Service{ID: "s1", Spec: types.ServiceSpec{Name: "web", Mode: types.ModeReplicated, Replicas: 1}}
	svc.Endpoint.Ports = []types.PortConfig{{Protocol: types.ProtocolTCP, TargetPort: 80, PublishedPort: 8080, PublishMode: types.PublishIngress}}
	return svc
}

func webTask(id, nodeID string, state types.TaskState, addr string) *types.Task {
	t := &types.Task{ID: id, ServiceID: "s1", ServiceName: "web", Slot: 1, NodeID: nodeID,
		DesiredState: types.TaskStateRunning, Status: types.TaskStatus{State: state}}
	if addr != "" {
		t.Status.Addresses = []string{addr}
	}
	return t
}

// TestSessionStreamsWhatChanges proves a session's first message carries
// everything and later ones each part as it changes: the node's own
// assignment set, and the routing table of the whole cluster (including
// tasks on other nodes), sent only when it changes.
func TestSessionStreamsWhatChanges(t *testing.T) {
	d, s, _ := memoryDispatcher(t)
	r := startSession(t, d, "n1")

	first := r.next(t)
	if first.Assignments == nil || len(first.Assignments.Tasks) != 0 || first.Routes == nil || len(first.Routes.Routes) != 0 ||
		first.HeartbeatPeriod != DefaultHeartbeatPeriod || !reflect.DeepEqual(first.Managers, []ManagerInfo{{ID: "local", Leader: true}}) {
		t.Fatalf("first message = %+v", first)
	}
	var n1 *types.Node
	s.View(func(tx store.ReadTx) { n1 = tx.Node("n1") })
	if n1 == nil || n1.Status.State != types.NodeStateReady || n1.Status.Addr != "10.0.0.9" {
		t.Fatalf("node record after the session opened = %+v", n1)
	}

	// A published service: the table gains its port, with no backend.
	mustUpdate(t, s, func(tx store.Tx) error { return tx.CreateService(webService()) })
	m := r.next(t)
	key := mesh.PortKey{Protocol: types.ProtocolTCP, Port: 8080}
	if m.Routes == nil || m.Assignments != nil || m.Managers != nil || len(m.Routes.Routes[key].Backends) != 0 {
		t.Fatalf("after the service = %+v", m)
	}

	// A task assigned to another node and starting: nothing for n1.
	mustUpdate(t, s, func(tx store.Tx) error { return tx.CreateTask(webTask("t2", "n2", types.TaskStateStarting, "")) })
	// A task running on another node: the table gains a backend there.
	mustUpdate(t, s, func(tx store.Tx) error {
		cur := tx.Task("t2").Copy()
		cur.Status = types.TaskStatus{State: types.TaskStateRunning, Addresses: []string{"10.0.1.2"}}
		return tx.UpdateTask(cur)
	})
	m = r.next(t)
	want := []mesh.Backend{{TaskID: "t2", NodeID: "n2", Addr: "10.0.1.2:80"}}
	if m.Routes == nil || m.Assignments != nil || !reflect.DeepEqual(m.Routes.Routes[key].Backends, want) {
		t.Fatalf("after a task of n2 runs = %+v, want backends %v", m, want)
	}

	// A task assigned to n1: its set, and no new table (not running).
	mustUpdate(t, s, func(tx store.Tx) error { return tx.CreateTask(webTask("t1", "n1", types.TaskStateAssigned, "")) })
	m = r.next(t)
	if m.Assignments == nil || len(m.Assignments.Tasks) != 1 || m.Assignments.Tasks[0].ID != "t1" || m.Routes != nil {
		t.Fatalf("after a task of n1 is assigned = %+v", m)
	}

	r.cancel()
	if err := r.end(t); err != nil {
		t.Fatalf("a session whose node left ended with %v, want nil", err)
	}
}

func TestNewerSessionReplacesTheOlder(t *testing.T) {
	d, _, _ := memoryDispatcher(t)
	old := startSession(t, d, "n1")
	old.next(t)
	newer := startSession(t, d, "n1")
	newer.next(t)
	if err := old.end(t); !errors.Is(err, errSuperseded) || !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("the older session ended with %v, want it superseded", err)
	}
	select {
	case err := <-newer.done:
		t.Fatalf("the newer session ended: %v", err)
	default:
	}
}

func TestNodeChecks(t *testing.T) {
	d, s, _ := memoryDispatcher(t)
	ctx := context.Background()
	if err := d.Register(ctx, session.Registration{}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("Register without a node ID = %v", err)
	}
	if _, err := d.Heartbeat(ctx, "ghost"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Heartbeat of a node without a record = %v, want not found", err)
	}
	if err := d.Session(ctx, session.Registration{}, nil); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("Session without a node ID = %v", err)
	}

	d.RefuseUnknownNodes = true
	err := d.Register(ctx, session.Registration{NodeID: "stranger"})
	if !errors.Is(err, errdefs.ErrPermissionDenied) {
		t.Fatalf("Register of an unknown node with RefuseUnknownNodes = %v", err)
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.CreateNode(&types.Node{ID: "member", Spec: types.NodeSpec{Role: types.RoleWorker}})
	})
	if err := d.Register(ctx, session.Registration{NodeID: "member"}); err != nil {
		t.Fatalf("Register of a known node = %v", err)
	}
}

func TestHeartbeatPeriodGrowsWithTheCluster(t *testing.T) {
	d, s, clk := memoryDispatcher(t)
	mustUpdate(t, s, func(tx store.Tx) error {
		for i := range 150 {
			if err := tx.CreateNode(&types.Node{ID: fmt.Sprintf("n%03d", i)}); err != nil {
				return err
			}
		}
		return nil
	})
	p, err := d.Heartbeat(context.Background(), "n001")
	if err != nil || p != 3*time.Second {
		t.Fatalf("Heartbeat with 150 nodes = %s, %v; want 3s", p, err)
	}
	if got := d.LastSeen("n001"); !got.Equal(clk.Now()) {
		t.Fatalf("LastSeen = %v, want %v", got, clk.Now())
	}
}

func TestRouteTableJSON(t *testing.T) {
	in := RouteTable{Routes: map[mesh.PortKey]mesh.Route{
		{Protocol: types.ProtocolTCP, Port: 80}:   {ServiceID: "a", ServiceName: "a", Backends: []mesh.Backend{{TaskID: "t", NodeID: "n", Addr: "1.2.3.4:80"}}},
		{Protocol: types.ProtocolTCP, Port: 8080}: {ServiceID: "b", ServiceName: "b"},
	}}
	b, err := json.Marshal(SessionMessage{Routes: &in})
	if err != nil {
		t.Fatal(err)
	}
	var out SessionMessage
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out.Routes.Routes, in.Routes) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", out.Routes.Routes, in.Routes)
	}
}

// TestSessionEndsWhenLeadershipIsLost proves only the leader serves
// sessions: a follower refuses naming the leader, and a leader that hands
// leadership over ends its sessions naming the new leader.
func TestSessionEndsWhenLeadershipIsLost(t *testing.T) {
	ids := []string{"m1", "m2"}
	trans := map[string]*raft.InmemTransport{}
	for _, id := range ids {
		_, trans[id] = raft.NewInmemTransport(raft.ServerAddress(id))
	}
	trans["m1"].Connect("m2", trans["m2"])
	trans["m2"].Connect("m1", trans["m1"])
	stores := map[string]*store.Store{}
	for _, id := range ids {
		s, err := store.Open(store.Config{DataDir: t.TempDir(), NodeID: id, Transport: trans[id], Bootstrap: id == "m1",
			HeartbeatTimeout: store.DefaultHeartbeatTimeout, ElectionTimeout: store.DefaultElectionTimeout})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		stores[id] = s
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if !stores["m1"].AwaitLeadership(ctx) {
		t.Fatal("m1 never led")
	}
	if err := stores["m1"].AddVoter(ctx, "m2", "m2"); err != nil {
		t.Fatal(err)
	}
	if err := stores["m2"].WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}

	follower := New(stores["m2"], clock.Real{}, slog.New(slog.DiscardHandler))
	err := follower.Session(ctx, session.Registration{NodeID: "w1"}, func(*SessionMessage) error { return nil })
	var nl *store.NotLeaderError
	if !errors.As(err, &nl) || nl.LeaderAddr != "m1" {
		t.Fatalf("Session on a follower = %v, want a NotLeaderError naming m1", err)
	}
	if _, err := follower.Heartbeat(ctx, "w1"); !errors.As(err, &nl) {
		t.Fatalf("Heartbeat on a follower = %v, want a NotLeaderError", err)
	}

	leader := New(stores["m1"], clock.Real{}, slog.New(slog.DiscardHandler))
	r := startSession(t, leader, "w1")
	if m := r.next(t); len(m.Managers) != 2 || !m.Managers[0].Leader || m.Managers[0].Addr != "m1" {
		t.Fatalf("managers in the first message = %+v", m.Managers)
	}
	if err := stores["m1"].Raft().LeadershipTransfer().Error(); err != nil {
		t.Fatal(err)
	}
	err = r.end(t)
	if !errors.Is(err, store.ErrNotLeader) {
		t.Fatalf("session after leadership moved = %v, want ErrNotLeader", err)
	}
}

// TestRouteTableFollowsTheCluster proves the one routing table the leader
// computes follows the state after RouteDelay: a burst of changes makes one
// table, which carries the nodes' addresses, drops a task told to stop at
// once and a deleted service's port.
func TestRouteTableFollowsTheCluster(t *testing.T) {
	const delay = 50 * time.Millisecond
	d, s, clk := memoryDispatcher(t)
	d.RouteDelay = delay
	r := startSession(t, d, "n1")
	r.next(t)
	key := mesh.PortKey{Protocol: types.ProtocolTCP, Port: 8080}
	// The service's port, once the feed follows the store (its first
	// pass may find the service before any event does).
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.CreateNode(&types.Node{ID: "n2", Status: types.NodeStatus{Addr: "10.0.0.2:4242"}}); err != nil {
			return err
		}
		return tx.CreateService(webService())
	})
	testutil.Eventually(t, 5*time.Second, "the service's port in the table", func() bool {
		clk.Advance(delay)
		select {
		case m := <-r.msgs:
			return m.Routes != nil && len(m.Routes.Routes) == 1
		default:
			return false
		}
	})
	base := clk.Waiters()
	// change makes the updates, the later ones once the feed waits
	// RouteDelay after the first, and returns the table sent once
	// RouteDelay has passed.
	change := func(what string, fn func(store.Tx) error, more ...func(store.Tx) error) map[mesh.PortKey]mesh.Route {
		t.Helper()
		mustUpdate(t, s, fn)
		testutil.Eventually(t, 5*time.Second, "the route feed to wait after "+what, func() bool { return clk.Waiters() == base+1 })
		for _, fn := range more {
			mustUpdate(t, s, fn)
		}
		clk.Advance(delay - time.Millisecond)
		select {
		case m := <-r.msgs:
			t.Fatalf("%s: a message before RouteDelay passed: %+v", what, m)
		default:
		}
		clk.Advance(time.Millisecond)
		m := r.next(t)
		if m.Routes == nil {
			t.Fatalf("%s: message without routes: %+v", what, m)
		}
		return m.Routes.Routes
	}

	table := change("a task", func(tx store.Tx) error { return tx.CreateTask(webTask("t2", "n2", types.TaskStateRunning, "10.0.1.2")) },
		func(tx store.Tx) error {
			t3 := webTask("t3", "n2", types.TaskStateRunning, "10.0.1.3")
			t3.Slot = 2
			return tx.CreateTask(t3)
		})
	want := []mesh.Backend{
		{TaskID: "t2", NodeID: "n2", Addr: "10.0.1.2:80", NodeAddr: "10.0.0.2:4242"},
		{TaskID: "t3", NodeID: "n2", Addr: "10.0.1.3:80", NodeAddr: "10.0.0.2:4242"},
	}
	if !reflect.DeepEqual(table[key].Backends, want) {
		t.Fatalf("after a burst: backends %+v, want %+v", table[key].Backends, want)
	}
	if clk.Advance(delay); len(r.msgs) != 0 {
		t.Fatalf("a burst sent a second message: %+v", <-r.msgs)
	}

	table = change("a node's new address", func(tx store.Tx) error {
		n := tx.Node("n2").Copy()
		n.Status.Addr = "10.0.0.3:4242"
		return tx.UpdateNode(n)
	})
	if b := table[key].Backends; len(b) != 2 || b[0].NodeAddr != "10.0.0.3:4242" || b[1].NodeAddr != "10.0.0.3:4242" {
		t.Fatalf("after the node moved: backends %+v", b)
	}

	table = change("a task told to stop", func(tx store.Tx) error {
		cur := tx.Task("t2").Copy()
		cur.DesiredState = types.TaskStateShutdown
		return tx.UpdateTask(cur)
	})
	if r, ok := table[key]; !ok || len(r.Backends) != 1 || r.Backends[0].TaskID != "t3" {
		t.Fatalf("after the task was told to stop: %+v", table)
	}

	table = change("the service deleted", func(tx store.Tx) error { return tx.DeleteService("s1") })
	if len(table) != 0 {
		t.Fatalf("after the service was deleted: %+v", table)
	}
}
