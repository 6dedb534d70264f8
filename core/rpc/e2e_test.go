package rpc

import (
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"

	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/dispatcher"
	"github.com/hiveorch/hive/core/mesh"
	"github.com/hiveorch/hive/core/session"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/testutil"
)

// TestRealDispatcherOverRPC runs the real dispatcher on a store behind
// the RPC server and a SessionClient in front: assignments, routes,
// heartbeats and status reports all make the trip.
func TestRealDispatcherOverRPC(t *testing.T) {
	p := newPKI(t)
	st := store.NewMemory(clock.Real{})
	t.Cleanup(func() { _ = st.Close() })
	d := dispatcher.New(st, clock.Real{}, testutil.Logger(t))
	n := p.serve(t, "m1", func(srv *grpc.Server) { RegisterDispatcher(srv, d) })
	c := NewSessionClient(SessionConfig{Managers: []string{n.addr}, TLS: p.clientTLS("w1", ca.OUWorker), Logger: testutil.Logger(t)})
	t.Cleanup(func() { _ = c.Close() })
	ctx := testCtx(t)
	routes := c.WatchRoutes(ctx)

	sets := register(t, c)
	select {
	case a := <-sets:
		if len(a.Tasks) != 0 {
			t.Fatalf("first set = %v", a.Tasks)
		}
	case <-time.After(testWait):
		t.Fatal("no first set")
	}
	svc := &types.Service{ID: "s1", Spec: types.ServiceSpec{Name: "web"}}
	svc.Endpoint.Ports = []types.PortConfig{{Protocol: types.ProtocolTCP, TargetPort: 80, PublishedPort: 8080}}
	err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateService(svc); err != nil {
			return err
		}
		return tx.CreateTask(&types.Task{ID: "t1", ServiceID: "s1", ServiceName: "web", Slot: 1, NodeID: "w1",
			DesiredState: types.TaskStateRunning, Status: types.TaskStatus{State: types.TaskStateAssigned},
			Spec: types.TaskSpec{Container: types.ContainerSpec{Image: "busybox"}}})
	})
	if err != nil {
		t.Fatal(err)
	}
	got := false
	for a := range sets {
		set := a.Tasks
		if got = len(set) == 1 && set[0].ID == "t1" && set[0].Spec.Container.Image == "busybox"; got {
			break
		}
	}
	if !got {
		t.Fatal("the session ended before the task was assigned")
	}

	if p, err := c.Heartbeat(ctx, "w1"); err != nil || p != dispatcher.DefaultHeartbeatPeriod {
		t.Fatalf("Heartbeat = %s, %v", p, err)
	}
	if d.LastSeen("w1").IsZero() {
		t.Fatal("the dispatcher did not record the heartbeat")
	}
	running := types.TaskStatus{State: types.TaskStateRunning, Addresses: []string{"10.0.0.7"}}
	if err := c.UpdateTaskStatus(ctx, "w1", []session.StatusUpdate{{TaskID: "t1", Status: running}}); err != nil {
		t.Fatal(err)
	}
	key := mesh.PortKey{Protocol: types.ProtocolTCP, Port: 8080}
	for {
		select {
		case table := <-routes:
			if b := table[key].Backends; len(b) == 1 && b[0].Addr == "10.0.0.7:80" && b[0].NodeID == "w1" {
				return
			}
		case <-time.After(testWait):
			t.Fatal("the routing table never showed the running task")
		}
	}
}

// TestForwardedWritesOverRPC proves a follower's store writes through the
// leader's Manager service: the write applies, the follower reads it back
// at once, and a conflict found by the leader reaches the follower's
// caller as the store's error.
func TestForwardedWritesOverRPC(t *testing.T) {
	p := newPKI(t)
	ids := []string{"m1", "m2"}
	trans := map[string]*raft.InmemTransport{}
	for _, id := range ids {
		_, trans[id] = raft.NewInmemTransport(raft.ServerAddress(id))
	}
	trans["m1"].Connect("m2", trans["m2"])
	trans["m2"].Connect("m1", trans["m1"])
	rpcAddr := map[string]string{}
	pool := NewPool(p.clientTLS("m2", ca.OUManager))
	t.Cleanup(func() { _ = pool.Close() })
	stores := map[string]*store.Store{}
	for _, id := range ids {
		s, err := store.Open(store.Config{
			DataDir: t.TempDir(), NodeID: id, Transport: trans[id], Bootstrap: id == "m1",
			HeartbeatTimeout: store.DefaultHeartbeatTimeout, ElectionTimeout: store.DefaultElectionTimeout,
			Forward: ForwardTo(pool, func() (string, string) {
				lid, _ := stores[id].Leader()
				return lid, rpcAddr[lid]
			}),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		stores[id] = s
		n := p.serve(t, id, func(srv *grpc.Server) { RegisterManager(srv, s, nil) })
		rpcAddr[id] = n.addr
	}
	ctx := testCtx(t)
	leader, follower := stores["m1"], stores["m2"]
	if !leader.AwaitLeadership(ctx) {
		t.Fatal("m1 never led")
	}
	if err := leader.AddVoter(ctx, "m2", "m2"); err != nil {
		t.Fatal(err)
	}
	if err := follower.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}

	err := follower.Update(ctx, func(tx store.Tx) error {
		return tx.CreateService(&types.Service{ID: "s1", Spec: types.ServiceSpec{Name: "web", Replicas: 1}})
	})
	if err != nil {
		t.Fatalf("write through the follower: %v", err)
	}
	var got *types.Service
	follower.View(func(tx store.ReadTx) { got = tx.Service("s1") })
	if got == nil {
		t.Fatal("the follower does not read its own write")
	}
	// A command the leader's FSM refuses: creating s1 again.
	lc, err := pool.Conn(rpcAddr["m1"])
	if err != nil {
		t.Fatal(err)
	}
	again := `{"type":"changes","v":1,"body":{"changes":[{"op":"create","kind":"service","id":"s1","object":{"id":"s1","spec":{"name":"other"}}}]}}`
	if _, err := NewManagerClient(lc).Propose(ctx, []byte(again)); !errors.Is(err, store.ErrExist) {
		t.Fatalf("a conflicting command: %v, want ErrExist from the leader's FSM", err)
	}

	// The status of the group, from the follower's point of view, over
	// the wire.
	cc, err := pool.Conn(rpcAddr["m2"])
	if err != nil {
		t.Fatal(err)
	}
	status, err := NewManagerClient(cc).Status(ctx)
	if err != nil || status.LeaderID != "m1" || len(status.Members) != 2 || status.State != "follower" {
		t.Fatalf("Status of m2 = %+v, %v", status, err)
	}
	err = NewManagerClient(cc).AddVoter(ctx, "m3", "m3")
	if LeaderAddr(err) != "m1" || !errors.Is(err, store.ErrNotLeader) {
		t.Fatalf("AddVoter on the follower = %v, want not leader naming m1", err)
	}
	if _, err := NewManagerClient(cc).RenewCert(ctx, nil); err == nil {
		t.Fatal("RenewCert without a renew function succeeded")
	}
}
