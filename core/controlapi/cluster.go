package controlapi

import (
	"context"
	"fmt"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/join"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// clusterCA is what the cluster identity calls need: the root CA with its
// key, and the cluster port this manager advertises.
type clusterCA struct {
	root *ca.Root
	addr string
}

// SetCA gives the server the cluster's root CA, with its key, and the
// advertise address of this manager's cluster port, which the join tokens
// and client certificates point remote hosts at. Until it is called (and on
// a node without the CA key) JoinTokens, RotateJoinToken and
// IssueClientCert fail as unavailable. It may be called again, as when the
// node's role changes.
func (s *Server) SetCA(root *ca.Root, advertiseAddr string) {
	s.ca.Store(&clusterCA{root: root, addr: advertiseAddr})
}

// signer returns the CA when this node can sign.
func (s *Server) signer() (*clusterCA, error) {
	c := s.ca.Load()
	if c == nil || c.root == nil || c.root.Key == nil {
		return nil, fmt.Errorf("%w: this node holds no cluster CA key, so it cannot issue join tokens or certificates: run the command against a manager", errdefs.ErrUnavailable)
	}
	return c, nil
}

// cluster reads the cluster record.
func (s *Server) cluster(ctx context.Context) (*types.Cluster, error) {
	var c *types.Cluster
	s.view(ctx, func(tx store.ReadTx) { c = tx.Cluster().Copy() })
	if c == nil {
		return nil, fmt.Errorf("%w: the cluster record does not exist yet (the first manager is still starting): retry in a moment", errdefs.ErrUnavailable)
	}
	return c, nil
}

// JoinTokens derives the current join tokens.
func (s *Server) JoinTokens(ctx context.Context) (*api.JoinTokens, error) {
	signer, err := s.signer()
	if err != nil {
		return nil, err
	}
	c, err := s.cluster(ctx)
	if err != nil {
		return nil, err
	}
	return tokens(signer, c.JoinTokens)
}

func tokens(signer *clusterCA, gens types.JoinTokens) (*api.JoinTokens, error) {
	worker, manager, err := join.Tokens(signer.root, gens)
	if err != nil {
		return nil, err
	}
	return &api.JoinTokens{Worker: worker, Manager: manager, Addr: signer.addr}, nil
}

// RotateJoinToken bumps the generation of role's token, which invalidates
// the old one: a node that tries it is told the token was rotated.
func (s *Server) RotateJoinToken(ctx context.Context, role types.NodeRole) (*api.JoinTokens, error) {
	if role != types.RoleWorker && role != types.RoleManager {
		return nil, invalid(fmt.Errorf("unknown join token role %q: want worker or manager", role))
	}
	signer, err := s.signer()
	if err != nil {
		return nil, err
	}
	var gens types.JoinTokens
	err = s.update(ctx, func(tx store.Tx) error {
		c := tx.Cluster()
		if c == nil {
			return fmt.Errorf("%w: the cluster record does not exist yet: retry in a moment", errdefs.ErrUnavailable)
		}
		nc := c.Copy()
		if role == types.RoleWorker {
			nc.JoinTokens.Worker++
		} else {
			nc.JoinTokens.Manager++
		}
		gens = nc.JoinTokens
		return tx.UpdateCluster(nc)
	})
	if err != nil {
		return nil, storeErr(err)
	}
	s.logger.Info("join token rotated", "role", string(role), "worker_generation", gens.Worker, "manager_generation", gens.Manager)
	return tokens(signer, gens)
}

// IssueClientCert signs a client certificate for a remote CLI. It lasts
// the cluster's certificate expiry and is not renewed.
func (s *Server) IssueClientCert(ctx context.Context, req api.ClientCertRequest) (*api.ClientCert, error) {
	if err := ca.ValidateClientName(req.Name); err != nil {
		return nil, invalid(err)
	}
	pub, err := ca.ParsePublicKey([]byte(req.PublicKeyPEM))
	if err != nil {
		return nil, invalid(err)
	}
	signer, err := s.signer()
	if err != nil {
		return nil, err
	}
	c, err := s.cluster(ctx)
	if err != nil {
		return nil, err
	}
	expiry := c.CertExpiry.D()
	if expiry <= 0 {
		expiry = ca.DefaultCertExpiry
	}
	cert, err := signer.root.IssueClient(pub, req.Name, s.clock.Now(), expiry)
	if err != nil {
		return nil, err
	}
	s.logger.Info("client certificate issued", "client", req.Name, "expiry", expiry.String())
	return &api.ClientCert{CertPEM: string(cert), CACertPEM: string(signer.root.PEM), Addr: signer.addr}, nil
}
