package join

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/transport"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/testutil"
)

// countingListener counts the connections the join server accepted: the
// cluster port hands over a connection only once its TLS handshake is
// done, so a join refused during the handshake never shows here.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// admission is one call of the fake Admit.
type admission struct {
	role           types.NodeRole
	hostname, addr string
}

// cluster is a manager serving joins on a real cluster port, with a
// cluster record and an Admit that records what it admitted.
type cluster struct {
	t    *testing.T
	root *ca.Root
	addr string
	ln   *countingListener

	mu       sync.Mutex
	record   types.Cluster
	admitted []admission
}

func newCluster(t *testing.T) *cluster {
	return newClusterTLS(t, nil)
}

// newClusterTLS starts a manager; serverTLS, when set, replaces the
// certificate the cluster port presents.
func newClusterTLS(t *testing.T, serverTLS func(root *ca.Root, nc *ca.NodeCert) *tls.Config) *cluster {
	t.Helper()
	now := clock.Real{}.Now()
	root, nc, err := ca.Bootstrap(t.TempDir(), "manager1", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ca.ServerTLS(root, nc)
	if serverTLS != nil {
		cfg = serverTLS(root, nc)
	}
	mux, err := transport.Listen("127.0.0.1:0", cfg, testutil.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mux.Close() })
	c := &cluster{t: t, root: root, addr: mux.Addr().String(),
		ln:     &countingListener{Listener: mux.Listener(transport.ProtoJoin, true)},
		record: types.Cluster{ID: types.ClusterID, CertExpiry: types.Duration(48 * time.Hour)}}
	srv, err := NewServer(Config{
		Root: root,
		Cluster: func(context.Context) (*types.Cluster, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.record.Copy(), nil
		},
		Admit: func(_ context.Context, role types.NodeRole, hostname, addr string) (string, []string, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.admitted = append(c.admitted, admission{role, hostname, addr})
			return fmt.Sprintf("node%021d", len(c.admitted)), []string{c.addr}, nil
		},
		DataKey: func() []byte { return testDataKey },
		Logger:  testutil.Logger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, c.ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return c
}

// testDataKey is the data-encryption key the test cluster hands managers.
var testDataKey = []byte("0123456789abcdef0123456789abcdef")

func (c *cluster) token(role types.NodeRole) string {
	c.t.Helper()
	c.mu.Lock()
	gens := c.record.JoinTokens
	c.mu.Unlock()
	w, m, err := Tokens(c.root, gens)
	if err != nil {
		c.t.Fatal(err)
	}
	if role == types.RoleManager {
		return m
	}
	return w
}

func (c *cluster) admissions() []admission {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]admission(nil), c.admitted...)
}

func join(t *testing.T, addr, token string, role types.NodeRole) (*Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return Join(ctx, addr, token, Options{Hostname: "host-a", Addr: "127.0.0.9:4242", Role: role})
}

func TestJoinGivesACertificateForTheRole(t *testing.T) {
	c := newCluster(t)
	tests := []struct {
		name  string
		token types.NodeRole
		ask   types.NodeRole
		want  types.NodeRole
	}{
		{"worker token", types.RoleWorker, "", types.RoleWorker},
		{"manager token", types.RoleManager, "", types.RoleManager},
		{"manager token asked for a worker", types.RoleManager, types.RoleWorker, types.RoleWorker},
		{"manager token asked for a manager", types.RoleManager, types.RoleManager, types.RoleManager},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(c.admissions())
			res, err := join(t, c.addr, c.token(tt.token), tt.ask)
			if err != nil {
				t.Fatalf("Join: %v", err)
			}
			adm := c.admissions()
			if len(adm) != before+1 || adm[before] != (admission{tt.want, "host-a", "127.0.0.9:4242"}) {
				t.Fatalf("admitted %+v", adm[before:])
			}
			if res.Role != tt.want || res.NodeID != fmt.Sprintf("node%021d", before+1) || len(res.Managers) != 1 || res.Managers[0] != c.addr {
				t.Fatalf("result %+v", res)
			}
			dir := t.TempDir()
			if err := Save(dir, res); err != nil {
				t.Fatal(err)
			}
			root, nc, err := ca.Load(dir)
			if err != nil {
				t.Fatalf("load the saved certificates: %v", err)
			}
			if root.Digest() != c.root.Digest() || nc.NodeID() != res.NodeID || ca.RoleOf(nc.Role()) != tt.want {
				t.Fatalf("saved identity: CA %s, node %s, role %s", root.Digest(), nc.NodeID(), nc.Role())
			}
			if got := root.Key != nil; got != (tt.want == types.RoleManager) {
				t.Errorf("CA key saved: %v, want it only on managers", got)
			}
			if got := bytes.Equal(res.DataKey, testDataKey); got != (tt.want == types.RoleManager) || (tt.want == types.RoleWorker && res.DataKey != nil) {
				t.Errorf("data-encryption key received: %v, want it only on managers", got)
			}
			if _, err := nc.Leaf.Verify(x509.VerifyOptions{Roots: c.root.Pool(), DNSName: ca.ServerName,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("the certificate does not verify against the cluster CA: %v", err)
			}
			if life := nc.Leaf.NotAfter.Sub(nc.Leaf.NotBefore); life < 48*time.Hour || life > 50*time.Hour {
				t.Errorf("certificate lasts %v, want the cluster's 48h expiry", life)
			}
		})
	}
}

func TestJoinRefusals(t *testing.T) {
	c := newCluster(t)
	other := newCluster(t)
	oldWorker := c.token(types.RoleWorker)
	c.mu.Lock()
	c.record.JoinTokens.Worker++
	c.mu.Unlock()
	digest := c.root.Digest()

	tests := []struct {
		name     string
		token    string
		role     types.NodeRole
		sentinel error
		want     string
		// sent: whether the refusal comes from the server (a request was
		// sent) or from the client before sending anything.
		sent bool
	}{
		{"malformed token", "HIVE-1-nope", "", ErrMalformedToken, "malformed join token", false},
		{"another cluster's token", other.token(types.RoleWorker), "", ErrWrongCluster,
			fmt.Sprintf("the manager at %s belongs to another cluster (its CA digest is %s, the token says %s): check the address or the token", c.addr, digest, other.root.Digest()), false},
		{"rotated token", oldWorker, "", ErrRotatedToken, "this join token was rotated: get the current one with 'hive join-token worker' on a manager", true},
		{"worker token for a manager", c.token(types.RoleWorker), types.RoleManager, ErrWrongRole,
			"this is a worker join token; a manager join needs 'hive join-token manager'", true},
		{"forged secret", "HIVE-1-" + digest + "-" + strings.Repeat("7", secretLen), "", ErrInvalidToken, "is not valid for this cluster", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := c.ln.n.Load()
			_, err := join(t, c.addr, tt.token, tt.role)
			if !errors.Is(err, tt.sentinel) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Join: %v\nwant %v containing %q", err, tt.sentinel, tt.want)
			}
			if len(c.admissions()) != 0 {
				t.Fatalf("a refused node was admitted: %+v", c.admissions())
			}
			// A join that goes through proves the server has handled
			// everything sent before it.
			if _, err := join(t, c.addr, c.token(types.RoleWorker), types.RoleWorker); err != nil {
				t.Fatalf("a good join after the refusal: %v", err)
			}
			c.mu.Lock()
			c.admitted = nil
			c.mu.Unlock()
			wantConns := seen + 1
			if tt.sent {
				wantConns++
			}
			if got := c.ln.n.Load(); got != wantConns {
				t.Errorf("the join server accepted %d connection(s), want %d: the refusal must come %s", got-seen, wantConns-seen,
					map[bool]string{true: "from the server", false: "before anything is sent"}[tt.sent])
			}
		})
	}
}

func TestJoinRefusesAnImpostorPresentingTheClusterCA(t *testing.T) {
	real := newCluster(t)
	// The impostor has the cluster's CA certificate (it is public) but
	// not its key: it signs its own certificate with another CA and
	// presents the real CA after it.
	impostor := newClusterTLS(t, func(*ca.Root, *ca.NodeCert) *tls.Config {
		rogue, err := ca.NewRoot(clock.Real{}.Now())
		if err != nil {
			t.Fatal(err)
		}
		key, _ := ca.GenerateKey()
		certPEM, err := rogue.Issue(&key.PublicKey, "manager1", ca.OUManager, clock.Real{}.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		keyPEM, _ := ca.MarshalKey(key)
		nc, err := ca.ParseNodeCert(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		cert := nc.TLS
		cert.Certificate = append(cert.Certificate, real.root.Cert.Raw)
		return &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert},
			ClientCAs: rogue.Pool(), ClientAuth: tls.VerifyClientCertIfGiven}
	})
	_, err := join(t, impostor.addr, real.token(types.RoleManager), "")
	if !errors.Is(err, ErrWrongCluster) || !strings.Contains(err.Error(), "does not verify against it") {
		t.Fatalf("Join: %v", err)
	}
	if n := impostor.ln.n.Load(); n != 0 {
		t.Errorf("the impostor received %d request(s)", n)
	}
}

func TestJoinToNothingSaysWhereItLooked(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	root := newRoot(t)
	tok, _ := NewToken(root, types.RoleWorker, 0)
	_, err = join(t, addr, tok, "")
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "join "+addr) || !strings.Contains(err.Error(), "check the address") {
		t.Fatalf("Join: %v", err)
	}
}

func TestServerRefusesAnUnusableRequest(t *testing.T) {
	c := newCluster(t)
	srv, err := NewServer(Config{Root: c.root, Cluster: func(context.Context) (*types.Cluster, error) { return c.record.Copy(), nil },
		Admit: func(context.Context, types.NodeRole, string, string) (string, []string, error) {
			return "", nil, errors.New("must not be called")
		}})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ca.GenerateKey()
	pub, _ := ca.MarshalPublicKey(&key.PublicKey)
	priv, _ := ca.MarshalKey(key)
	good := Request{Token: c.token(types.RoleWorker), PublicKeyPEM: string(pub), Hostname: "h", Addr: "10.0.0.2:4242"}
	tests := []struct {
		name   string
		change func(r *Request)
		want   string
	}{
		{"private key sent", func(r *Request) { r.PublicKeyPEM = string(priv) }, `the public key is a "EC PRIVATE KEY" PEM block`},
		{"no key", func(r *Request) { r.PublicKeyPEM = "" }, "the public key is not PEM"},
		{"no hostname", func(r *Request) { r.Hostname = "" }, `invalid hostname ""`},
		{"no address", func(r *Request) { r.Addr = "" }, `invalid advertise address ""`},
		{"address without port", func(r *Request) { r.Addr = "10.0.0.2" }, "want host:port"},
		{"unknown role", func(r *Request) { r.Role = "boss" }, `unknown role "boss"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := good
			tt.change(&req)
			_, err := srv.handle(context.Background(), req)
			if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("handle: %v, want invalid_argument containing %q", err, tt.want)
			}
		})
	}
}

func TestServerWaitsForTheClusterRecord(t *testing.T) {
	root := newRoot(t)
	srv, err := NewServer(Config{Root: root, Cluster: func(context.Context) (*types.Cluster, error) { return nil, nil },
		Admit: func(context.Context, types.NodeRole, string, string) (string, []string, error) { return "", nil, nil }})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := NewToken(root, types.RoleWorker, 0)
	_, err = srv.handle(context.Background(), Request{Token: tok})
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "retry in a moment") {
		t.Fatalf("handle: %v", err)
	}
	if _, err := NewServer(Config{Root: &ca.Root{Cert: root.Cert}, Cluster: func(context.Context) (*types.Cluster, error) { return nil, nil },
		Admit: func(context.Context, types.NodeRole, string, string) (string, []string, error) { return "", nil, nil }}); err == nil {
		t.Error("a server without the CA key was made")
	}
}
