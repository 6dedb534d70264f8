package mesh

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/types"

	"github.com/hiveorch/hive/internal/testutil"
)

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
	m := New(Config{BindAddr: "127.0.0.1", Logger: testutil.Logger(t)})
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
