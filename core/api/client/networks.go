package client

import (
	"context"
	"net/http"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/types"
)

// CreateNetwork creates a network; the managers allocate its subnet (the
// spec's, or one of the default pool), gateway and VXLAN ID.
func (c *Client) CreateNetwork(ctx context.Context, spec types.NetworkSpec) (*types.Network, error) {
	var out types.Network
	if err := c.call(ctx, http.MethodPost, "/v1/networks", nil, spec, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListNetworks returns every network, sorted by name.
func (c *Client) ListNetworks(ctx context.Context) ([]*types.Network, error) {
	return list[*types.Network](ctx, c, "/v1/networks")
}

// GetNetwork returns a network by ID, name or unique ID prefix.
func (c *Client) GetNetwork(ctx context.Context, ref string) (*types.Network, error) {
	return get[types.Network](ctx, c, "network", "/v1/networks", ref)
}

// RemoveNetwork removes a network no service uses.
func (c *Client) RemoveNetwork(ctx context.Context, ref string) error {
	return remove(ctx, c, "network", "/v1/networks", ref, nil)
}

// PruneNetworks removes every network no service uses and returns their
// names, sorted.
func (c *Client) PruneNetworks(ctx context.Context) ([]string, error) {
	var out api.NetworksPruned
	if err := c.call(ctx, http.MethodPost, "/v1/networks/prune", nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Removed, nil
}
