package ca

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/types"
)

func TestRenewAtIsTwoThirdsIntoTheValidity(t *testing.T) {
	root, err := NewRoot(now)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		expiry time.Duration
		want   time.Time
	}{
		// Certificates are backdated an hour: a 90-day certificate is
		// valid 90 days and 1 hour, renewed 60 days 40 minutes after
		// NotBefore, i.e. 59 days 23h40m after issue.
		{DefaultCertExpiry, now.Add(-time.Hour).Add((DefaultCertExpiry + time.Hour) / 3 * 2)},
		{2 * time.Hour, now.Add(time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.expiry.String(), func(t *testing.T) {
			key, _ := GenerateKey()
			certPEM, err := root.Issue(&key.PublicKey, "n1", OUWorker, now, tt.expiry)
			if err != nil {
				t.Fatal(err)
			}
			c := leafOf(t, certPEM, key)
			got := RenewAt(c)
			if !got.Equal(tt.want) {
				t.Errorf("RenewAt = %v, want %v", got, tt.want)
			}
			if tt.expiry == DefaultCertExpiry {
				if d := got.Sub(now); d < 59*24*time.Hour || d > 60*24*time.Hour {
					t.Errorf("a 90-day certificate renews %v after issue, want about 60 days", d)
				}
			}
		})
	}
}

func leafOf(t *testing.T, certPEM []byte, key *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	keyPEM, err := MarshalKey(key)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := ParseNodeCert(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return nc.Leaf
}

func TestReissueKeepsTheNodeAndTakesTheRoleGiven(t *testing.T) {
	root, err := NewRoot(now)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := GenerateKey()
	tests := []struct {
		name    string
		peer    Peer
		role    types.NodeRole
		wantOU  string
		wantErr string
	}{
		{"worker stays a worker", Peer{ID: "n1", Role: OUWorker}, types.RoleWorker, OUWorker, ""},
		{"promoted worker", Peer{ID: "n1", Role: OUWorker}, types.RoleManager, OUManager, ""},
		{"demoted manager", Peer{ID: "n2", Role: OUManager}, types.RoleWorker, OUWorker, ""},
		{"client certificate", Peer{ID: "alice", Role: OUClient}, types.RoleWorker, "", "it is not a node certificate"},
		{"unknown role", Peer{ID: "n1", Role: OUWorker}, "boss", "", `unknown role "boss"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certPEM, err := root.Reissue(&key.PublicKey, tt.peer, tt.role, now, 10*time.Hour)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Reissue: %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c := leafOf(t, certPEM, key)
			if c.Subject.CommonName != tt.peer.ID || c.Subject.OrganizationalUnit[0] != tt.wantOU {
				t.Errorf("certificate names %s/%v", c.Subject.CommonName, c.Subject.OrganizationalUnit)
			}
			if !c.NotAfter.Equal(now.Add(10 * time.Hour).Truncate(time.Second)) {
				t.Errorf("NotAfter %v", c.NotAfter)
			}
		})
	}
}

func TestClientCertificatesOnlyAuthenticateClients(t *testing.T) {
	root, err := NewRoot(now)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := GenerateKey()
	certPEM, err := root.IssueClient(&key.PublicKey, "alice@laptop", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c := leafOf(t, certPEM, key)
	if c.Subject.CommonName != "alice@laptop" || c.Subject.OrganizationalUnit[0] != OUClient {
		t.Fatalf("certificate names %s/%v", c.Subject.CommonName, c.Subject.OrganizationalUnit)
	}
	opts := x509.VerifyOptions{Roots: root.Pool(), CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if _, err := c.Verify(opts); err != nil {
		t.Errorf("as a client: %v", err)
	}
	opts.KeyUsages, opts.DNSName = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, ServerName
	if _, err := c.Verify(opts); err == nil {
		t.Error("a client certificate verifies as the cluster's server certificate")
	}
	for _, bad := range []string{"", "-alice", "alice smith", strings.Repeat("a", 65), "a/b"} {
		if _, err := root.IssueClient(&key.PublicKey, bad, now, time.Hour); err == nil || !strings.Contains(err.Error(), "invalid client name") {
			t.Errorf("IssueClient(%q): %v", bad, err)
		}
	}
}

func TestPublicKeysAreCheckedWhenParsed(t *testing.T) {
	key, _ := GenerateKey()
	pubPEM, _ := MarshalPublicKey(&key.PublicKey)
	got, err := ParsePublicKey(pubPEM)
	if err != nil || !got.Equal(&key.PublicKey) {
		t.Fatalf("round trip: %v", err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384PEM, _ := MarshalPublicKey(&p384.PublicKey)
	privPEM, _ := MarshalKey(key)
	for name, tt := range map[string]struct {
		in   []byte
		want string
	}{
		"private key": {privPEM, `"EC PRIVATE KEY" PEM block`},
		"P-384":       {p384PEM, "want an ECDSA P-256 key"},
		"garbage":     {[]byte("hello"), "not PEM"},
	} {
		if _, err := ParsePublicKey(tt.in); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", name, err, tt.want)
		}
	}
}

func TestSaveAndRemoveCAKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	root, nc, err := Bootstrap(dir, "n1", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// A renewal that keeps the key replaces node.crt alone.
	certPEM, err := root.Reissue(&nc.Key().PublicKey, Peer{ID: "n1", Role: OUManager}, types.RoleWorker, now, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	renewed, err := nc.Renewed(root, certPEM)
	if err != nil {
		t.Fatal(err)
	}
	if err := Save(dir, Files{Cert: certPEM}); err != nil {
		t.Fatal(err)
	}
	if err := RemoveCAKey(dir); err != nil {
		t.Fatal(err)
	}
	if err := RemoveCAKey(dir); err != nil {
		t.Errorf("removing a missing CA key: %v", err)
	}
	root2, nc2, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if root2.Key != nil || nc2.Role() != OUWorker || !nc2.Leaf.Equal(renewed.Leaf) {
		t.Errorf("after renewal: CA key %v, role %s", root2.Key != nil, nc2.Role())
	}
	for _, f := range []string{"ca.crt", "node.crt", "node.key"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, fi.Mode(), err)
		}
	}
}

func TestRenewedRefusesAForeignCertificate(t *testing.T) {
	root, nc, err := Bootstrap(t.TempDir(), "n1", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := GenerateKey()
	otherRoot, _ := NewRoot(now)
	forOther, _ := root.Issue(&other.PublicKey, "n1", OUWorker, now, time.Hour)
	forN2, _ := root.Issue(&nc.Key().PublicKey, "n2", OUWorker, now, time.Hour)
	byOther, _ := otherRoot.Issue(&nc.Key().PublicKey, "n1", OUWorker, now, time.Hour)
	for name, tt := range map[string]struct {
		pem  []byte
		want string
	}{
		"another key":  {forOther, "for another key"},
		"another node": {forN2, `names node "n2"`},
		"another CA":   {byOther, "not signed by the cluster CA"},
	} {
		if _, err := nc.Renewed(root, tt.pem); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", name, err, tt.want)
		}
	}
}

// TestIdentityServesTheRenewedCertificate runs a TLS server and client
// from one Identity: after SetCert, new handshakes use the new
// certificate, and the server presents the root after its certificate.
func TestIdentityServesTheRenewedCertificate(t *testing.T) {
	start := time.Now()
	root, nc, err := Bootstrap(t.TempDir(), "n1", start, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	id := NewIdentity(root, nc)
	addr := serveTLS(t, id.ServerTLS(), func(st tls.ConnectionState) string {
		if p, ok := PeerOf(st); ok {
			return p.ID + "/" + p.Role
		}
		return ""
	})
	dial := func() (string, []*x509.Certificate) {
		t.Helper()
		d := tls.Dialer{Config: id.ClientTLS()}
		c, err := d.DialContext(context.Background(), "tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		return string(b), c.(*tls.Conn).ConnectionState().PeerCertificates
	}
	got, chain := dial()
	if got != "n1/"+OUManager || len(chain) != 2 || !chain[1].Equal(root.Cert) || !chain[0].Equal(nc.Leaf) {
		t.Fatalf("before renewal: peer %q, chain of %d", got, len(chain))
	}
	certPEM, err := root.Reissue(&nc.Key().PublicKey, Peer{ID: "n1", Role: OUManager}, types.RoleWorker, start, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	renewed, err := nc.Renewed(root, certPEM)
	if err != nil {
		t.Fatal(err)
	}
	id.SetCert(renewed)
	got, chain = dial()
	if got != "n1/"+OUWorker || !chain[0].Equal(renewed.Leaf) || id.Cert() != renewed {
		t.Fatalf("after renewal: peer %q", got)
	}
}
