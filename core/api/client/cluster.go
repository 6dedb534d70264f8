package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/types"
)

// JoinTokens returns the cluster's join tokens and the address of the
// manager that answered.
func (c *Client) JoinTokens(ctx context.Context) (*api.JoinTokens, error) {
	var out api.JoinTokens
	if err := c.call(ctx, http.MethodGet, "/v1/join-tokens", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RotateJoinToken replaces role's join token and returns the tokens after
// the rotation.
func (c *Client) RotateJoinToken(ctx context.Context, role types.NodeRole) (*api.JoinTokens, error) {
	if role == "" {
		return nil, errors.New("rotate join token: empty role: want worker or manager")
	}
	var out api.JoinTokens
	if err := c.call(ctx, http.MethodPost, "/v1/join-tokens/"+url.PathEscape(string(role))+"/rotate", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// IssueClientCert asks a manager to sign a client certificate for the
// public key in req.
func (c *Client) IssueClientCert(ctx context.Context, req api.ClientCertRequest) (*api.ClientCert, error) {
	var out api.ClientCert
	if err := c.call(ctx, http.MethodPost, "/v1/cluster/client-cert", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
