package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/hiveorch/hive/core/types"
)

// RollbackService puts a service back on its previous spec and returns it
// with its rollback started. A service never updated has no previous spec:
// the error then wraps errdefs.ErrInvalidArgument.
func (c *Client) RollbackService(ctx context.Context, ref string) (*types.Service, error) {
	if ref == "" {
		return nil, errors.New("rollback service: empty service name")
	}
	var out types.Service
	if err := c.call(ctx, http.MethodPost, "/v1/services/"+url.PathEscape(ref)+"/rollback", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
