package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/types"
)

// UpdateNode replaces a node's spec; version is the node's Meta.Version
// as read (errdefs.ErrVersionConflict when it changed since).
func (c *Client) UpdateNode(ctx context.Context, ref string, version uint64, spec types.NodeSpec) (*types.Node, error) {
	var out types.Node
	q := url.Values{"version": {strconv.FormatUint(version, 10)}}
	if err := c.call(ctx, http.MethodPost, "/v1/nodes/"+url.PathEscape(ref)+"/update", q, spec, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RemoveNode deletes a node from the cluster.
func (c *Client) RemoveNode(ctx context.Context, ref string, force bool) error {
	q := url.Values{"force": {strconv.FormatBool(force)}}
	return c.call(ctx, http.MethodDelete, "/v1/nodes/"+url.PathEscape(ref), q, nil, nil)
}

// ClusterStatus describes the Raft group.
func (c *Client) ClusterStatus(ctx context.Context) (*api.ClusterStatus, error) {
	var out api.ClusterStatus
	if err := c.call(ctx, http.MethodGet, "/v1/cluster", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Leave makes the node the client talks to leave its cluster.
func (c *Client) Leave(ctx context.Context, force bool) error {
	q := url.Values{"force": {strconv.FormatBool(force)}}
	return c.call(ctx, http.MethodPost, "/v1/leave", q, nil, nil)
}
