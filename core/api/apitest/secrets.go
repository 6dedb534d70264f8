package apitest

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

// secretState is the fake's secrets and configs, and its autolock.
type secretState struct {
	secrets map[string]*types.Secret
	// values are the plaintexts, by secret ID, for tests to check what
	// reached the backend (a real manager keeps them sealed).
	values   map[string][]byte
	configs  map[string]*types.Config
	autolock bool
	keyGen   uint64
	unlocked []string
}

func (b *Backend) secretsLocked() *secretState {
	if b.sec.secrets == nil {
		b.sec.secrets = map[string]*types.Secret{}
		b.sec.values = map[string][]byte{}
		b.sec.configs = map[string]*types.Config{}
	}
	return &b.sec
}

// SecretValue returns the plaintext a secret was last given, by ID or
// name, and whether it exists.
func (b *Backend) SecretValue(ref string) ([]byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.secretsLocked()
	sec, err := findObject("secret", ref, st.secrets, func(s *types.Secret) string { return s.Spec.Name })
	if err != nil {
		return nil, false
	}
	return bytes.Clone(st.values[sec.ID]), true
}

// UnlockAttempts returns the keys Unlock was given, in order.
func (b *Backend) UnlockAttempts() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.sec.unlocked...)
}

func findObject[T any](kind, ref string, m map[string]T, name func(T) string) (T, error) {
	var zero T
	if o, ok := m[ref]; ok {
		return o, nil
	}
	for _, o := range m {
		if name(o) == ref {
			return o, nil
		}
	}
	var found []T
	for id, o := range m {
		if strings.HasPrefix(id, ref) {
			found = append(found, o)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return zero, fmt.Errorf("%s %s not found: %w", kind, ref, errdefs.ErrNotFound)
	}
	return zero, fmt.Errorf("%s prefix %s is ambiguous: %w", kind, ref, errdefs.ErrInvalidArgument)
}

func (b *Backend) usersLocked(uses func(types.ContainerSpec) bool) []string {
	var out []string
	for _, s := range b.services {
		if uses(s.Spec.Task.Container) {
			out = append(out, s.Spec.Name)
		}
	}
	sort.Strings(out)
	return out
}

// CreateSecret stores a secret and remembers its value.
func (b *Backend) CreateSecret(ctx context.Context, spec types.SecretSpec, value types.SecretValue) (*types.Secret, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("CreateSecret"); err != nil {
		return nil, err
	}
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", errdefs.ErrInvalidArgument, err)
	}
	if spec.Driver == nil {
		if err := types.ValidateSecretValue(spec.Name, value); err != nil {
			return nil, fmt.Errorf("%w: %w", errdefs.ErrInvalidArgument, err)
		}
	}
	st := b.secretsLocked()
	for _, s := range st.secrets {
		if s.Spec.Name == spec.Name {
			return nil, fmt.Errorf("secret %s already exists: %w", spec.Name, errdefs.ErrConflict)
		}
	}
	b.version++
	sec := &types.Secret{ID: b.nextID("x"), Meta: types.Meta{Version: b.version, CreatedAt: b.now(), UpdatedAt: b.now()},
		Spec: spec.Copy(), ValueVersion: 1}
	st.secrets[sec.ID] = sec
	st.values[sec.ID] = bytes.Clone(value.Reveal())
	return sec.Copy(), nil
}

// ListSecrets returns the secrets by name.
func (b *Backend) ListSecrets(ctx context.Context) ([]*types.Secret, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("ListSecrets"); err != nil {
		return nil, err
	}
	var out []*types.Secret
	for _, s := range b.secretsLocked().secrets {
		out = append(out, s.Copy())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.Name < out[j].Spec.Name })
	return out, nil
}

// GetSecret finds a secret by ID, name or prefix.
func (b *Backend) GetSecret(ctx context.Context, ref string) (*types.Secret, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("GetSecret"); err != nil {
		return nil, err
	}
	sec, err := findObject("secret", ref, b.secretsLocked().secrets, func(s *types.Secret) string { return s.Spec.Name })
	if err != nil {
		return nil, err
	}
	return sec.Copy(), nil
}

// RemoveSecret deletes a secret no service uses.
func (b *Backend) RemoveSecret(ctx context.Context, ref string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("RemoveSecret"); err != nil {
		return err
	}
	st := b.secretsLocked()
	sec, err := findObject("secret", ref, st.secrets, func(s *types.Secret) string { return s.Spec.Name })
	if err != nil {
		return err
	}
	if users := b.usersLocked(func(c types.ContainerSpec) bool {
		for _, r := range c.Secrets {
			if r.SecretID == sec.ID || r.SecretName == sec.Spec.Name {
				return true
			}
		}
		return false
	}); len(users) > 0 {
		return fmt.Errorf("%w: secret %s is in use by services %s", errdefs.ErrConflict, sec.Spec.Name, strings.Join(users, ", "))
	}
	delete(st.secrets, sec.ID)
	delete(st.values, sec.ID)
	return nil
}

// UpdateSecret stores a new value and bumps the value version.
func (b *Backend) UpdateSecret(ctx context.Context, ref string, value types.SecretValue) (*types.Secret, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("UpdateSecret"); err != nil {
		return nil, err
	}
	st := b.secretsLocked()
	sec, err := findObject("secret", ref, st.secrets, func(s *types.Secret) string { return s.Spec.Name })
	if err != nil {
		return nil, err
	}
	if sec.Spec.Driver == nil {
		if err := types.ValidateSecretValue(sec.Spec.Name, value); err != nil {
			return nil, fmt.Errorf("%w: %w", errdefs.ErrInvalidArgument, err)
		}
	}
	b.version++
	sec.Version = b.version
	sec.ValueVersion++
	st.values[sec.ID] = bytes.Clone(value.Reveal())
	return sec.Copy(), nil
}

// CreateConfig stores a config.
func (b *Backend) CreateConfig(ctx context.Context, spec types.ConfigSpec, data []byte) (*types.Config, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("CreateConfig"); err != nil {
		return nil, err
	}
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", errdefs.ErrInvalidArgument, err)
	}
	if err := types.ValidateConfigData(spec.Name, data); err != nil {
		return nil, fmt.Errorf("%w: %w", errdefs.ErrInvalidArgument, err)
	}
	st := b.secretsLocked()
	for _, c := range st.configs {
		if c.Spec.Name == spec.Name {
			return nil, fmt.Errorf("config %s already exists: %w", spec.Name, errdefs.ErrConflict)
		}
	}
	b.version++
	c := &types.Config{ID: b.nextID("c"), Meta: types.Meta{Version: b.version, CreatedAt: b.now(), UpdatedAt: b.now()},
		Spec: spec, ValueVersion: 1, Data: bytes.Clone(data)}
	st.configs[c.ID] = c
	return c.Copy(), nil
}

// ListConfigs returns the configs by name.
func (b *Backend) ListConfigs(ctx context.Context) ([]*types.Config, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("ListConfigs"); err != nil {
		return nil, err
	}
	var out []*types.Config
	for _, c := range b.secretsLocked().configs {
		out = append(out, c.Copy())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.Name < out[j].Spec.Name })
	return out, nil
}

// GetConfig finds a config by ID, name or prefix.
func (b *Backend) GetConfig(ctx context.Context, ref string) (*types.Config, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("GetConfig"); err != nil {
		return nil, err
	}
	c, err := findObject("config", ref, b.secretsLocked().configs, func(c *types.Config) string { return c.Spec.Name })
	if err != nil {
		return nil, err
	}
	return c.Copy(), nil
}

// RemoveConfig deletes a config no service uses.
func (b *Backend) RemoveConfig(ctx context.Context, ref string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("RemoveConfig"); err != nil {
		return err
	}
	st := b.secretsLocked()
	c, err := findObject("config", ref, st.configs, func(c *types.Config) string { return c.Spec.Name })
	if err != nil {
		return err
	}
	if users := b.usersLocked(func(cs types.ContainerSpec) bool {
		for _, r := range cs.Configs {
			if r.ConfigID == c.ID || r.ConfigName == c.Spec.Name {
				return true
			}
		}
		return false
	}); len(users) > 0 {
		return fmt.Errorf("%w: config %s is in use by services %s", errdefs.ErrConflict, c.Spec.Name, strings.Join(users, ", "))
	}
	delete(st.configs, c.ID)
	return nil
}

// UpdateConfig replaces a config's data and bumps its value version.
func (b *Backend) UpdateConfig(ctx context.Context, ref string, data []byte) (*types.Config, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("UpdateConfig"); err != nil {
		return nil, err
	}
	st := b.secretsLocked()
	c, err := findObject("config", ref, st.configs, func(c *types.Config) string { return c.Spec.Name })
	if err != nil {
		return nil, err
	}
	if err := types.ValidateConfigData(c.Spec.Name, data); err != nil {
		return nil, fmt.Errorf("%w: %w", errdefs.ErrInvalidArgument, err)
	}
	b.version++
	c.Version = b.version
	c.ValueVersion++
	c.Data = bytes.Clone(data)
	return c.Copy(), nil
}

// fakeUnlockKey is the unlock key of generation gen.
func fakeUnlockKey(gen uint64) string { return fmt.Sprintf("HIVEKEY-1-fake%d", gen) }

// SetAutolock turns the fake's autolock on or off.
func (b *Backend) SetAutolock(ctx context.Context, on bool) (*api.UnlockKey, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("SetAutolock"); err != nil {
		return nil, err
	}
	st := b.secretsLocked()
	out := &api.UnlockKey{Autolock: on}
	if on && !st.autolock {
		st.keyGen++
		out.Key = fakeUnlockKey(st.keyGen)
	}
	st.autolock = on
	out.Generation = st.keyGen
	return out, nil
}

// UnlockKey returns the fake's current unlock key.
func (b *Backend) UnlockKey(ctx context.Context) (*api.UnlockKey, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("UnlockKey"); err != nil {
		return nil, err
	}
	st := b.secretsLocked()
	if !st.autolock {
		return nil, fmt.Errorf("%w: autolock is off, so there is no unlock key: turn it on with 'hive cluster update --autolock=true'", errdefs.ErrInvalidArgument)
	}
	return &api.UnlockKey{Autolock: true, Key: fakeUnlockKey(st.keyGen), Generation: st.keyGen}, nil
}

// RotateUnlockKey makes a new unlock key.
func (b *Backend) RotateUnlockKey(ctx context.Context) (*api.UnlockKey, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("RotateUnlockKey"); err != nil {
		return nil, err
	}
	st := b.secretsLocked()
	if !st.autolock {
		return nil, fmt.Errorf("%w: autolock is off, so there is no unlock key to rotate", errdefs.ErrInvalidArgument)
	}
	st.keyGen++
	return &api.UnlockKey{Autolock: true, Key: fakeUnlockKey(st.keyGen), Generation: st.keyGen}, nil
}

// Unlock records the key; only the current fake key is right.
func (b *Backend) Unlock(ctx context.Context, key string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("Unlock"); err != nil {
		return err
	}
	st := b.secretsLocked()
	st.unlocked = append(st.unlocked, key)
	if key != fakeUnlockKey(st.keyGen) {
		return fmt.Errorf("%w: the unlock key is not the one this manager was locked with: it stays locked", errdefs.ErrPermissionDenied)
	}
	return nil
}
