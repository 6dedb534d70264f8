package mesh

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hiveorch/hive/internal/testutil"
)

func TestRoundRobinSpreadsConnectionsEvenly(t *testing.T) {
	servers := []*nameServer{newNameServer(t, "a"), newNameServer(t, "b"), newNameServer(t, "c")}
	m := newTestMesh(t)
	port := freePort(t)
	m.Apply(map[PortKey]Route{tcpKey(port): route("web", servers[0].backend(), servers[1].backend(), servers[2].backend())})

	client := oneShotClient()
	got := map[string]int{}
	for range 30 {
		body, err := get(client, meshURL(port, "/"))
		if err != nil {
			t.Fatalf("request through the mesh: %v", err)
		}
		got[body]++
	}
	for _, s := range servers {
		if got[s.name] != 10 || s.count() != 10 {
			t.Errorf("backend %s answered %d requests (server counted %d), want 10; all: %v", s.name, got[s.name], s.count(), got)
		}
	}
}

func TestKeepAliveStaysOnOneBackend(t *testing.T) {
	a, b := newNameServer(t, "a"), newNameServer(t, "b")
	m := newTestMesh(t)
	port := freePort(t)
	m.Apply(map[PortKey]Route{tcpKey(port): route("web", a.backend(), b.backend())})

	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for i := range 5 {
		body, err := get(client, meshURL(port, "/"))
		if err != nil {
			t.Fatalf("request %d over a kept-alive connection: %v", i, err)
		}
		if body != "a" {
			t.Fatalf("request %d answered by %q, want every request of one connection on backend a", i, body)
		}
	}
}

func TestRemovedBackendGetsNoNewConnectionsButDrains(t *testing.T) {
	a, b, c := newNameServer(t, "a"), newNameServer(t, "b"), newNameServer(t, "c")
	m := newTestMesh(t)
	port := freePort(t)
	m.Apply(map[PortKey]Route{tcpKey(port): route("web", a.backend())})

	slow := make(chan string, 1)
	go func() {
		body, err := get(oneShotClient(), meshURL(port, "/slow"))
		if err != nil {
			body = "error: " + err.Error()
		}
		slow <- body
	}()
	<-a.started // the long request is on backend a

	m.Apply(map[PortKey]Route{tcpKey(port): route("web", b.backend(), c.backend())})
	if st := m.Status(); len(st) != 1 || st[0].Backends != 2 {
		t.Fatalf("Status() after swap = %+v, want one port with 2 backends", st)
	}
	client := oneShotClient()
	for range 10 {
		body, err := get(client, meshURL(port, "/"))
		if err != nil {
			t.Fatalf("request after the swap: %v", err)
		}
		if body == "a" {
			t.Fatalf("removed backend a received a new connection")
		}
	}
	if a.count() != 0 {
		t.Errorf("backend a served %d new requests after removal, want 0", a.count())
	}

	a.release()
	if got := <-slow; got != "a-slow" {
		t.Errorf("in-flight request to the removed backend = %q, want it to complete with %q", got, "a-slow")
	}
}

func TestDeadBackendIsSkipped(t *testing.T) {
	a, c := newNameServer(t, "a"), newNameServer(t, "c")
	dead := Backend{TaskID: "task-dead", NodeID: "node-1", Addr: deadAddr(t)}
	var deadDials atomic.Int32
	var d net.Dialer
	m := New(Config{BindAddr: "127.0.0.1", Logger: testutil.Logger(t), Dialer: func(ctx context.Context, b Backend) (net.Conn, error) {
		if b.TaskID == dead.TaskID {
			deadDials.Add(1)
		}
		return d.DialContext(ctx, "tcp", b.Addr)
	}})
	t.Cleanup(func() { m.Close() })
	port := freePort(t)
	m.Apply(map[PortKey]Route{tcpKey(port): route("web", a.backend(), dead, c.backend())})

	client := oneShotClient()
	for i := range 30 {
		if _, err := get(client, meshURL(port, "/")); err != nil {
			t.Fatalf("request %d with a dead backend in the set: %v", i, err)
		}
	}
	if a.count()+c.count() != 30 {
		t.Errorf("live backends served %d+%d requests, want 30", a.count(), c.count())
	}
	if n := deadDials.Load(); n != 10 {
		t.Errorf("dead backend dialled %d times, want 10 (once per turn, then failover)", n)
	}
}

func TestAllBackendsDeadClosesClientConnection(t *testing.T) {
	m := newTestMesh(t)
	port := freePort(t)
	m.Apply(map[PortKey]Route{tcpKey(port): route("web",
		Backend{TaskID: "t1", Addr: deadAddr(t)}, Backend{TaskID: "t2", Addr: deadAddr(t)})})
	assertDropped(t, port)
}

func TestNoBackendsRefusesAtOnce(t *testing.T) {
	m := newTestMesh(t)
	port := freePort(t)
	m.Apply(map[PortKey]Route{tcpKey(port): route("web")})
	if st := m.Status(); len(st) != 1 || st[0].Err != "" || st[0].Backends != 0 || st[0].ServiceName != "web" {
		t.Fatalf("Status() = %+v, want port listening for web with 0 backends", st)
	}
	assertDropped(t, port)
}

// assertDropped checks that a client connecting to port is accepted and then
// dropped quickly, rather than left hanging.
func assertDropped(t *testing.T, port uint32) {
	t.Helper()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if errors.Is(err, syscall.ECONNRESET) {
		return // reset before the dial even returned
	}
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 1))
	if !isDropped(err) {
		t.Fatalf("read from a port without reachable backends: %v, want EOF or reset at once", err)
	}
}

func TestHalfCloseReachesBackend(t *testing.T) {
	// The backend answers only once it has read the whole request, up to
	// the client's half-close.
	backend := newTCPServer(t, func(c net.Conn) {
		n, _ := io.Copy(io.Discard, c)
		fmt.Fprintf(c, "got %d bytes", n)
	})
	m := newTestMesh(t)
	port := freePort(t)
	m.Apply(map[PortKey]Route{tcpKey(port): route("raw", backend.backend("t1"))})

	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Close()
	payload := strings.Repeat("x", 1<<20)
	if _, err := io.WriteString(c, payload); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatalf("half-close: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	reply, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read reply after half-close: %v", err)
	}
	if want := fmt.Sprintf("got %d bytes", len(payload)); string(reply) != want {
		t.Errorf("reply = %q, want %q", reply, want)
	}
	testutil.Eventually(t, 5*time.Second, "proxied connections to be released", func() bool { return m.activeConns() == 0 })
}

func TestRemovedPortStopsListening(t *testing.T) {
	a := newNameServer(t, "a")
	m := newTestMesh(t)
	keep, drop := freePort(t), freePort(t)
	m.Apply(map[PortKey]Route{tcpKey(keep): route("web", a.backend()), tcpKey(drop): route("web", a.backend())})
	if _, err := get(oneShotClient(), meshURL(drop, "/")); err != nil {
		t.Fatalf("request before removal: %v", err)
	}

	m.Apply(map[PortKey]Route{tcpKey(keep): route("web", a.backend())})
	_, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", drop))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("connect to removed port: %v, want connection refused", err)
	}
	if st := m.Status(); len(st) != 1 || st[0].Port != tcpKey(keep) {
		t.Errorf("Status() = %+v, want only port %d", st, keep)
	}
	if _, err := get(oneShotClient(), meshURL(keep, "/")); err != nil {
		t.Errorf("request on the kept port: %v", err)
	}
}

func TestPortInUseIsReportedAndRetried(t *testing.T) {
	a := newNameServer(t, "a")
	port := freePort(t)
	squatter, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("occupy port: %v", err)
	}
	defer squatter.Close()

	m := newTestMesh(t)
	routes := map[PortKey]Route{tcpKey(port): route("web", a.backend())}
	m.Apply(routes)
	st := m.Status()
	if len(st) != 1 || !strings.Contains(st[0].Err, "address already in use") {
		t.Fatalf("Status() with the port taken = %+v, want an 'address already in use' error", st)
	}
	if st[0].ServiceName != "web" || st[0].Backends != 1 {
		t.Errorf("Status() = %+v, want service web with 1 backend", st[0])
	}

	squatter.Close()
	m.Apply(routes)
	if st := m.Status(); len(st) != 1 || st[0].Err != "" {
		t.Fatalf("Status() after the port was freed = %+v, want no error", st)
	}
	if body, err := get(oneShotClient(), meshURL(port, "/")); err != nil || body != "a" {
		t.Errorf("request after the retried bind = %q, %v; want %q", body, err, "a")
	}
}

func TestApplyIsIdempotent(t *testing.T) {
	a := newNameServer(t, "a")
	m := newTestMesh(t)
	port := freePort(t)
	routes := map[PortKey]Route{tcpKey(port): route("web", a.backend())}
	m.Apply(routes)
	m.mu.Lock()
	ln, cur := m.ports[tcpKey(port)].ln, m.ports[tcpKey(port)].route.Load()
	m.mu.Unlock()

	// An equal table (new slices) must leave the listener and route alone,
	// and the mesh must not keep the caller's slice.
	again := map[PortKey]Route{tcpKey(port): route("web", a.backend())}
	m.Apply(again)
	again[tcpKey(port)].Backends[0].Addr = "mutated"
	m.mu.Lock()
	ln2, cur2 := m.ports[tcpKey(port)].ln, m.ports[tcpKey(port)].route.Load()
	m.mu.Unlock()
	if ln2 != ln || cur2 != cur {
		t.Errorf("Apply with an unchanged table replaced the listener or the route")
	}
	if body, err := get(oneShotClient(), meshURL(port, "/")); err != nil || body != "a" {
		t.Errorf("request = %q, %v; want %q", body, err, "a")
	}
}

func TestCloseCutsConnectionsAndLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	backend := newTCPServer(t, echo)
	m := New(Config{BindAddr: "127.0.0.1", Logger: testutil.Logger(t)})
	port := freePort(t)
	m.Apply(map[PortKey]Route{
		tcpKey(port):        route("echo", backend.backend("t1")),
		tcpKey(freePort(t)): route("empty"),
	})

	// An active proxied connection, proven by an echo.
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Close()
	fmt.Fprintln(c, "ping")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "ping\n" {
		t.Fatalf("echo through the mesh = %q, %v", line, err)
	}
	if n := m.activeConns(); n != 2 {
		t.Fatalf("active connections = %d, want 2 (client and backend side)", n)
	}

	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.Read(make([]byte, 1)); !isDropped(err) {
		t.Fatalf("read after Close: %v, want the connection cut", err)
	}
	if _, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
		t.Fatalf("port still accepts connections after Close")
	}
	m.Apply(map[PortKey]Route{tcpKey(port): route("echo", backend.backend("t1"))})
	if st := m.Status(); len(st) != 0 {
		t.Fatalf("Apply after Close opened ports: %+v", st)
	}

	backend.close()
	testutil.Eventually(t, 5*time.Second, "goroutines to return to their count before the test", func() bool {
		return runtime.NumGoroutine() <= before
	})
}

func TestProxiedConnectionsEndWithoutLeaks(t *testing.T) {
	a := newNameServer(t, "a")
	m := newTestMesh(t)
	port := freePort(t)
	m.Apply(map[PortKey]Route{tcpKey(port): route("web", a.backend())})
	client := oneShotClient()
	for range 20 {
		if _, err := get(client, meshURL(port, "/")); err != nil {
			t.Fatalf("request: %v", err)
		}
	}
	// Each proxied connection ends when both sides are done: the mesh holds
	// nothing once the requests are over.
	testutil.Eventually(t, 5*time.Second, "proxied connections to be released", func() bool { return m.activeConns() == 0 })
}
