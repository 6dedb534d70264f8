package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
)

// list reads a collection: GET path.
func list[T any](ctx context.Context, c *Client, path string) ([]T, error) {
	var out []T
	if err := c.call(ctx, http.MethodGet, path, nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// get reads one object of a collection by reference (an ID, unique ID
// prefix or name): GET path/ref.
func get[T any](ctx context.Context, c *Client, kind, path, ref string) (*T, error) {
	if ref == "" {
		return nil, errors.New("get " + kind + ": empty " + kind + " name")
	}
	var out T
	if err := c.call(ctx, http.MethodGet, path+"/"+url.PathEscape(ref), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// remove deletes one object of a collection by reference: DELETE
// path/ref?q.
func remove(ctx context.Context, c *Client, kind, path, ref string, q url.Values) error {
	if ref == "" {
		return errors.New("remove " + kind + ": empty " + kind + " name")
	}
	return c.call(ctx, http.MethodDelete, path+"/"+url.PathEscape(ref), q, nil, nil)
}
