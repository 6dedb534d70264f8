package apitest

import (
	"context"
	"fmt"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/controlapi"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/seal"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// SecretValue opens the value a secret holds, by ID or name, and reports
// whether it exists.
func (b *Backend) SecretValue(ref string) ([]byte, bool) {
	var sealed []byte
	sec, err := b.server().GetSecret(context.Background(), ref)
	if err != nil {
		return nil, false
	}
	b.store.View(func(tx store.ReadTx) { sealed = tx.Secret(sec.ID).Sealed })
	value, err := seal.Open(b.dek, sealed)
	return value, err == nil
}

// Secret returns the stored secret by ID or name, without its value, or
// nil.
func (b *Backend) Secret(ref string) *types.Secret {
	sec, err := b.server().GetSecret(context.Background(), ref)
	if err != nil {
		return nil
	}
	return sec
}

// CreateSecret is controlapi's.
func (b *Backend) CreateSecret(ctx context.Context, spec types.SecretSpec, value types.SecretValue) (*types.Secret, error) {
	return call(b, "CreateSecret", func(s *controlapi.Server) (*types.Secret, error) { return s.CreateSecret(ctx, spec, value) })
}

// ListSecrets is controlapi's.
func (b *Backend) ListSecrets(ctx context.Context) ([]*types.Secret, error) {
	return call(b, "ListSecrets", func(s *controlapi.Server) ([]*types.Secret, error) { return s.ListSecrets(ctx) })
}

// GetSecret is controlapi's.
func (b *Backend) GetSecret(ctx context.Context, ref string) (*types.Secret, error) {
	return call(b, "GetSecret", func(s *controlapi.Server) (*types.Secret, error) { return s.GetSecret(ctx, ref) })
}

// RemoveSecret is controlapi's.
func (b *Backend) RemoveSecret(ctx context.Context, ref string) error {
	return b.do("RemoveSecret", func(s *controlapi.Server) error { return s.RemoveSecret(ctx, ref) })
}

// UpdateSecret is controlapi's.
func (b *Backend) UpdateSecret(ctx context.Context, ref string, value types.SecretValue) (*types.Secret, error) {
	return call(b, "UpdateSecret", func(s *controlapi.Server) (*types.Secret, error) { return s.UpdateSecret(ctx, ref, value) })
}

// CreateConfig is controlapi's.
func (b *Backend) CreateConfig(ctx context.Context, spec types.ConfigSpec, data []byte) (*types.Config, error) {
	return call(b, "CreateConfig", func(s *controlapi.Server) (*types.Config, error) { return s.CreateConfig(ctx, spec, data) })
}

// ListConfigs is controlapi's.
func (b *Backend) ListConfigs(ctx context.Context) ([]*types.Config, error) {
	return call(b, "ListConfigs", func(s *controlapi.Server) ([]*types.Config, error) { return s.ListConfigs(ctx) })
}

// GetConfig is controlapi's.
func (b *Backend) GetConfig(ctx context.Context, ref string) (*types.Config, error) {
	return call(b, "GetConfig", func(s *controlapi.Server) (*types.Config, error) { return s.GetConfig(ctx, ref) })
}

// RemoveConfig is controlapi's.
func (b *Backend) RemoveConfig(ctx context.Context, ref string) error {
	return b.do("RemoveConfig", func(s *controlapi.Server) error { return s.RemoveConfig(ctx, ref) })
}

// UpdateConfig is controlapi's.
func (b *Backend) UpdateConfig(ctx context.Context, ref string, data []byte) (*types.Config, error) {
	return call(b, "UpdateConfig", func(s *controlapi.Server) (*types.Config, error) { return s.UpdateConfig(ctx, ref, data) })
}

// SetAutolock is controlapi's.
func (b *Backend) SetAutolock(ctx context.Context, on bool) (*api.UnlockKey, error) {
	return call(b, "SetAutolock", func(s *controlapi.Server) (*api.UnlockKey, error) { return s.SetAutolock(ctx, on) })
}

// UnlockKey is controlapi's.
func (b *Backend) UnlockKey(ctx context.Context) (*api.UnlockKey, error) {
	return call(b, "UnlockKey", func(s *controlapi.Server) (*api.UnlockKey, error) { return s.UnlockKey(ctx) })
}

// RotateUnlockKey is controlapi's.
func (b *Backend) RotateUnlockKey(ctx context.Context) (*api.UnlockKey, error) {
	return call(b, "RotateUnlockKey", func(s *controlapi.Server) (*api.UnlockKey, error) { return s.RotateUnlockKey(ctx) })
}

// Unlock answers as a locked manager's daemon does: the cluster's current
// unlock key opens it, any other is refused.
func (b *Backend) Unlock(ctx context.Context, key string) error {
	return b.do("Unlock", func(s *controlapi.Server) error {
		cur, err := s.UnlockKey(ctx)
		if err != nil {
			return err
		}
		if key != cur.Key {
			return fmt.Errorf("%w: the unlock key is not the one this manager was locked with: it stays locked", errdefs.ErrPermissionDenied)
		}
		return nil
	})
}
