package join

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

// TestRenewalFollowsTheRoleInTheClusterState renews a worker that was
// promoted, then demotes it again, checking the files and the identity
// each time.
func TestRenewalFollowsTheRoleInTheClusterState(t *testing.T) {
	dir := t.TempDir()
	managerRoot, _, err := ca.Bootstrap(t.TempDir(), "m1", epoch, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// The node starts as a worker: its directory has no CA key.
	key, _ := ca.GenerateKey()
	certPEM, _ := managerRoot.Issue(&key.PublicKey, "w1", ca.OUWorker, epoch, time.Hour)
	keyPEM, _ := ca.MarshalKey(key)
	if err := Save(dir, &Result{NodeID: "w1", Role: types.RoleWorker, CertPEM: certPEM, KeyPEM: keyPEM, CACertPEM: managerRoot.PEM}); err != nil {
		t.Fatal(err)
	}
	root, nc, err := ca.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	id := ca.NewIdentity(root, nc)
	cluster := &types.Cluster{ID: types.ClusterID, CertExpiry: types.Duration(3 * time.Hour)}
	pub, _ := ca.MarshalPublicKey(&id.Cert().Key().PublicKey)

	steps := []struct {
		role      types.NodeRole
		wantCAKey bool
	}{{types.RoleManager, true}, {types.RoleWorker, false}}
	for _, step := range steps {
		node := &types.Node{ID: "w1", Spec: types.NodeSpec{Role: step.role}}
		peer, _ := ca.PeerOf(stateOf(id.Cert()))
		later := epoch.Add(40 * time.Minute)
		r, err := Renew(managerRoot, cluster, node, peer, pub, later)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Apply(dir, id); err != nil {
			t.Fatal(err)
		}
		if ca.RoleOf(id.Cert().Role()) != step.role || id.Cert().NodeID() != "w1" {
			t.Fatalf("identity after renewal as %s: %s/%s", step.role, id.Cert().NodeID(), id.Cert().Role())
		}
		if got := id.Cert().Leaf.NotAfter; !got.Equal(later.Add(3 * time.Hour)) {
			t.Errorf("renewed certificate expires %v, want the cluster's 3h from renewal", got)
		}
		root, onDisk, err := ca.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if (root.Key != nil) != step.wantCAKey || !onDisk.Leaf.Equal(id.Cert().Leaf) {
			t.Errorf("as %s: CA key on disk %v", step.role, root.Key != nil)
		}
	}
}

// stateOf fakes the verified connection state of a node's certificate.
func stateOf(nc *ca.NodeCert) (st tls.ConnectionState) {
	st.VerifiedChains = [][]*x509.Certificate{{nc.Leaf}}
	return st
}

func TestRenewRefusals(t *testing.T) {
	root, err := ca.NewRoot(epoch)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ca.GenerateKey()
	pub, _ := ca.MarshalPublicKey(&key.PublicKey)
	node := &types.Node{ID: "w1", Spec: types.NodeSpec{Role: types.RoleWorker}}
	tests := []struct {
		name string
		node *types.Node
		peer ca.Peer
		pub  []byte
		kind error
		want string
	}{
		{"removed node", nil, ca.Peer{ID: "w1", Role: ca.OUWorker}, pub, errdefs.ErrPermissionDenied, "node w1 is no longer part of the cluster"},
		{"another node's record", node, ca.Peer{ID: "w2", Role: ca.OUWorker}, pub, errdefs.ErrPermissionDenied, "node w2 is no longer part of the cluster"},
		{"client certificate", node, ca.Peer{ID: "w1", Role: ca.OUClient}, pub, errdefs.ErrPermissionDenied, "not a node's"},
		{"bad key", node, ca.Peer{ID: "w1", Role: ca.OUWorker}, []byte("x"), errdefs.ErrInvalidArgument, "not PEM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Renew(root, nil, tt.node, tt.peer, tt.pub, epoch)
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Renew: %v, want %v containing %q", err, tt.kind, tt.want)
			}
		})
	}
}
