package controlapi

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/join"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

var epoch = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// newClusterServer returns a Server on a memory store holding a cluster
// record, and the root CA it was given.
func newClusterServer(t *testing.T) (*Server, *store.Store, *ca.Root) {
	t.Helper()
	clk := clock.NewFake(epoch)
	st := store.NewMemory(clk)
	t.Cleanup(func() { st.Close() })
	if err := st.Update(context.Background(), func(tx store.Tx) error {
		return tx.CreateCluster(&types.Cluster{ID: types.ClusterID, CertExpiry: types.Duration(72 * time.Hour)})
	}); err != nil {
		t.Fatal(err)
	}
	root, err := ca.NewRoot(epoch)
	if err != nil {
		t.Fatal(err)
	}
	s := New(st, clk, "node1", nil, nil, slog.New(slog.DiscardHandler))
	s.SetCA(root, "10.0.0.1:4242")
	return s, st, root
}

func TestJoinTokensRotateOneRoleAtATime(t *testing.T) {
	s, st, root := newClusterServer(t)
	ctx := context.Background()
	before, err := s.JoinTokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if before.Addr != "10.0.0.1:4242" || !strings.HasPrefix(before.Worker, "HIVE-1-"+root.Digest()+"-") {
		t.Fatalf("tokens %+v", before)
	}
	after, err := s.RotateJoinToken(ctx, types.RoleWorker)
	if err != nil {
		t.Fatal(err)
	}
	if after.Worker == before.Worker || after.Manager != before.Manager {
		t.Fatalf("rotating the worker token: before %+v, after %+v", before, after)
	}
	var gens types.JoinTokens
	st.View(func(tx store.ReadTx) { gens = tx.Cluster().JoinTokens })
	if gens != (types.JoinTokens{Worker: 1}) {
		t.Fatalf("generations %+v", gens)
	}
	// The old token is now recognised as rotated, the new one works.
	old, _ := join.ParseToken(before.Worker)
	if _, err := join.Check(root, gens, old); !errors.Is(err, join.ErrRotatedToken) {
		t.Errorf("old worker token: %v", err)
	}
	cur, _ := join.ParseToken(after.Worker)
	if role, err := join.Check(root, gens, cur); err != nil || role != types.RoleWorker {
		t.Errorf("new worker token: %q, %v", role, err)
	}
	if again, _ := s.JoinTokens(ctx); *again != *after {
		t.Errorf("JoinTokens after the rotation = %+v, want %+v", again, after)
	}
	if _, err := s.RotateJoinToken(ctx, "boss"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("rotating an unknown role: %v", err)
	}
}

func TestClientCertificateIsSignedForTheKeySent(t *testing.T) {
	s, _, root := newClusterServer(t)
	key, _ := ca.GenerateKey()
	pub, _ := ca.MarshalPublicKey(&key.PublicKey)
	out, err := s.IssueClientCert(context.Background(), api.ClientCertRequest{Name: "alice@laptop", PublicKeyPEM: string(pub)})
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, _ := ca.MarshalKey(key)
	cert, err := tls.X509KeyPair([]byte(out.CertPEM), keyPEM)
	if err != nil {
		t.Fatalf("the certificate is not for the key sent: %v", err)
	}
	leaf := cert.Leaf
	if leaf.Subject.CommonName != "alice@laptop" || leaf.Subject.OrganizationalUnit[0] != ca.OUClient {
		t.Errorf("certificate names %s/%v", leaf.Subject.CommonName, leaf.Subject.OrganizationalUnit)
	}
	if got := leaf.NotAfter.Sub(epoch); got != 72*time.Hour {
		t.Errorf("the certificate lasts %v, want the cluster's 72h", got)
	}
	if out.CACertPEM != string(root.PEM) || out.Addr != "10.0.0.1:4242" {
		t.Errorf("answer %+v", out)
	}

	privPEM, _ := ca.MarshalKey(key)
	for name, tt := range map[string]struct {
		req  api.ClientCertRequest
		want string
	}{
		"bad name":    {api.ClientCertRequest{Name: "alice smith", PublicKeyPEM: string(pub)}, "invalid client name"},
		"private key": {api.ClientCertRequest{Name: "alice", PublicKeyPEM: string(privPEM)}, "never send a private key"},
	} {
		if _, err := s.IssueClientCert(context.Background(), tt.req); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", name, err, tt.want)
		}
	}
}

func TestClusterCallsNeedTheCAKey(t *testing.T) {
	s, _, root := newClusterServer(t)
	ctx := context.Background()
	for name, set := range map[string]func(){
		"never set":     func() { s.ca.Store(nil) },
		"no CA key":     func() { s.SetCA(&ca.Root{Cert: root.Cert, PEM: root.PEM}, "10.0.0.1:4242") },
		"no CA key set": func() { s.SetCA(nil, "") },
	} {
		set()
		key, _ := ca.GenerateKey()
		pub, _ := ca.MarshalPublicKey(&key.PublicKey)
		_, err1 := s.JoinTokens(ctx)
		_, err2 := s.RotateJoinToken(ctx, types.RoleManager)
		_, err3 := s.IssueClientCert(ctx, api.ClientCertRequest{Name: "bob", PublicKeyPEM: string(pub)})
		for _, err := range []error{err1, err2, err3} {
			if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "run the command against a manager") {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
}
