package mesh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// testLogger sends logs to t.Log, so they show only when a test fails.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", within, what)
		case <-tick.C:
		}
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) uint32 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return uint32(ln.Addr().(*net.TCPAddr).Port)
}

// newTestMesh returns a Mesh bound on 127.0.0.1, closed when the test ends.
func newTestMesh(t testing.TB) *Mesh {
	t.Helper()
	m := New(Config{BindAddr: "127.0.0.1", Logger: testLogger(t)})
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close mesh: %v", err)
		}
	})
	return m
}

// nameServer is an HTTP backend that answers every request with its name
// and counts them. GET /slow waits until release is called.
type nameServer struct {
	name    string
	srv     *httptest.Server
	mu      sync.Mutex
	hits    int
	started chan struct{}
	release func()
}

func newNameServer(t testing.TB, name string) *nameServer {
	t.Helper()
	gate := make(chan struct{})
	var once sync.Once
	s := &nameServer{name: name, started: make(chan struct{}, 1), release: func() { once.Do(func() { close(gate) }) }}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			s.started <- struct{}{}
			<-gate
			fmt.Fprint(w, s.name+"-slow")
			return
		}
		s.mu.Lock()
		s.hits++
		s.mu.Unlock()
		fmt.Fprint(w, s.name)
	}))
	// Cleanups run last-in first-out: release before Close, which waits
	// for handlers.
	t.Cleanup(s.srv.Close)
	t.Cleanup(s.release)
	return s
}

func (s *nameServer) backend() Backend {
	return Backend{TaskID: "task-" + s.name, NodeID: "node-1", Addr: s.srv.Listener.Addr().String()}
}

func (s *nameServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits
}

// oneShotClient opens a new connection for every request.
func oneShotClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
}

func get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s: %s", resp.Status, body)
	}
	return string(body), nil
}

func meshURL(port uint32, path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", port, path)
}

func tcpKey(port uint32) PortKey { return PortKey{Protocol: types.ProtocolTCP, Port: port} }

func route(name string, backends ...Backend) Route {
	return Route{ServiceID: "svc-" + name, ServiceName: name, Backends: backends}
}

// deadAddr returns an address on which nothing listens any more.
func deadAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// tcpServer is a raw TCP backend that runs serve on every connection and
// waits for its goroutines on close.
type tcpServer struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func newTCPServer(t testing.TB, serve func(net.Conn)) *tcpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &tcpServer{ln: ln, conns: make(map[net.Conn]struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = struct{}{}
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *tcpServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *tcpServer) backend(id string) Backend {
	return Backend{TaskID: id, NodeID: "node-1", Addr: s.ln.Addr().String()}
}

// echo copies what it reads back until the client half-closes.
func echo(c net.Conn) { _, _ = io.Copy(c, c) }

// isDropped reports whether a read ended because the peer closed or reset
// the connection (any error but a timeout).
func isDropped(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return err != nil
}

// fakeSource is a hand-written StateSource: the test sets the state and
// sends events to the current subscription.
type fakeSource struct {
	mu       sync.Mutex
	services []*types.Service
	tasks    []*types.Task
	nodes    []*types.Node
	subs     int
	ch       chan store.Event
	filter   func(store.Event) bool
}

func (f *fakeSource) ViewAndWatch(fn func(store.ReadTx), filter func(store.Event) bool) (<-chan store.Event, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(fakeTx{services: f.services, tasks: f.tasks, nodes: f.nodes})
	ch := make(chan store.Event, 64)
	f.ch, f.filter = ch, filter
	f.subs++
	return ch, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.ch == ch {
			f.ch = nil
		}
	}
}

func (f *fakeSource) set(services []*types.Service, tasks []*types.Task) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.services, f.tasks = services, tasks
}

func (f *fakeSource) setNodes(nodes ...*types.Node) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nodes = nodes
}

func (f *fakeSource) subscriptions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.subs
}

// send delivers ev to the current subscription if its filter passes it.
func (f *fakeSource) send(t testing.TB, ev store.Event) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ch == nil {
		t.Fatalf("send %v event: nobody subscribed", ev.Action)
	}
	if f.filter(ev) {
		f.ch <- ev
	}
}

// pending is how many events wait in the current subscription's channel.
func (f *fakeSource) pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.ch)
}

// closeStream closes the current subscription's channel, as a store does
// when it drops a subscriber.
func (f *fakeSource) closeStream() {
	f.mu.Lock()
	defer f.mu.Unlock()
	close(f.ch)
	f.ch = nil
}

type fakeTx struct {
	services []*types.Service
	tasks    []*types.Task
	nodes    []*types.Node
}

var _ store.ReadTx = fakeTx{}

func (fakeTx) Index() uint64           { return 1 }
func (fakeTx) Cluster() *types.Cluster { return nil }
func (tx fakeTx) Nodes() []*types.Node { return tx.nodes }
func (tx fakeTx) Node(id string) *types.Node {
	for _, n := range tx.nodes {
		if n.ID == id {
			return n
		}
	}
	return nil
}
func (tx fakeTx) Services() []*types.Service { return tx.services }

func (fakeTx) Secret(string) *types.Secret       { return nil }
func (fakeTx) SecretByName(string) *types.Secret { return nil }
func (fakeTx) Secrets() []*types.Secret          { return nil }
func (fakeTx) Config(string) *types.Config       { return nil }
func (fakeTx) ConfigByName(string) *types.Config { return nil }
func (fakeTx) Configs() []*types.Config          { return nil }
func (tx fakeTx) Tasks() []*types.Task           { return tx.tasks }
func (tx fakeTx) Service(id string) *types.Service {
	for _, s := range tx.services {
		if s.ID == id {
			return s
		}
	}
	return nil
}

func (tx fakeTx) ServiceByName(name string) *types.Service {
	for _, s := range tx.services {
		if s.Spec.Name == name {
			return s
		}
	}
	return nil
}

func (tx fakeTx) Task(id string) *types.Task {
	for _, t := range tx.tasks {
		if t.ID == id {
			return t
		}
	}
	return nil
}

func (tx fakeTx) TasksByService(id string) []*types.Task {
	return tx.filterTasks(func(t *types.Task) bool { return t.ServiceID == id })
}

func (tx fakeTx) TasksByNode(id string) []*types.Task {
	return tx.filterTasks(func(t *types.Task) bool { return t.NodeID == id })
}

func (tx fakeTx) TasksBySlot(id string, slot uint64) []*types.Task {
	return tx.filterTasks(func(t *types.Task) bool { return t.ServiceID == id && t.Slot == slot })
}

func (tx fakeTx) filterTasks(keep func(*types.Task) bool) []*types.Task {
	var out []*types.Task
	for _, t := range tx.tasks {
		if keep(t) {
			out = append(out, t)
		}
	}
	return out
}

// startController runs RunController until the test ends, then checks that
// it returned nil once its context was cancelled.
func startController(t *testing.T, src StateSource, m *Mesh, resync time.Duration, clk clock.Clock) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RunController(ctx, src, m, resync, clk) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("RunController returned %v, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("RunController did not return after its context was cancelled")
		}
	})
}
