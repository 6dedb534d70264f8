package secrets

import (
	"context"
	"errors"
	"fmt"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/seal"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// Viewer reads the state; *store.Store implements it.
type Viewer interface {
	View(fn func(store.ReadTx))
}

// DriverFetchFunc reads the current value of a driver-backed secret from
// the driver's plugin.
type DriverFetchFunc func(ctx context.Context, driver types.Driver) (types.SecretValue, error)

// Opener gives the plaintext of stored secrets, on a manager. It is safe
// for concurrent use once set up: set DriverFetch before the first Open.
// Errors never carry a value.
type Opener struct {
	store Viewer
	dek   *seal.Key
	// DriverFetch reads a driver-backed secret; nil makes Open of such a
	// secret fail as unavailable.
	DriverFetch DriverFetchFunc
}

// NewOpener returns an Opener of the secrets in st, sealed under dek.
func NewOpener(st Viewer, dek *seal.Key) *Opener {
	return &Opener{store: st, dek: dek}
}

// Open returns the value of the secret id and the ValueVersion it
// belongs to. An error wrapping errdefs.ErrNotFound means the secret no
// longer exists.
func (o *Opener) Open(ctx context.Context, secretID string) (types.SecretValue, uint64, error) {
	var sec *types.Secret
	o.store.View(func(tx store.ReadTx) { sec = tx.Secret(secretID) })
	if sec == nil {
		return types.SecretValue{}, 0, fmt.Errorf("secret %s: %w", secretID, errdefs.ErrNotFound)
	}
	v, err := o.open(ctx, sec)
	if err != nil {
		return types.SecretValue{}, 0, err
	}
	return v, sec.ValueVersion, nil
}

// Secret is Open, under the name the dispatcher's SecretOpener uses.
func (o *Opener) Secret(ctx context.Context, secretID string) (types.SecretValue, uint64, error) {
	return o.Open(ctx, secretID)
}

// Unseal opens a stored secret's sealed value. A driver-backed secret has
// none: use Open, which asks its driver.
func (o *Opener) Unseal(sec *types.Secret) (types.SecretValue, error) {
	return Unseal(o.dek, sec)
}

func (o *Opener) open(ctx context.Context, sec *types.Secret) (types.SecretValue, error) {
	if sec.Spec.Driver == nil {
		return Unseal(o.dek, sec)
	}
	if o.DriverFetch == nil {
		return types.SecretValue{}, fmt.Errorf("secret %s: its value is held by driver %s, and this manager runs no secrets plugin for it: %w", sec.Spec.Name, sec.Spec.Driver.Name, errdefs.ErrUnavailable)
	}
	v, err := o.DriverFetch(ctx, *sec.Spec.Driver)
	if err != nil {
		return types.SecretValue{}, fmt.Errorf("secret %s: driver %s: %w", sec.Spec.Name, sec.Spec.Driver.Name, err)
	}
	return v, nil
}

// Unseal opens a secret's sealed value with the data-encryption key dek.
func Unseal(dek *seal.Key, sec *types.Secret) (types.SecretValue, error) {
	if dek == nil {
		return types.SecretValue{}, fmt.Errorf("secret %s: this manager holds no data-encryption key: %w", sec.Spec.Name, errdefs.ErrUnavailable)
	}
	if sec.Spec.Driver != nil {
		return types.SecretValue{}, fmt.Errorf("secret %s: its value is held by driver %s, not sealed in the store", sec.Spec.Name, sec.Spec.Driver.Name)
	}
	b, err := seal.Open(dek, sec.Sealed)
	if err != nil {
		if errors.Is(err, seal.ErrOpen) {
			return types.SecretValue{}, fmt.Errorf("secret %s (version %d) does not open with this manager's data-encryption key: the manager's keyring does not match the cluster's: %w", sec.Spec.Name, sec.ValueVersion, err)
		}
		return types.SecretValue{}, fmt.Errorf("secret %s: %w", sec.Spec.Name, err)
	}
	return types.NewSecretValue(b), nil
}
