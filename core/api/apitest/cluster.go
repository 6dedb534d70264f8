package apitest

import (
	"context"
	"fmt"
	"slices"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/join"
	"github.com/hiveorch/hive/core/types"
)

// clusterState is the fake's cluster identity: join token generations and
// the client certificates asked for.
type clusterState struct {
	gens        types.JoinTokens
	certRequest []api.ClientCertRequest
}

// JoinTokens derives the tokens from CA and the current generations.
func (b *Backend) JoinTokens(ctx context.Context) (*api.JoinTokens, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("JoinTokens"); err != nil {
		return nil, err
	}
	return b.tokensLocked()
}

func (b *Backend) tokensLocked() (*api.JoinTokens, error) {
	if b.CA == nil {
		return nil, fmt.Errorf("%w: the fake backend has no CA: set Backend.CA", errdefs.ErrUnavailable)
	}
	worker, manager, err := join.Tokens(b.CA, b.cluster.gens)
	if err != nil {
		return nil, err
	}
	return &api.JoinTokens{Worker: worker, Manager: manager, Addr: b.ClusterAddr}, nil
}

// RotateJoinToken bumps role's generation.
func (b *Backend) RotateJoinToken(ctx context.Context, role types.NodeRole) (*api.JoinTokens, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("RotateJoinToken"); err != nil {
		return nil, err
	}
	switch role {
	case types.RoleWorker:
		b.cluster.gens.Worker++
	case types.RoleManager:
		b.cluster.gens.Manager++
	default:
		return nil, fmt.Errorf("%w: unknown role %q", errdefs.ErrInvalidArgument, role)
	}
	return b.tokensLocked()
}

// Generations returns the join token generations.
func (b *Backend) Generations() types.JoinTokens {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cluster.gens
}

// IssueClientCert signs a client certificate with CA for a year.
func (b *Backend) IssueClientCert(ctx context.Context, req api.ClientCertRequest) (*api.ClientCert, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("IssueClientCert"); err != nil {
		return nil, err
	}
	b.cluster.certRequest = append(b.cluster.certRequest, req)
	if b.CA == nil {
		return nil, fmt.Errorf("%w: the fake backend has no CA: set Backend.CA", errdefs.ErrUnavailable)
	}
	pub, err := ca.ParsePublicKey([]byte(req.PublicKeyPEM))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errdefs.ErrInvalidArgument, err)
	}
	cert, err := b.CA.IssueClient(pub, req.Name, b.now(), ca.DefaultCertExpiry)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errdefs.ErrInvalidArgument, err)
	}
	return &api.ClientCert{CertPEM: string(cert), CACertPEM: string(b.CA.PEM), Addr: b.ClusterAddr}, nil
}

// ClientCertRequests returns the client certificate requests received.
func (b *Backend) ClientCertRequests() []api.ClientCertRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.cluster.certRequest)
}
