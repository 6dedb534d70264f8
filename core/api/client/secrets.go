package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/types"
)

// CreateSecret creates a secret with its value (none for a secret with a
// driver). The value travels base64 in the JSON body.
func (c *Client) CreateSecret(ctx context.Context, spec types.SecretSpec, value types.SecretValue) (*types.Secret, error) {
	var out types.Secret
	if err := c.call(ctx, http.MethodPost, "/v1/secrets", nil, api.SecretCreate{Spec: spec, Data: value.Reveal()}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListSecrets returns every secret, without values.
func (c *Client) ListSecrets(ctx context.Context) ([]*types.Secret, error) {
	return list[*types.Secret](ctx, c, "/v1/secrets")
}

// GetSecret returns a secret, without its value, by ID, name or unique ID
// prefix.
func (c *Client) GetSecret(ctx context.Context, ref string) (*types.Secret, error) {
	return get[types.Secret](ctx, c, "secret", "/v1/secrets", ref)
}

// RemoveSecret removes a secret no service uses.
func (c *Client) RemoveSecret(ctx context.Context, ref string) error {
	return remove(ctx, c, "secret", "/v1/secrets", ref, nil)
}

// UpdateSecret stores a new value for a secret, which rolls the services
// that use it.
func (c *Client) UpdateSecret(ctx context.Context, ref string, value types.SecretValue) (*types.Secret, error) {
	if ref == "" {
		return nil, errors.New("update secret: empty secret name")
	}
	var out types.Secret
	if err := c.call(ctx, http.MethodPost, "/v1/secrets/"+url.PathEscape(ref)+"/update", nil, api.ValueUpdate{Data: value.Reveal()}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateConfig creates a config.
func (c *Client) CreateConfig(ctx context.Context, spec types.ConfigSpec, data []byte) (*types.Config, error) {
	var out types.Config
	if err := c.call(ctx, http.MethodPost, "/v1/configs", nil, api.ConfigCreate{Spec: spec, Data: data}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListConfigs returns every config.
func (c *Client) ListConfigs(ctx context.Context) ([]*types.Config, error) {
	return list[*types.Config](ctx, c, "/v1/configs")
}

// GetConfig returns a config by ID, name or unique ID prefix.
func (c *Client) GetConfig(ctx context.Context, ref string) (*types.Config, error) {
	return get[types.Config](ctx, c, "config", "/v1/configs", ref)
}

// RemoveConfig removes a config no service uses.
func (c *Client) RemoveConfig(ctx context.Context, ref string) error {
	return remove(ctx, c, "config", "/v1/configs", ref, nil)
}

// UpdateConfig stores new data for a config, which rolls the services
// that use it.
func (c *Client) UpdateConfig(ctx context.Context, ref string, data []byte) (*types.Config, error) {
	if ref == "" {
		return nil, errors.New("update config: empty config name")
	}
	var out types.Config
	if err := c.call(ctx, http.MethodPost, "/v1/configs/"+url.PathEscape(ref)+"/update", nil, api.ValueUpdate{Data: data}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetAutolock turns autolock on or off; turning it on returns the unlock
// key.
func (c *Client) SetAutolock(ctx context.Context, on bool) (*api.UnlockKey, error) {
	var out api.UnlockKey
	if err := c.call(ctx, http.MethodPost, "/v1/cluster/autolock", nil, api.AutolockRequest{Autolock: on}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UnlockKey returns the cluster's current unlock key.
func (c *Client) UnlockKey(ctx context.Context) (*api.UnlockKey, error) {
	var out api.UnlockKey
	if err := c.call(ctx, http.MethodGet, "/v1/cluster/unlock-key", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RotateUnlockKey replaces the unlock key and returns the new one.
func (c *Client) RotateUnlockKey(ctx context.Context) (*api.UnlockKey, error) {
	var out api.UnlockKey
	if err := c.call(ctx, http.MethodPost, "/v1/cluster/unlock-key/rotate", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Unlock gives a locked manager the unlock key.
func (c *Client) Unlock(ctx context.Context, key string) error {
	return c.call(ctx, http.MethodPost, "/v1/unlock", nil, api.UnlockRequest{Key: key}, nil)
}
