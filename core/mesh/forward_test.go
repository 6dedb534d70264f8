package mesh

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/ca"

	"github.com/hiveorch/hive/internal/testutil"
)

// host is the IP part of a backend's address: what a node's lookup gives.
func host(t testing.TB, b Backend) string {
	t.Helper()
	h, _, err := net.SplitHostPort(b.Addr)
	if err != nil {
		t.Fatalf("backend address %q: %v", b.Addr, err)
	}
	return h
}

func TestPublishedPortReachesTaskOnAnotherNode(t *testing.T) {
	c := newTestCluster(t)
	a, b := c.addNode(t, "node-a", nodeOpts{}), c.addNode(t, "node-b", nodeOpts{role: ca.OUWorker})
	srv := newNameServer(t, "b1")
	backend := srv.on(b.id)
	b.runTask(backend.TaskID, host(t, backend))

	m := a.newMesh(t, "127.0.0.1")
	port := freePort(t)
	m.Apply(map[PortKey]Route{tcpKey(port): route("web", backend)})

	client := oneShotClient()
	for i := range 5 {
		body, err := get(client, meshURL(port, "/"))
		if err != nil || body != "b1" {
			t.Fatalf("request %d through node-a to a task on node-b = %q, %v; want %q", i, body, err, "b1")
		}
	}
	want := slices.Repeat([]string{backend.Addr}, 5)
	if got := b.dials(); !slices.Equal(got, want) {
		t.Errorf("node-b dialled %v, want the task's address once per connection: %v", got, want)
	}
	testutil.Eventually(t, 5*time.Second, "proxied connections to be released", func() bool { return m.activeConns() == 0 })
}

func TestBalancesAcrossLocalAndRemoteBackends(t *testing.T) {
	c := newTestCluster(t)
	a, b := c.addNode(t, "node-a", nodeOpts{}), c.addNode(t, "node-b", nodeOpts{})
	local, remote := newNameServer(t, "local"), newNameServer(t, "remote")
	rb := remote.on(b.id)
	b.runTask(rb.TaskID, host(t, rb))

	m := a.newMesh(t, "127.0.0.1")
	port := freePort(t)
	m.Apply(map[PortKey]Route{tcpKey(port): route("web", local.on(a.id), rb)})

	got := map[string]int{}
	client := oneShotClient()
	for range 20 {
		body, err := get(client, meshURL(port, "/"))
		if err != nil {
			t.Fatalf("request: %v", err)
		}
		got[body]++
	}
	if got["local"] != 10 || got["remote"] != 10 {
		t.Errorf("answers = %v, want 10 from the local task and 10 from the task on node-b", got)
	}
	if n := len(b.dials()); n != 10 {
		t.Errorf("node-b dialled %d times, want 10: local backends must not go through another node", n)
	}
}

func TestForwardToTaskNotRunningThereIsRefusedAndFailsOver(t *testing.T) {
	c := newTestCluster(t)
	a, b := c.addNode(t, "node-a", nodeOpts{}), c.addNode(t, "node-b", nodeOpts{})
	local, gone := newNameServer(t, "local"), newNameServer(t, "gone")
	stale := gone.on(b.id) // node-a's table still lists it; node-b has stopped it

	_, err := a.fwd.Dial(context.Background(), stale)
	if err == nil || !strings.Contains(err.Error(), "task task-gone is not running on this node") {
		t.Fatalf("forward to a task node-b does not run: %v, want a refusal naming the task", err)
	}

	m := a.newMesh(t, "127.0.0.1")
	port := freePort(t)
	m.Apply(map[PortKey]Route{tcpKey(port): route("web", stale, local.on(a.id))})
	client := oneShotClient()
	for i := range 10 {
		if body, err := get(client, meshURL(port, "/")); err != nil || body != "local" {
			t.Fatalf("request %d = %q, %v; want the mesh to fail over to %q", i, body, err, "local")
		}
	}
	if gone.count() != 0 || len(b.dials()) != 0 {
		t.Errorf("the refused task served %d requests and node-b dialled %v, want nothing", gone.count(), b.dials())
	}
}

func TestForwarderChecksItReachedTheNodeItMeant(t *testing.T) {
	c := newTestCluster(t)
	a, b := c.addNode(t, "node-a", nodeOpts{}), c.addNode(t, "node-b", nodeOpts{})
	srv := newNameServer(t, "x")
	// node-c's address is now node-b's, which happens to run a task with
	// the same ID: node-b must not be used for node-c's task.
	b.runTask("task-x", "127.0.0.1")
	fwd := NewForwarder(ForwarderConfig{
		NodeID:   a.id,
		NodeAddr: func(string) (string, bool) { return b.mux.Addr().String(), true },
		TLS:      c.ca.clientTLS(a.cert),
	})
	_, err := fwd.Dial(context.Background(), srv.on("node-c"))
	if err == nil || !strings.Contains(err.Error(), "is node node-b, not node-c") {
		t.Fatalf("forward to node-c answered by node-b: %v, want an error naming node-b", err)
	}

	for _, tc := range []struct {
		name    string
		backend Backend
		want    string
	}{
		{"unknown node", srv.on("node-z"), "node node-z has no known address"},
		{"address without a port", Backend{TaskID: "t", NodeID: b.id, Addr: "10.0.0.1"}, "backend address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := a.fwd.Dial(context.Background(), tc.backend); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Dial(%+v) = %v, want an error containing %q", tc.backend, err, tc.want)
			}
		})
	}
	if d := b.dials(); len(d) != 0 {
		t.Errorf("node-b dialled %v, want nothing", d)
	}
}

func TestForwardPortAdmitsOnlyClusterNodes(t *testing.T) {
	c := newTestCluster(t)
	b := c.addNode(t, "node-b", nodeOpts{})
	srv := newNameServer(t, "b1")
	b.runTask("task-b1", "127.0.0.1")
	_, port, _ := net.SplitHostPort(srv.srv.Listener.Addr().String())
	header := fmt.Sprintf(`{"task_id":"task-b1","port":%s}`+"\n", port)

	other := newTestCA(t)
	tests := []struct {
		name string
		cfg  *tls.Config
		ok   bool
	}{
		{"worker certificate", c.ca.clientTLS(c.ca.issue(t, "node-w", ca.OUWorker)), true},
		{"manager certificate", c.ca.clientTLS(c.ca.issue(t, "node-m", ca.OUManager)), true},
		{"anonymous client", &tls.Config{RootCAs: c.ca.root.Pool(), ServerName: ca.ServerName, MinVersion: tls.VersionTLS13}, false},
		{"certificate of another CA", &tls.Config{RootCAs: c.ca.root.Pool(), ServerName: ca.ServerName, MinVersion: tls.VersionTLS13,
			Certificates: []tls.Certificate{other.issue(t, "intruder", ca.OUManager).TLS}}, false},
		{"remote CLI client certificate", c.ca.clientTLS(c.ca.issue(t, "admin", ca.OUClient)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(b.dials())
			answer, conn, err := rawForward(t, b, tc.cfg, header)
			if tc.ok {
				if err != nil || answer != `{"ok":true}` {
					t.Fatalf("forward with a %s = %q, %v; want ok", tc.name, answer, err)
				}
				s := newStream(conn, nil)
				fmt.Fprint(s, "GET / HTTP/1.0\r\n\r\n")
				s.CloseWrite()
				reply, _ := io.ReadAll(s)
				if !strings.HasSuffix(string(reply), "b1") {
					t.Errorf("reply through the forward = %q, want the task's answer", reply)
				}
				return
			}
			if err == nil && answer == `{"ok":true}` {
				t.Fatalf("a client with a %s was forwarded", tc.name)
			}
			if len(b.dials()) != before {
				t.Errorf("node-b dialled %v for a client with a %s", b.dials()[before:], tc.name)
			}
			t.Logf("refused: answer %q, err %v", answer, err)
		})
	}
}

func TestForwardServerDialsOnlyWhatLookupGives(t *testing.T) {
	c := newTestCluster(t)
	b := c.addNode(t, "node-b", nodeOpts{})
	b.runTask("task-1", "127.0.0.1")
	b.runTask("task-v6", "::1/128")
	b.runTask("task-name", "localhost")
	peer := c.ca.clientTLS(c.ca.issue(t, "node-a", ca.OUWorker))
	// Nothing listens on port 1 (tcpmux) here, and no test can take it:
	// unlike a port closed a moment ago, it stays dead.
	const deadPort = "1"
	dead := net.JoinHostPort("127.0.0.1", deadPort)

	tests := []struct {
		name   string
		header string
		answer string // substring of the answer line
		dial   string // the one address dialled, or ""
	}{
		{"task not on this node", `{"task_id":"task-9","port":80}`, "task task-9 is not running on this node", ""},
		{"an address instead of a task is ignored", `{"task_id":"","addr":"10.1.2.3:22","port":22}`, "bad forward header", ""},
		{"port zero", `{"task_id":"task-1","port":0}`, "port in 1-65535", ""},
		{"port out of range", `{"task_id":"task-1","port":70000}`, "port in 1-65535", ""},
		{"not JSON", `GET / HTTP/1.1`, "bad forward header", ""},
		{"lookup gives a name, not an IP", `{"task_id":"task-name","port":80}`, "no usable address", ""},
		{"nothing listens on the task's port", fmt.Sprintf(`{"task_id":"task-1","port":%s}`, deadPort), "connect to task task-1", dead},
		{"prefix stripped, IPv6 bracketed", fmt.Sprintf(`{"task_id":"task-v6","port":%s}`, deadPort), "connect to task task-v6", net.JoinHostPort("::1", deadPort)},
		{"line too long", `{"task_id":"` + strings.Repeat("x", maxForwardLine) + `"}`, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(b.dials())
			answer, _, err := rawForward(t, b, peer, tc.header+"\n")
			if tc.answer == "" {
				if err == nil {
					t.Fatalf("answer = %q, want the connection closed without one", answer)
				}
			} else if err != nil || !strings.Contains(answer, tc.answer) || strings.Contains(answer, `"ok"`) {
				t.Fatalf("answer = %q, %v; want an error containing %q", answer, err, tc.answer)
			}
			got := b.dials()[before:]
			if tc.dial == "" && len(got) != 0 || tc.dial != "" && !slices.Equal(got, []string{tc.dial}) {
				t.Errorf("node-b dialled %v, want %q", got, tc.dial)
			}
		})
	}
}

func TestForwardedConnectionKeepsHalfClose(t *testing.T) {
	c := newTestCluster(t)
	a, b := c.addNode(t, "node-a", nodeOpts{}), c.addNode(t, "node-b", nodeOpts{})
	backend := newTCPServer(t, func(c net.Conn) {
		n, _ := io.Copy(io.Discard, c)
		fmt.Fprintf(c, "got %d bytes", n)
	})
	rb := backend.backend("t1")
	rb.NodeID = b.id
	b.runTask("t1", "127.0.0.1")
	m := a.newMesh(t, "127.0.0.1")
	port := freePort(t)
	m.Apply(map[PortKey]Route{tcpKey(port): route("raw", rb)})

	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close()
	payload := strings.Repeat("x", 1<<20)
	if _, err := io.WriteString(conn, payload); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatalf("half-close: %v", err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	reply, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("read the reply after half-closing: %v", err)
	}
	if want := fmt.Sprintf("got %d bytes", len(payload)); string(reply) != want {
		t.Errorf("reply = %q, want %q", reply, want)
	}
	testutil.Eventually(t, 5*time.Second, "proxied connections to be released", func() bool { return m.activeConns() == 0 })
}

func TestForwardServerCapsConcurrentConnections(t *testing.T) {
	c := newTestCluster(t)
	a := c.addNode(t, "node-a", nodeOpts{})
	b := c.addNode(t, "node-b", nodeOpts{server: ForwardServer{MaxConns: 1}})
	backend := newTCPServer(t, echo)
	rb := backend.backend("t1")
	rb.NodeID = b.id
	b.runTask("t1", "127.0.0.1")

	held, err := a.fwd.Dial(context.Background(), rb)
	if err != nil {
		t.Fatalf("first forward: %v", err)
	}
	if _, err := a.fwd.Dial(context.Background(), rb); err == nil {
		t.Fatalf("second forward accepted beyond MaxConns 1")
	}
	held.Close()
	testutil.Eventually(t, 5*time.Second, "a forward to be accepted again once the first ended", func() bool {
		conn, err := a.fwd.Dial(context.Background(), rb)
		if err != nil {
			return false
		}
		conn.Close()
		return true
	})
}

func TestForwardServerDropsASilentPeer(t *testing.T) {
	c := newTestCluster(t)
	b := c.addNode(t, "node-b", nodeOpts{server: ForwardServer{IdleTimeout: 50 * time.Millisecond}})
	peer := c.ca.clientTLS(c.ca.issue(t, "node-a", ca.OUWorker))
	start := time.Now()
	_, _, err := rawForward(t, b, peer, "")
	if err == nil || time.Since(start) > 4*time.Second {
		t.Fatalf("a peer that sends no header: %v after %v, want the connection closed after the header timeout", err, time.Since(start))
	}
}

func TestForwardServerStopsCleanly(t *testing.T) {
	before := runtime.NumGoroutine()
	c := newTestCluster(t)
	a, b := c.addNode(t, "node-a", nodeOpts{}), c.addNode(t, "node-b", nodeOpts{})
	backend := newTCPServer(t, echo)
	rb := backend.backend("t1")
	rb.NodeID = b.id
	b.runTask("t1", "127.0.0.1")

	conn, err := a.fwd.Dial(context.Background(), rb)
	if err != nil {
		t.Fatalf("forward: %v", err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "ping")
	buf := make([]byte, 4)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo through the forward = %q, %v", buf, err)
	}

	b.stop() // cancels Serve and checks it returned nil
	if _, err := conn.Read(buf); !isDropped(err) {
		t.Fatalf("read after the server stopped: %v, want the connection cut", err)
	}
	if _, err := a.fwd.Dial(context.Background(), rb); err == nil {
		t.Fatalf("forward accepted after the server stopped")
	}

	conn.Close()
	a.stop()
	a.fwd.Close()
	a.mux.Close()
	b.mux.Close()
	backend.close()
	testutil.Eventually(t, 5*time.Second, "goroutines to return to their count before the test", func() bool {
		return runtime.NumGoroutine() <= before
	})
}

// TestTwoNodesServeTheSameTable runs two nodes as the daemon wires them:
// each mesh follows the same routing table, binds its own loopback address
// and dials through its Forwarder; each ForwardServer looks tasks up in its
// node's mesh. Both nodes answer on the published port and reach the tasks
// of both; when a task is drained, the node that learnt it first refuses
// forwards to it while the other still lists it, and no request fails.
func TestTwoNodesServeTheSameTable(t *testing.T) {
	c := newTestCluster(t)
	var meshes = map[string]*Mesh{}
	lookup := func(node string) func(string) (string, bool) {
		return func(task string) (string, bool) { return meshes[node].Lookup(node)(task) }
	}
	a := c.addNode(t, "node-a", nodeOpts{lookup: lookup("node-a")})
	b := c.addNode(t, "node-b", nodeOpts{lookup: lookup("node-b"), role: ca.OUWorker})
	meshes[a.id], meshes[b.id] = a.newMesh(t, "127.0.0.1"), b.newMesh(t, "127.0.0.2")
	sa, sb1, sb2 := newNameServer(t, "a"), newNameServer(t, "b1"), newNameServer(t, "b2")
	port := freePort(t)
	full := map[PortKey]Route{tcpKey(port): route("web", sa.on(a.id), sb1.on(b.id), sb2.on(b.id))}
	for _, m := range meshes {
		m.Apply(full)
	}

	client := oneShotClient()
	for _, node := range []string{"127.0.0.1", "127.0.0.2"} {
		got := map[string]int{}
		for range 9 {
			body, err := get(client, fmt.Sprintf("http://%s:%d/", node, port))
			if err != nil {
				t.Fatalf("request to %s: %v", node, err)
			}
			got[body]++
		}
		if got["a"] != 3 || got["b1"] != 3 || got["b2"] != 3 {
			t.Errorf("answers through %s = %v, want 3 from each task", node, got)
		}
	}

	// b2 is being stopped: node-b has applied the table without it,
	// node-a not yet.
	meshes[b.id].Apply(map[PortKey]Route{tcpKey(port): route("web", sa.on(a.id), sb1.on(b.id))})
	served := sb2.count()
	for i := range 12 {
		if body, err := get(client, meshURL(port, "/")); err != nil || body == "b2" {
			t.Fatalf("request %d during the drain = %q, %v; want an answer from a running task", i, body, err)
		}
	}
	if sb2.count() != served {
		t.Errorf("the drained task served %d new requests, want none", sb2.count()-served)
	}
}

func TestMeshLookup(t *testing.T) {
	m := newTestMesh(t)
	if _, ok := m.Lookup("n1")("t1"); ok {
		t.Fatalf("Lookup before any Apply found a task")
	}
	m.Apply(map[PortKey]Route{
		tcpKey(freePort(t)): route("web", Backend{TaskID: "t1", NodeID: "n1", Addr: "10.0.0.1:80"},
			Backend{TaskID: "t2", NodeID: "n2", Addr: "10.0.0.2:80"}),
		tcpKey(freePort(t)):         route("v6", Backend{TaskID: "t3", NodeID: "n1", Addr: "[fd00::3]:443"}),
		{Protocol: "udp", Port: 53}: route("dns", Backend{TaskID: "t4", NodeID: "n1", Addr: "10.0.0.4:53"}),
	})
	for _, tc := range []struct {
		node, task, want string
		ok               bool
	}{
		{"n1", "t1", "10.0.0.1", true},
		{"n1", "t3", "fd00::3", true},
		{"n1", "t2", "", false}, // runs on n2
		{"n2", "t2", "10.0.0.2", true},
		{"n1", "t4", "", false}, // udp routes are not served
		{"n1", "t9", "", false},
	} {
		t.Run(tc.node+"/"+tc.task, func(t *testing.T) {
			got, ok := m.Lookup(tc.node)(tc.task)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Lookup(%s)(%s) = %q, %v; want %q, %v", tc.node, tc.task, got, ok, tc.want, tc.ok)
			}
		})
	}

	m.Apply(map[PortKey]Route{tcpKey(freePort(t)): route("web", Backend{TaskID: "t2", NodeID: "n2", Addr: "10.0.0.2:80"})})
	if _, ok := m.Lookup("n1")("t1"); ok {
		t.Errorf("Lookup found t1 after the table dropped it")
	}
	m.Close()
	if _, ok := m.Lookup("n2")("t2"); ok {
		t.Errorf("Lookup found t2 after Close")
	}
}

// TestForwarderUsesTheTablesNodeAddresses is a worker's case: no store, so
// no NodeAddr function; the addresses come with the table (ClusterRoutes).
func TestForwarderUsesTheTablesNodeAddresses(t *testing.T) {
	c := newTestCluster(t)
	a, b := c.addNode(t, "node-a", nodeOpts{}), c.addNode(t, "node-b", nodeOpts{})
	srv := newNameServer(t, "b1")
	rb := srv.on(b.id)
	b.runTask(rb.TaskID, host(t, rb))
	fwd := NewForwarder(ForwarderConfig{NodeID: a.id, TLS: c.ca.clientTLS(a.cert)})
	t.Cleanup(func() { fwd.Close() })

	if _, err := fwd.Dial(context.Background(), rb); err == nil || !strings.Contains(err.Error(), "node node-b has no known address") {
		t.Fatalf("forward without any address for node-b: %v, want an error saying so", err)
	}
	rb.NodeAddr = b.mux.Addr().String()
	m := New(Config{BindAddr: "127.0.0.1", Dialer: fwd.Dial, Logger: testutil.Logger(t)})
	t.Cleanup(func() { m.Close() })
	port := freePort(t)
	m.Apply(map[PortKey]Route{tcpKey(port): route("web", rb)})
	if body, err := get(oneShotClient(), meshURL(port, "/")); err != nil || body != "b1" {
		t.Fatalf("request through the table's node address = %q, %v; want %q", body, err, "b1")
	}
}
