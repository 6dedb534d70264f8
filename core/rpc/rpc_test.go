package rpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/dispatcher"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/mesh"
	"github.com/hiveorch/hive/core/session"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/taskstats"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// fullNode is one manager serving every service with fakes.
type fullNode struct {
	*node
	disp *fakeDispatcher
	mgr  *fakeManager
}

func serveAll(t *testing.T, p *pki) *fullNode {
	t.Helper()
	c := newFakeCluster()
	f := &fullNode{mgr: &fakeManager{}}
	f.node = p.serve(t, "m1", func(srv *grpc.Server) {
		f.disp = newFakeDispatcher("", c) // leads: "" is c's leader
		RegisterDispatcher(srv, f.disp)
		RegisterManager(srv, f.mgr, fakeRenew)
		RegisterAgent(srv, fakeLogs, fakeStats)
	})
	f.disp.routes = map[mesh.PortKey]mesh.Route{
		{Protocol: types.ProtocolTCP, Port: 8080}: {ServiceID: "s1", ServiceName: "web", Backends: []mesh.Backend{{TaskID: "t1", NodeID: "w1", Addr: "10.0.0.1:80"}}},
	}
	return f
}

// TestEveryRPCRoundTrips proves each method carries its request and its
// answer over a real cluster port with real certificates.
func TestEveryRPCRoundTrips(t *testing.T) {
	p := newPKI(t)
	n := serveAll(t, p)
	worker := dial(t, n.node, p.clientTLS("w1", ca.OUWorker))
	manager := dial(t, n.node, p.clientTLS("m2", ca.OUManager))
	ctx := testCtx(t)

	t.Run("Dispatcher.Session", func(t *testing.T) {
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stream, err := NewDispatcherClient(worker).Session(sctx, session.Registration{NodeID: "w1", Addr: "10.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		m, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if m.Assignments == nil || len(m.Assignments.Tasks) != 1 || m.Assignments.Tasks[0].NodeID != "w1" ||
			!reflect.DeepEqual(m.Routes.Routes, n.disp.routes) || m.HeartbeatPeriod != time.Second {
			t.Fatalf("first message = %+v", m)
		}
	})
	t.Run("Dispatcher.Heartbeat", func(t *testing.T) {
		p, err := NewDispatcherClient(worker).Heartbeat(ctx, "w1")
		if err != nil || p != 1500*time.Millisecond {
			t.Fatalf("Heartbeat = %s, %v", p, err)
		}
	})
	t.Run("Dispatcher.UpdateTaskStatus", func(t *testing.T) {
		up := []session.StatusUpdate{{TaskID: "t1", Status: types.TaskStatus{State: types.TaskStateRunning, Addresses: []string{"10.0.0.1"}}}}
		if err := NewDispatcherClient(worker).UpdateTaskStatus(ctx, "w1", up); err != nil {
			t.Fatal(err)
		}
		n.disp.mu.Lock()
		defer n.disp.mu.Unlock()
		if !reflect.DeepEqual(n.disp.statuses, up) {
			t.Fatalf("statuses received = %+v", n.disp.statuses)
		}
	})
	t.Run("Manager", func(t *testing.T) {
		mc := NewManagerClient(manager)
		index, err := mc.Propose(ctx, []byte(`{"type":"changes","v":1,"body":{"changes":[]}}`))
		if err != nil || index != 41 {
			t.Fatalf("Propose = %d, %v", index, err)
		}
		if err := mc.AddVoter(ctx, "m3", "127.0.0.3:4242"); err != nil {
			t.Fatal(err)
		}
		if err := mc.RemoveServer(ctx, "m3"); err != nil {
			t.Fatal(err)
		}
		st, err := mc.Status(ctx)
		if err != nil || !reflect.DeepEqual(st, n.mgr.Status()) {
			t.Fatalf("Status = %+v, %v", st, err)
		}
		cmds, added, removed := n.mgr.calls()
		if len(cmds) != 1 || string(cmds[0]) != `{"type":"changes","v":1,"body":{"changes":[]}}` ||
			!reflect.DeepEqual(added, []string{"m3@127.0.0.3:4242"}) || !reflect.DeepEqual(removed, []string{"m3"}) {
			t.Fatalf("calls = %q %v %v", cmds, added, removed)
		}
	})
	t.Run("Manager.RenewCert from a worker", func(t *testing.T) {
		r, err := NewManagerClient(worker).RenewCert(ctx, []byte("PUBKEY"))
		if err != nil || string(r.CertPEM) != "cert for w1 (hive-worker) of PUBKEY" || r.Role != types.RoleWorker || r.CAKeyPEM != nil {
			t.Fatalf("RenewCert = %+v, %v", r, err)
		}
		if r, err := NewManagerClient(worker).RenewCert(ctx, []byte("LEAK")); !errors.Is(err, errdefs.ErrPermissionDenied) {
			t.Fatalf("RenewCert handing a worker the CA key = %+v, %v; want it refused", r, err)
		}
	})
	t.Run("Agent.TaskLogs", func(t *testing.T) {
		var lines []string
		err := NewAgentClient(manager).TaskLogs(ctx, &types.Task{ID: "t1"}, runtime.LogOptions{Tail: -1}, func(e runtime.LogEntry) error {
			lines = append(lines, string(e.Line))
			return nil
		})
		if err != nil || !reflect.DeepEqual(lines, []string{"t1 line 1", "t1 line 2", "t1 line 3"}) {
			t.Fatalf("TaskLogs = %q, %v", lines, err)
		}
		stop := errors.New("enough")
		err = NewAgentClient(manager).TaskLogs(ctx, &types.Task{ID: "t1"}, runtime.LogOptions{}, func(runtime.LogEntry) error { return stop })
		if !errors.Is(err, stop) {
			t.Fatalf("TaskLogs with a failing sink = %v, want the sink's error", err)
		}
	})
	t.Run("Agent.TaskStats", func(t *testing.T) {
		var got []string
		req := taskstats.Request{Tasks: []*types.Task{{ID: "t1"}, {ID: "t2"}}, Count: 2}
		err := NewAgentClient(manager).TaskStats(ctx, req, func(x taskstats.Sample) error {
			got = append(got, fmt.Sprintf("%s:%d", x.TaskID, x.Stats.CPUNanos))
			return nil
		})
		if err != nil || !reflect.DeepEqual(got, []string{"t1:1", "t2:1", "t1:2", "t2:2"}) {
			t.Fatalf("TaskStats = %q, %v", got, err)
		}
		err = NewAgentClient(manager).TaskStats(ctx, taskstats.Request{}, func(taskstats.Sample) error { return nil })
		if !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Fatalf("TaskStats of no task = %v, want invalid argument", err)
		}
	})
}

// TestAuthorization proves the roles of cluster.md: worker and client
// certificates cannot call manager or agent methods, a node speaks only
// for itself, and a client without a certificate gets nothing.
func TestAuthorization(t *testing.T) {
	p := newPKI(t)
	n := serveAll(t, p)
	ctx := testCtx(t)
	worker := dial(t, n.node, p.clientTLS("w1", ca.OUWorker))
	client := dial(t, n.node, p.clientTLS("cli", ca.OUClient))
	manager := dial(t, n.node, p.clientTLS("m2", ca.OUManager))
	logs := func(cc *grpc.ClientConn) func() error {
		return func() error {
			return NewAgentClient(cc).TaskLogs(ctx, &types.Task{ID: "t1"}, runtime.LogOptions{}, func(runtime.LogEntry) error { return nil })
		}
	}
	stats := func(cc *grpc.ClientConn) func() error {
		return func() error {
			req := taskstats.Request{Tasks: []*types.Task{{ID: "t1"}}, Count: 1}
			return NewAgentClient(cc).TaskStats(ctx, req, func(taskstats.Sample) error { return nil })
		}
	}
	session := func(cc *grpc.ClientConn, id string) func() error {
		return func() error {
			sctx, cancel := context.WithCancel(ctx)
			defer cancel()
			s, err := NewDispatcherClient(cc).Session(sctx, sessionReg(id))
			if err != nil {
				return err
			}
			_, err = s.Recv()
			return err
		}
	}
	cases := []struct {
		name string
		call func() error
		ok   bool
	}{
		{"worker Propose", func() error { _, err := NewManagerClient(worker).Propose(ctx, []byte(`{}`)); return err }, false},
		{"worker AddVoter", func() error { return NewManagerClient(worker).AddVoter(ctx, "w1", "x:1") }, false},
		{"worker RemoveServer", func() error { return NewManagerClient(worker).RemoveServer(ctx, "m1") }, false},
		{"worker Status", func() error { _, err := NewManagerClient(worker).Status(ctx); return err }, false},
		{"worker TaskLogs", logs(worker), false},
		{"worker Heartbeat for another node", func() error { _, err := NewDispatcherClient(worker).Heartbeat(ctx, "w2"); return err }, false},
		{"worker UpdateTaskStatus for another node", func() error { return NewDispatcherClient(worker).UpdateTaskStatus(ctx, "w2", nil) }, false},
		{"worker Session for another node", session(worker, "w2"), false},
		{"worker Session for itself", session(worker, "w1"), true},
		{"client Heartbeat", func() error { _, err := NewDispatcherClient(client).Heartbeat(ctx, "cli"); return err }, false},
		{"client RenewCert", func() error { _, err := NewManagerClient(client).RenewCert(ctx, nil); return err }, false},
		{"client Status", func() error { _, err := NewManagerClient(client).Status(ctx); return err }, false},
		{"manager Heartbeat for another node", func() error { _, err := NewDispatcherClient(manager).Heartbeat(ctx, "w1"); return err }, false},
		{"manager Heartbeat for itself", func() error { _, err := NewDispatcherClient(manager).Heartbeat(ctx, "m2"); return err }, true},
		{"manager Status", func() error { _, err := NewManagerClient(manager).Status(ctx); return err }, true},
		{"manager TaskLogs", logs(manager), true},
		{"worker TaskStats", stats(worker), false},
		{"client TaskStats", stats(client), false},
		{"manager TaskStats", stats(manager), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var re *remoteError
			if !errors.Is(err, errdefs.ErrPermissionDenied) || !errors.As(err, &re) || re.code != codes.PermissionDenied {
				t.Fatalf("err = %v, want permission denied", err)
			}
			t.Logf("refused: %v", err)
		})
	}
	if _, _, removed := n.mgr.calls(); len(removed) != 0 {
		t.Fatalf("a refused RemoveServer reached the backend: %v", removed)
	}
	n.disp.mu.Lock()
	defer n.disp.mu.Unlock()
	if n.disp.heartbeats["w2"] != 0 || n.disp.heartbeats["w1"] != 0 || n.disp.heartbeats["m2"] != 1 {
		t.Fatalf("heartbeats that reached the backend: %v", n.disp.heartbeats)
	}
}

func sessionReg(id string) session.Registration { return session.Registration{NodeID: id} }

// TestRefusedWithoutAClusterCertificate proves a client with no
// certificate, or one from another cluster, reaches no method.
func TestRefusedWithoutAClusterCertificate(t *testing.T) {
	p := newPKI(t)
	n := serveAll(t, p)
	anonymous := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: p.root.Pool(), ServerName: ca.ServerName}
	stranger := newPKI(t)
	foreign := stranger.clientTLS("m1", ca.OUManager)
	foreign.RootCAs = p.root.Pool() // trusts the server, but its own certificate is foreign
	for name, conf := range map[string]*tls.Config{"anonymous": anonymous, "another cluster's certificate": foreign} {
		t.Run(name, func(t *testing.T) {
			pool := NewPool(conf)
			defer pool.Close()
			cc, err := pool.Conn(n.addr)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(testCtx(t), 5*time.Second)
			defer cancel()
			_, err = NewManagerClient(cc).Status(ctx)
			if err == nil {
				t.Fatal("the call succeeded")
			}
			if !errors.Is(err, errdefs.ErrUnavailable) && !errors.Is(err, errdefs.ErrPermissionDenied) {
				t.Fatalf("err = %v, want the connection refused", err)
			}
		})
	}
}

// TestErrorsCrossTheWire proves a backend's error reaches the client with
// its message and its kinds, and a not-leader error with the leader.
func TestErrorsCrossTheWire(t *testing.T) {
	p := newPKI(t)
	n := serveAll(t, p)
	manager := dial(t, n.node, p.clientTLS("m2", ca.OUManager))
	ctx := testCtx(t)
	cases := []struct {
		name  string
		err   error
		kinds []error
		code  codes.Code
	}{
		{"not leader", fmt.Errorf("propose: %w", &store.NotLeaderError{LeaderID: "m3", LeaderAddr: "127.0.0.3:4242"}),
			[]error{store.ErrNotLeader, errdefs.ErrUnavailable}, codes.Unavailable},
		{"no quorum", fmt.Errorf("%w: this manager cannot reach a majority of the managers (1 of 3 reachable)", store.ErrNoQuorum),
			[]error{store.ErrNoQuorum, errdefs.ErrUnavailable}, codes.Unavailable},
		{"sequence conflict", fmt.Errorf("commit changes: update service s1: %w", store.ErrSequenceConflict),
			[]error{store.ErrSequenceConflict, errdefs.ErrConflict}, codes.Aborted},
		{"conflict with two kinds", fmt.Errorf("%w: %w", errdefs.ErrConflict, store.ErrNameConflict),
			[]error{store.ErrNameConflict, errdefs.ErrConflict}, codes.AlreadyExists},
		{"invalid", fmt.Errorf("bad command: %w", errdefs.ErrInvalidArgument), []error{errdefs.ErrInvalidArgument}, codes.InvalidArgument},
		{"store not found", fmt.Errorf("remove manager m9: %w", store.ErrNotFound), []error{store.ErrNotFound, errdefs.ErrNotFound}, codes.NotFound},
		{"plain", errors.New("disk on fire"), nil, codes.Unknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n.mgr.mu.Lock()
			n.mgr.err = tc.err
			n.mgr.mu.Unlock()
			_, err := NewManagerClient(manager).Propose(ctx, []byte(`{}`))
			if err == nil || err.Error() != tc.err.Error() {
				t.Fatalf("err = %v, want the message %q", err, tc.err)
			}
			for _, k := range tc.kinds {
				if !errors.Is(err, k) {
					t.Errorf("errors.Is(err, %v) = false", k)
				}
			}
			var re *remoteError
			if !errors.As(err, &re) || re.code != tc.code {
				t.Errorf("code = %v, want %v", re.code, tc.code)
			}
		})
	}
	n.mgr.mu.Lock()
	n.mgr.err = &store.NotLeaderError{LeaderID: "m3", LeaderAddr: "127.0.0.3:4242"}
	n.mgr.mu.Unlock()
	_, err := NewManagerClient(manager).Propose(ctx, []byte(`{}`))
	var nl *store.NotLeaderError
	if !errors.As(err, &nl) || nl.LeaderID != "m3" || LeaderAddr(err) != "127.0.0.3:4242" {
		t.Fatalf("not-leader error = %#v, want one naming m3 at 127.0.0.3:4242", err)
	}
}

func TestStatusMappingIsSymmetric(t *testing.T) {
	for _, k := range errorKinds {
		t.Run(k.name, func(t *testing.T) {
			in := fmt.Errorf("something failed: %w", k.err)
			out := fromStatus(toStatus(in))
			if !errors.Is(out, k.err) || out.Error() != in.Error() {
				t.Fatalf("round trip of %v = %v", in, out)
			}
		})
	}
	if toStatus(nil) != nil || fromStatus(nil) != nil {
		t.Fatal("nil does not stay nil")
	}
	if err := fromStatus(status.Error(codes.Unavailable, "connection refused")); !errors.Is(err, errdefs.ErrUnavailable) || !unreachable(err) {
		t.Fatalf("a gRPC-made Unavailable = %v, want unreachable", err)
	}
	if err := fromStatus(toStatus(fmt.Errorf("x: %w", store.ErrNoQuorum))); unreachable(err) {
		t.Fatal("an answer from hive counted as unreachable")
	}
}

// TestDialFailsFast proves Dial says why when nothing listens.
func TestDialFailsFast(t *testing.T) {
	p := newPKI(t)
	n := serveAll(t, p)
	addr := n.addr
	n.kill()
	_, err := Dial(testCtx(t), addr, p.clientTLS("w1", ca.OUWorker))
	if !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("Dial to a closed port = %v, want unavailable", err)
	}
}

// TestSessionStreamEnds proves a stream the server ends cleanly reads as
// io.EOF.
func TestSessionStreamEnds(t *testing.T) {
	p := newPKI(t)
	n := serveAll(t, p)
	cc := dial(t, n.node, p.clientTLS("w1", ca.OUWorker))
	n.disp.push = make(chan func(*dispatcher.SessionMessage) error, 1)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	s, err := NewDispatcherClient(cc).Session(ctx, sessionReg("w1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	send := <-n.disp.push
	if err := send(&dispatcher.SessionMessage{HeartbeatPeriod: 3 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if m, err := s.Recv(); err != nil || m.HeartbeatPeriod != 3*time.Second || m.Assignments != nil {
		t.Fatalf("second message = %+v, %v", m, err)
	}
	cancel()
	if _, err := s.Recv(); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("Recv after cancel = %v, want the cancellation", err)
	}
}
