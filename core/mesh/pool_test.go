package mesh

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/clock"

	"github.com/hiveorch/hive/internal/testutil"
)

func TestForwardReusesConnectionsBetweenNodes(t *testing.T) {
	c := newTestCluster(t)
	a, b := c.addNode(t, "node-a", nodeOpts{}), c.addNode(t, "node-b", nodeOpts{})
	srv := newNameServer(t, "b1")
	rb := srv.on(b.id)
	b.runTask(rb.TaskID, host(t, rb))
	m := a.newMesh(t, "127.0.0.1")
	port := freePort(t)
	m.Apply(map[PortKey]Route{tcpKey(port): route("web", rb)})

	client := oneShotClient()
	for i := range 20 {
		if body, err := get(client, meshURL(port, "/")); err != nil || body != "b1" {
			t.Fatalf("request %d = %q, %v", i, body, err)
		}
		// The connection between the nodes is back in the pool once both
		// sides have ended, just after the client has its answer.
		testutil.Eventually(t, 5*time.Second, "the connection to node-b to be idle again", func() bool { return a.fwd.idleConns(b.id) == 1 })
	}
	if _, err := a.fwd.Dial(context.Background(), Backend{TaskID: "task-gone", NodeID: b.id, Addr: "127.0.0.1:80"}); err == nil {
		t.Fatalf("forward to a task node-b does not run succeeded")
	}
	if body, err := get(client, meshURL(port, "/")); err != nil || body != "b1" {
		t.Fatalf("request after a refusal = %q, %v", body, err)
	}
	if n := b.accepted.Load(); n != 1 {
		t.Errorf("node-b accepted %d connections for 21 forwards and a refusal in a row, want 1 reused", n)
	}
}

func TestForwarderRedialsWhenTheIdleConnectionWasClosed(t *testing.T) {
	c := newTestCluster(t)
	a := c.addNode(t, "node-a", nodeOpts{})
	b := c.addNode(t, "node-b", nodeOpts{server: ForwardServer{IdleTimeout: 20 * time.Millisecond}})
	backend := newTCPServer(t, echo)
	rb := backend.backend("t1")
	rb.NodeID = b.id
	b.runTask("t1", "127.0.0.1")

	roundTrip(t, a.fwd, rb, "one")
	testutil.Eventually(t, 5*time.Second, "node-b to close the idle connection", func() bool { return b.closed.Load() == 1 })
	if a.fwd.idleConns(b.id) != 1 {
		t.Fatalf("node-a does not hold the connection node-b closed; the test proves nothing")
	}
	roundTrip(t, a.fwd, rb, "two")
	if n := b.accepted.Load(); n != 2 {
		t.Errorf("node-b accepted %d connections, want 2: the stale one replaced by a new one", n)
	}
}

func TestForwarderClosesIdleConnectionsAfterItsIdleTimeout(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	c := newTestCluster(t)
	a := c.addNode(t, "node-a", nodeOpts{forwarder: ForwarderConfig{IdleTimeout: 10 * time.Second, Clock: clk}})
	b := c.addNode(t, "node-b", nodeOpts{})
	backend := newTCPServer(t, echo)
	rb := backend.backend("t1")
	rb.NodeID = b.id
	b.runTask("t1", "127.0.0.1")

	roundTrip(t, a.fwd, rb, "one")
	testutil.Eventually(t, 5*time.Second, "the sweeper to wait", func() bool { return clk.Waiters() == 1 })
	clk.Advance(5 * time.Second)
	testutil.Eventually(t, 5*time.Second, "the sweeper to wait again", func() bool { return clk.Waiters() == 1 })
	if n := a.fwd.idleConns(b.id); n != 1 {
		t.Fatalf("idle connections after half the idle timeout = %d, want 1", n)
	}
	clk.Advance(5 * time.Second)
	testutil.Eventually(t, 5*time.Second, "the idle connection to be closed", func() bool {
		return a.fwd.idleConns(b.id) == 0 && b.closed.Load() == 1
	})
	testutil.Eventually(t, 5*time.Second, "the sweeper to stop with nothing idle", func() bool { return clk.Waiters() == 0 })

	roundTrip(t, a.fwd, rb, "two")
	if n := b.accepted.Load(); n != 2 {
		t.Errorf("node-b accepted %d connections, want 2", n)
	}
}

func TestAbortedConnectionIsNotReused(t *testing.T) {
	c := newTestCluster(t)
	a, b := c.addNode(t, "node-a", nodeOpts{}), c.addNode(t, "node-b", nodeOpts{})
	backend := newTCPServer(t, echo)
	rb := backend.backend("t1")
	rb.NodeID = b.id
	b.runTask("t1", "127.0.0.1")
	m := a.newMesh(t, "127.0.0.1")
	port := freePort(t)
	m.Apply(map[PortKey]Route{tcpKey(port): route("echo", rb)})

	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	fmt.Fprint(conn, "ping")
	buf := make([]byte, 4)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(conn, buf); err != nil {
		t.Fatalf("echo through node-b: %v", err)
	}
	reset(conn) // the client aborts mid-stream
	testutil.Eventually(t, 5*time.Second, "the aborted stream to be torn down on both nodes", func() bool {
		return m.activeConns() == 0 && b.closed.Load() == 1
	})
	if n := a.fwd.idleConns(b.id); n != 0 {
		t.Errorf("node-a keeps %d idle connections after an abort, want 0", n)
	}
	roundTrip(t, a.fwd, rb, "again")
}

// roundTrip forwards to b through fwd, sends msg to an echo backend, ends
// its side and checks the echo, then closes the stream cleanly.
func roundTrip(t *testing.T, fwd *Forwarder, b Backend, msg string) {
	t.Helper()
	conn, err := fwd.Dial(context.Background(), b)
	if err != nil {
		t.Fatalf("forward: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := conn.(halfCloser).CloseWrite(); err != nil {
		t.Fatalf("close write: %v", err)
	}
	got, err := io.ReadAll(conn)
	if err != nil || string(got) != msg {
		t.Fatalf("echo = %q, %v; want %q", got, err, msg)
	}
	conn.SetDeadline(time.Time{})
}
