package apitest

import (
	"context"

	"github.com/hiveorch/hive/core/controlapi"
	"github.com/hiveorch/hive/core/types"
)

// CreateNetwork is controlapi's.
func (b *Backend) CreateNetwork(ctx context.Context, spec types.NetworkSpec) (*types.Network, error) {
	return call(b, "CreateNetwork", func(s *controlapi.Server) (*types.Network, error) { return s.CreateNetwork(ctx, spec) })
}

// ListNetworks is controlapi's.
func (b *Backend) ListNetworks(ctx context.Context) ([]*types.Network, error) {
	return call(b, "ListNetworks", func(s *controlapi.Server) ([]*types.Network, error) { return s.ListNetworks(ctx) })
}

// GetNetwork is controlapi's.
func (b *Backend) GetNetwork(ctx context.Context, ref string) (*types.Network, error) {
	return call(b, "GetNetwork", func(s *controlapi.Server) (*types.Network, error) { return s.GetNetwork(ctx, ref) })
}

// RemoveNetwork is controlapi's.
func (b *Backend) RemoveNetwork(ctx context.Context, ref string) error {
	return b.do("RemoveNetwork", func(s *controlapi.Server) error { return s.RemoveNetwork(ctx, ref) })
}

// PruneNetworks is controlapi's.
func (b *Backend) PruneNetworks(ctx context.Context) ([]string, error) {
	return call(b, "PruneNetworks", func(s *controlapi.Server) ([]string, error) { return s.PruneNetworks(ctx) })
}
