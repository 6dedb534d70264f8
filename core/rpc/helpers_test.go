package rpc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/transport"
	"github.com/hiveorch/hive/internal/testutil"
)

// testWait bounds every wait of a test.
const testWait = 15 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	t.Cleanup(cancel)
	return ctx
}

// pki is a cluster CA with certificates issued from it.
type pki struct {
	t    *testing.T
	root *ca.Root
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	root, _, err := ca.Bootstrap(t.TempDir(), "bootstrap", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &pki{t: t, root: root}
}

// cert issues a certificate for id with the role ou.
func (p *pki) cert(id, ou string) *ca.NodeCert {
	p.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		p.t.Fatal(err)
	}
	certPEM, err := p.root.Issue(&key.PublicKey, id, ou, time.Now(), time.Hour)
	if err != nil {
		p.t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		p.t.Fatal(err)
	}
	tc, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	if err != nil {
		p.t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(tc.Certificate[0])
	if err != nil {
		p.t.Fatal(err)
	}
	tc.Leaf = leaf
	return &ca.NodeCert{TLS: tc, Leaf: leaf}
}

// clientTLS is the client configuration of a node holding cert.
func (p *pki) clientTLS(id, ou string) *tls.Config {
	return ca.ClientTLS(p.root, p.cert(id, ou))
}

// node is a cluster port serving the RPC services.
type node struct {
	addr string
	srv  *grpc.Server
	mux  *transport.Mux
	once sync.Once
}

// serve starts a cluster port on 127.0.0.1 for a manager id, and
// registers services on its gRPC server.
func (p *pki) serve(t *testing.T, id string, register func(*grpc.Server)) *node {
	t.Helper()
	logger := testutil.Logger(t).With("node", id)
	mux, err := transport.Listen("127.0.0.1:0", ca.ServerTLS(p.root, p.cert(id, ca.OUManager)), logger)
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(logger)
	register(srv)
	n := &node{addr: mux.Addr().String(), srv: srv, mux: mux}
	go func() { _ = srv.Serve(mux.Listener(transport.ProtoRPC, false)) }()
	t.Cleanup(n.kill)
	return n
}

// kill stops the node at once, dropping its connections.
func (n *node) kill() {
	n.once.Do(func() {
		n.srv.Stop()
		_ = n.mux.Close()
	})
}

// dial connects to n as a client holding the given certificate.
func dial(t *testing.T, n *node, tlsConf *tls.Config) *grpc.ClientConn {
	t.Helper()
	cc, err := Dial(testCtx(t), n.addr, tlsConf)
	if err != nil {
		t.Fatalf("dial %s: %v", n.addr, err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}
