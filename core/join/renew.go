package join

import (
	"errors"
	"fmt"
	"time"

	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

// Renewal is a node's renewed certificate: for the same node ID, in the
// role the cluster gives the node now, with the CA key when that role is
// manager.
type Renewal struct {
	Role     types.NodeRole
	CertPEM  []byte
	CAKeyPEM []byte
	// DataKey is the cluster's data-encryption key, for a manager (the
	// daemon adds it; Apply leaves it to the caller to store).
	DataKey []byte
}

// Renew is the managers' side of certificate renewal, for the RenewCert
// RPC: peer is the verified identity of the calling node (ca.PeerOf its
// connection), node its record in the store (nil when it was removed),
// cluster the cluster record, pubPEM the public key to certify (the node's
// current key, so that only node.crt changes on disk). The certificate
// lasts the cluster's CertExpiry.
func Renew(root *ca.Root, cluster *types.Cluster, node *types.Node, peer ca.Peer, pubPEM []byte, now time.Time) (*Renewal, error) {
	if peer.Role != ca.OUManager && peer.Role != ca.OUWorker {
		return nil, fmt.Errorf("%w: renew certificate: %q holds a %s certificate, not a node's; a client gets a new certificate with 'hive cluster client-cert'", errdefs.ErrPermissionDenied, peer.ID, peer.Role)
	}
	if node == nil || node.ID != peer.ID {
		return nil, fmt.Errorf("%w: renew certificate: node %s is no longer part of the cluster: join it again with a token from 'hive join-token'", errdefs.ErrPermissionDenied, peer.ID)
	}
	pub, err := ca.ParsePublicKey(pubPEM)
	if err != nil {
		return nil, fmt.Errorf("%w: renew certificate of node %s: %w", errdefs.ErrInvalidArgument, peer.ID, err)
	}
	expiry := ca.DefaultCertExpiry
	if cluster != nil && cluster.CertExpiry > 0 {
		expiry = cluster.CertExpiry.D()
	}
	cert, err := root.Reissue(pub, peer, node.Spec.Role, now, expiry)
	if err != nil {
		return nil, err
	}
	r := &Renewal{Role: node.Spec.Role, CertPEM: cert}
	if node.Spec.Role == types.RoleManager {
		if r.CAKeyPEM, err = root.KeyPEM(); err != nil {
			return nil, fmt.Errorf("renew certificate of manager %s: %w", peer.ID, err)
		}
	}
	return r, nil
}

// Apply is the node's side: it checks the renewed certificate against the
// node's key and CA, writes it into the certificate directory dir (with
// the CA key for a manager; without it, removing any, for a worker) and
// makes id serve it from the next handshake on.
func (r *Renewal) Apply(dir string, id *ca.Identity) error {
	nc, err := id.Cert().Renewed(id.Root(), r.CertPEM)
	if err != nil {
		return err
	}
	if ca.RoleOf(nc.Role()) != r.Role {
		return fmt.Errorf("renewed certificate carries role %q, not %s", nc.Role(), r.Role)
	}
	if r.Role == types.RoleManager {
		if len(r.CAKeyPEM) == 0 {
			return errors.New("renewed certificate of a manager came without the CA key")
		}
		if _, err := ca.ParseRoot(id.Root().PEM, r.CAKeyPEM); err != nil {
			return fmt.Errorf("renewed certificate of a manager: %w", err)
		}
	}
	if err := ca.Save(dir, ca.Files{Cert: r.CertPEM, CAKey: r.CAKeyPEM}); err != nil {
		return fmt.Errorf("save the renewed certificate: %w", err)
	}
	if r.Role != types.RoleManager {
		if err := ca.RemoveCAKey(dir); err != nil {
			return fmt.Errorf("save the renewed certificate: %w", err)
		}
	}
	id.SetCert(nc)
	return nil
}
