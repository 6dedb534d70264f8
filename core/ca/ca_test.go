package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func TestBootstrapThenLoadGivesTheSameIdentity(t *testing.T) {
	dir := t.TempDir()
	root, nc, err := Bootstrap(dir, "node1", now, DefaultCertExpiry)
	if err != nil {
		t.Fatal(err)
	}
	if nc.NodeID() != "node1" || nc.Role() != OUManager {
		t.Fatalf("certificate names %q/%q", nc.NodeID(), nc.Role())
	}
	if got := nc.Leaf.NotAfter.Sub(now); got < DefaultCertExpiry-time.Minute || got > DefaultCertExpiry+time.Minute {
		t.Fatalf("certificate lasts %v, want %v", got, DefaultCertExpiry)
	}
	root2, nc2, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if root2.Digest() != root.Digest() || root2.Key == nil || nc2.NodeID() != "node1" {
		t.Fatal("loaded identity differs from the bootstrapped one")
	}
	if _, err := nc2.Leaf.Verify(x509.VerifyOptions{Roots: root.Pool(), DNSName: ServerName, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("node certificate does not verify against the root: %v", err)
	}
}

func TestClusterPortRefusesACertificateFromAnotherCA(t *testing.T) {
	root, nc, err := Bootstrap(t.TempDir(), "node1", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, ServerTLS(root, nc), func(tls.ConnectionState) string { return "hello" })

	// A member of the cluster gets in.
	c, err := tls.Dial("tcp", addr, ClientTLS(root, nc))
	if err != nil {
		t.Fatalf("member dial: %v", err)
	}
	if b, _ := io.ReadAll(c); string(b) != "hello" {
		t.Fatalf("member read %q", b)
	}
	c.Close()

	// A certificate from another CA is refused.
	otherRoot, err := NewRoot(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	certPEM, err := otherRoot.Issue(&key.PublicKey, "intruder", OUManager, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, _ := MarshalKey(key)
	intruder, err := ParseNodeCert(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ClientTLS(root, intruder)
	if c, err := tls.Dial("tcp", addr, cfg); err == nil {
		_, rerr := io.ReadAll(c)
		c.Close()
		if rerr == nil {
			t.Fatal("a certificate from another CA was accepted")
		}
	}
}

// serveTLS accepts TLS connections with cfg on a loopback port until the
// test ends, writes each client that completes the handshake what reply
// says of its connection, and returns the port's address.
func serveTLS(t *testing.T, cfg *tls.Config, reply func(tls.ConnectionState) string) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := c.(*tls.Conn)
				if tc.Handshake() != nil {
					return
				}
				io.WriteString(c, reply(tc.ConnectionState()))
			}()
		}
	}()
	return l.Addr().String()
}
