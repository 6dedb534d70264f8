package rpc

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/mesh"
	"github.com/hiveorch/hive/core/session"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/testutil"
)

// managers is three fake managers sharing one fakeCluster.
type managers struct {
	cluster *fakeCluster
	nodes   map[string]*node
	disp    map[string]*fakeDispatcher
}

func startManagers(t *testing.T, p *pki) *managers {
	t.Helper()
	m := &managers{cluster: newFakeCluster(), nodes: map[string]*node{}, disp: map[string]*fakeDispatcher{}}
	for _, id := range []string{"m1", "m2", "m3"} {
		var d *fakeDispatcher
		n := p.serve(t, id, func(srv *grpc.Server) {
			d = newFakeDispatcher("", m.cluster)
			RegisterDispatcher(srv, d)
		})
		d.addr = n.addr
		d.routes = map[mesh.PortKey]mesh.Route{{Protocol: types.ProtocolTCP, Port: 8080}: {ServiceID: "s-" + id}}
		m.nodes[id], m.disp[id] = n, d
		m.cluster.add(id, n.addr)
	}
	return m
}

func (m *managers) lead(id string) { m.cluster.lead(m.nodes[id].addr) }

// register registers w1 and returns its assignment channel.
func register(t *testing.T, c *SessionClient) <-chan *session.Assignment {
	t.Helper()
	ctx := testCtx(t)
	if err := c.Register(ctx, session.Registration{NodeID: "w1", Addr: "10.0.0.1"}); err != nil {
		t.Fatalf("register: %v", err)
	}
	sets, err := c.Assignments(ctx, "w1")
	if err != nil {
		t.Fatal(err)
	}
	return sets
}

// firstSet reads the first set and reports which manager sent it.
func firstSet(t *testing.T, sets <-chan *session.Assignment) string {
	t.Helper()
	select {
	case a, ok := <-sets:
		if !ok || len(a.Tasks) != 1 {
			t.Fatalf("first set = %v (open %v)", a, ok)
		}
		return a.Tasks[0].ID
	case <-time.After(testWait):
		t.Fatal("no assignment set")
	}
	return ""
}

// waitClosed waits for the assignment channel to close.
func waitClosed(t *testing.T, sets <-chan *session.Assignment) {
	t.Helper()
	deadline := time.After(testWait)
	for {
		select {
		case _, ok := <-sets:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the session did not end")
		}
	}
}

// TestSessionClientFollowsTheLeader proves the agent's session finds the
// leader from any manager, moves to a new leader when leadership changes,
// and fails over when the leader dies, keeping the managers and routes up
// to date.
func TestSessionClientFollowsTheLeader(t *testing.T) {
	p := newPKI(t)
	m := startManagers(t, p)
	m.lead("m2")
	c := NewSessionClient(SessionConfig{
		Managers: []string{m.nodes["m1"].addr}, // only a follower is known
		TLS:      p.clientTLS("w1", ca.OUWorker),
		Logger:   testutil.Logger(t),
	})
	t.Cleanup(func() { _ = c.Close() })
	routes := c.WatchRoutes(testCtx(t))

	// m1 sends the client to m2.
	sets := register(t, c)
	if got := firstSet(t, sets); got != "task-from-"+m.nodes["m2"].addr || c.Leader() != m.nodes["m2"].addr {
		t.Fatalf("first set from %s, leader %s; want both m2 (%s)", got, c.Leader(), m.nodes["m2"].addr)
	}
	if got := c.Managers(); len(got) != 3 || !got[1].Leader || got[1].ID != "m2" {
		t.Fatalf("managers = %+v", got)
	}
	select {
	case r := <-routes:
		if r[mesh.PortKey{Protocol: types.ProtocolTCP, Port: 8080}].ServiceID != "s-m2" {
			t.Fatalf("routes = %+v", r)
		}
	case <-time.After(testWait):
		t.Fatal("no routing table")
	}
	period, err := c.Heartbeat(testCtx(t), "w1")
	if err != nil || period != 1500*time.Millisecond {
		t.Fatalf("Heartbeat = %s, %v", period, err)
	}
	if err := c.UpdateTaskStatus(testCtx(t), "w1", []session.StatusUpdate{{TaskID: "t"}}); err != nil {
		t.Fatal(err)
	}
	m.disp["m2"].mu.Lock()
	beats, reports := m.disp["m2"].heartbeats["w1"], len(m.disp["m2"].statuses)
	m.disp["m2"].mu.Unlock()
	if beats != 1 || reports != 1 {
		t.Fatalf("m2 got %d heartbeats and %d reports, want 1 and 1", beats, reports)
	}

	// Leadership moves to m3: m2 ends the session naming m3, and the next
	// Register goes straight there.
	m1Attempts, _ := m.disp["m1"].counts()
	m.lead("m3")
	waitClosed(t, sets)
	sets = register(t, c)
	if got := firstSet(t, sets); got != "task-from-"+m.nodes["m3"].addr {
		t.Fatalf("after the leader moved, the set came from %s", got)
	}
	if a, _ := m.disp["m1"].counts(); a != m1Attempts {
		t.Fatal("the client asked m1 although m2 had named the new leader")
	}
	if _, err := c.Heartbeat(testCtx(t), "w1"); err != nil {
		t.Fatalf("heartbeat to the new leader: %v", err)
	}

	// The leader dies. While no other manager leads, Register fails with
	// unavailable; once m1 leads, the client gets there.
	m.nodes["m3"].kill()
	waitClosed(t, sets)
	err = c.Register(testCtx(t), session.Registration{NodeID: "w1"})
	if !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("Register with the leader dead = %v, want unavailable", err)
	}
	if _, err := c.Heartbeat(testCtx(t), "w1"); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("Heartbeat without a session = %v", err)
	}
	m.lead("m1")
	sets = register(t, c)
	if got := firstSet(t, sets); got != "task-from-"+m.nodes["m1"].addr || c.Leader() != m.nodes["m1"].addr {
		t.Fatalf("after the leader died, the set came from %s", got)
	}

	// A not-leader answer to a heartbeat ends the session at once.
	m.cluster.fail(&store.NotLeaderError{LeaderID: "m2", LeaderAddr: m.nodes["m2"].addr})
	if _, err := c.Heartbeat(testCtx(t), "w1"); err == nil || LeaderAddr(err) != m.nodes["m2"].addr {
		t.Fatalf("Heartbeat to a former leader = %v, want not leader naming m2", err)
	}
	waitClosed(t, sets)
	m.cluster.fail(nil)
	m.lead("m2")
	sets = register(t, c)
	if got := firstSet(t, sets); got != "task-from-"+m.nodes["m2"].addr {
		t.Fatalf("after a not-leader heartbeat, the set came from %s", got)
	}
}

// TestSessionClientBacksOff proves a client whose managers are all
// unreachable waits longer and longer between rounds, whoever calls it.
func TestSessionClientBacksOff(t *testing.T) {
	p := newPKI(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c := NewSessionClient(SessionConfig{Managers: []string{addr}, TLS: p.clientTLS("w1", ca.OUWorker), Logger: testutil.Logger(t)})
	t.Cleanup(func() { _ = c.Close() })
	var ends []time.Time
	for range 4 {
		err := c.Register(testCtx(t), session.Registration{NodeID: "w1"})
		if !errors.Is(err, errdefs.ErrUnavailable) {
			t.Fatalf("Register = %v, want unavailable", err)
		}
		ends = append(ends, time.Now())
	}
	for i, want := range []time.Duration{sessionMinBackoff, 2 * sessionMinBackoff, 4 * sessionMinBackoff} {
		if gap := ends[i+1].Sub(ends[i]); gap < want {
			t.Errorf("round %d ended %s after the one before, want at least %s", i+2, gap, want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Register(ctx, session.Registration{NodeID: "w1"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Register with a cancelled context while backing off = %v", err)
	}
}

// TestSessionClientEndsWithItsContext proves cancelling the context
// passed to Assignments ends the session and closes the channel.
func TestSessionClientEndsWithItsContext(t *testing.T) {
	p := newPKI(t)
	m := startManagers(t, p)
	m.lead("m1")
	c := NewSessionClient(SessionConfig{Managers: []string{m.nodes["m1"].addr}, TLS: p.clientTLS("w1", ca.OUWorker)})
	t.Cleanup(func() { _ = c.Close() })
	ctx := testCtx(t)
	if err := c.Register(ctx, session.Registration{NodeID: "w1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Assignments(ctx, "w2"); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("Assignments for another node = %v", err)
	}
	actx, cancel := context.WithCancel(ctx)
	sets, err := c.Assignments(actx, "w1")
	if err != nil {
		t.Fatal(err)
	}
	firstSet(t, sets)
	cancel()
	waitClosed(t, sets)
	testutil.Eventually(t, testWait, "the session is gone", func() bool { return c.Leader() == "" })
	managers := c.WatchManagers(ctx)
	select {
	case list := <-managers:
		if len(list) != 3 {
			t.Fatalf("managers = %+v", list)
		}
	case <-time.After(testWait):
		t.Fatal("WatchManagers does not start with the known list")
	}
	_ = c.Close()
	if _, ok := <-managers; ok {
		t.Fatal("WatchManagers is open after Close")
	}
}
