package mesh

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/transport"

	"github.com/hiveorch/hive/internal/testutil"
)

// testCA is a cluster's root CA.
type testCA struct {
	root *ca.Root
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	root, _, err := ca.Bootstrap(t.TempDir(), "bootstrap", time.Now(), time.Hour)
	if err != nil {
		t.Fatalf("bootstrap CA: %v", err)
	}
	return &testCA{root: root}
}

// issue returns a certificate of the CA for id with role ou.
func (c *testCA) issue(t testing.TB, id, ou string) *ca.NodeCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	certPEM, err := c.root.Issue(&key.PublicKey, id, ou, time.Now(), time.Hour)
	if err != nil {
		t.Fatalf("issue certificate for %s: %v", id, err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatalf("encode key: %v", err)
	}
	pair, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	if err != nil {
		t.Fatalf("load certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatalf("parse certificate: %v", err)
	}
	pair.Leaf = leaf
	return &ca.NodeCert{TLS: pair, Leaf: leaf}
}

// clientTLS is the cluster port client configuration of a certificate.
func (c *testCA) clientTLS(cert *ca.NodeCert) *tls.Config { return ca.ClientTLS(c.root, cert) }

// testNode is one node of a test cluster: a real cluster port (mutual TLS)
// serving the mesh protocol with a ForwardServer, and a Forwarder for its
// own mesh.
type testNode struct {
	id   string
	cert *ca.NodeCert
	mux  *transport.Mux
	fwd  *Forwarder

	mu      sync.Mutex
	tasks   map[string]string // task ID -> IP, what lookup answers
	dialled []string          // every address the ForwardServer dialled
	lookup  func(string) (string, bool)

	stop     func()        // stops the ForwardServer and checks it returned nil
	accepted *atomic.Int64 // connections from other nodes accepted
	closed   *atomic.Int64 // and closed
}

// countingListener counts the connections it accepts and how many of
// them were closed.
type countingListener struct {
	net.Listener
	n      atomic.Int64
	closed atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.n.Add(1)
	return &countedConn{Conn: c.(*tls.Conn), closed: &l.closed}, nil
}

// countedConn is a cluster port connection that counts its closing.
type countedConn struct {
	*tls.Conn
	once   sync.Once
	closed *atomic.Int64
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.closed.Add(1) })
	return c.Conn.Close()
}

// testCluster is nodes sharing a CA, each reaching the others by ID.
type testCluster struct {
	ca    *testCA
	mu    sync.Mutex
	nodes map[string]*testNode
}

func newTestCluster(t testing.TB) *testCluster {
	return &testCluster{ca: newTestCA(t), nodes: make(map[string]*testNode)}
}

// nodeAddr is every Forwarder's NodeAddr.
func (c *testCluster) nodeAddr(id string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[id]
	if !ok {
		return "", false
	}
	return n.mux.Addr().String(), true
}

// nodeOpts tunes addNode.
type nodeOpts struct {
	role      string                      // certificate OU; manager when empty
	lookup    func(string) (string, bool) // replaces the node's task map
	server    ForwardServer               // Lookup and Dial are filled in
	forwarder ForwarderConfig             // NodeID, NodeAddr and TLS are filled in
}

// addNode starts a node whose cluster port listens on 127.0.0.1.
func (c *testCluster) addNode(t testing.TB, id string, opts nodeOpts) *testNode {
	t.Helper()
	role := opts.role
	if role == "" {
		role = ca.OUManager
	}
	n := &testNode{id: id, cert: c.ca.issue(t, id, role), tasks: make(map[string]string)}
	mux, err := transport.Listen("127.0.0.1:0", ca.ServerTLS(c.ca.root, n.cert), testutil.Logger(t).With("node_id", id))
	if err != nil {
		t.Fatalf("cluster port of %s: %v", id, err)
	}
	n.mux = mux
	t.Cleanup(func() { mux.Close() })
	fcfg := opts.forwarder
	fcfg.NodeID, fcfg.NodeAddr, fcfg.TLS = id, c.nodeAddr, c.ca.clientTLS(n.cert)
	n.fwd = NewForwarder(fcfg)
	t.Cleanup(func() { n.fwd.Close() })

	n.lookup = opts.lookup
	if n.lookup == nil {
		n.lookup = n.mapLookup
	}
	srv := opts.server
	srv.Lookup = func(task string) (string, bool) { return n.lookup(task) }
	var d net.Dialer
	srv.Dial = func(ctx context.Context, addr string) (net.Conn, error) {
		n.mu.Lock()
		n.dialled = append(n.dialled, addr)
		n.mu.Unlock()
		return d.DialContext(ctx, "tcp", addr)
	}
	if srv.Logger == nil {
		srv.Logger = testutil.Logger(t).With("node_id", id, "component", "forward")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// Register the protocol before anyone dials: the port negotiates only
	// the protocols it has listeners for.
	ln := &countingListener{Listener: mux.Listener(transport.ProtoMesh, false)}
	n.accepted, n.closed = &ln.n, &ln.closed
	go func() { done <- srv.Serve(ctx, ln) }()
	var once sync.Once
	n.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("ForwardServer of %s returned %v after cancel, want nil", id, err)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("ForwardServer of %s did not return after its context was cancelled", id)
			}
		})
	}
	t.Cleanup(n.stop)

	c.mu.Lock()
	c.nodes[id] = n
	c.mu.Unlock()
	return n
}

// runTask makes lookup on n answer ip for task.
func (n *testNode) runTask(task, ip string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tasks[task] = ip
}

func (n *testNode) mapLookup(task string) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ip, ok := n.tasks[task]
	return ip, ok
}

// dials returns the addresses n's ForwardServer dialled.
func (n *testNode) dials() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.dialled...)
}

// newMesh returns a mesh of n bound on bind, dialling through n's
// Forwarder, closed when the test ends.
func (n *testNode) newMesh(t testing.TB, bind string) *Mesh {
	t.Helper()
	m := New(Config{BindAddr: bind, Dialer: n.fwd.Dial, Logger: testutil.Logger(t).With("node_id", n.id)})
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close mesh of %s: %v", n.id, err)
		}
	})
	return m
}

// on returns the backend of s as a task running on node.
func (s *nameServer) on(node string) Backend {
	b := s.backend()
	b.NodeID = node
	return b
}

// rawForward opens the mesh protocol on n's cluster port with cfg, sends
// header as is and returns the answer line (without the newline) and the
// connection, which carries frames after an ok; a refused handshake is an
// error.
func rawForward(t testing.TB, n *testNode, cfg *tls.Config, header string) (string, net.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := transport.Dial(ctx, n.mux.Addr().String(), transport.ProtoMesh, cfg)
	if err != nil {
		return "", nil, err
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if header != "" {
		if _, err := c.Write([]byte(header)); err != nil {
			return "", c, err
		}
	}
	line, _, err := readLine(c)
	return string(line), c, err
}

// discardLogger drops everything: benchmarks print their logs.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// idleConns is how many idle connections the forwarder keeps to node.
func (f *Forwarder) idleConns(node string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if nc, ok := f.nodes[node]; ok {
		return len(nc.idle)
	}
	return 0
}
