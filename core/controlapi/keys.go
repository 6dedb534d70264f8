package controlapi

import (
	"context"
	"fmt"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/keyring"
	"github.com/hiveorch/hive/core/seal"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// SetAutolock turns autolock on or off for the whole cluster, through the
// cluster record: every manager sees the change and rewraps its keyring
// (the daemon's key watcher). Turning it on makes an unlock key, stored in
// the record sealed under the data-encryption key, and returns it: it is
// shown this once (and by UnlockKey on request). Turning it on when it is
// on already changes nothing and returns no key.
func (s *Server) SetAutolock(ctx context.Context, on bool) (*api.UnlockKey, error) {
	dek, err := s.dataKey()
	if err != nil {
		return nil, err
	}
	out := &api.UnlockKey{Autolock: on}
	err = s.update(ctx, func(tx store.Tx) error {
		c := tx.Cluster()
		if c == nil {
			return fmt.Errorf("%w: the cluster record does not exist yet: retry in a moment", errdefs.ErrUnavailable)
		}
		out.Generation = c.Encryption.UnlockKeyGeneration
		if c.Encryption.Autolock == on {
			return nil
		}
		nc := c.Copy()
		if on {
			key, sealed, err := newSealedUnlockKey(dek)
			if err != nil {
				return err
			}
			nc.Encryption = types.Encryption{Autolock: true, UnlockKeyGeneration: c.Encryption.UnlockKeyGeneration + 1, SealedUnlockKey: sealed}
			out.Key, out.Generation = key.Text(), nc.Encryption.UnlockKeyGeneration
		} else {
			nc.Encryption.Autolock = false
			nc.Encryption.SealedUnlockKey = nil
		}
		return tx.UpdateCluster(nc)
	})
	if err != nil {
		return nil, storeErr(err)
	}
	s.logger.Info("autolock changed", "autolock", on, "unlock_key_generation", out.Generation)
	return out, nil
}

// UnlockKey returns the cluster's current unlock key.
func (s *Server) UnlockKey(ctx context.Context) (*api.UnlockKey, error) {
	dek, err := s.dataKey()
	if err != nil {
		return nil, err
	}
	c, err := s.cluster(ctx)
	if err != nil {
		return nil, err
	}
	if !c.Encryption.Autolock {
		return nil, invalid(fmt.Errorf("autolock is off, so the cluster has no unlock key: turn it on with 'hive cluster update --autolock=true'"))
	}
	raw, err := seal.Open(dek, c.Encryption.SealedUnlockKey)
	if err != nil {
		return nil, fmt.Errorf("open the unlock key in the cluster record: %w", err)
	}
	key, err := keyring.UnlockKeyFromBytes(raw)
	if err != nil {
		return nil, err
	}
	return &api.UnlockKey{Autolock: true, Key: key.Text(), Generation: c.Encryption.UnlockKeyGeneration}, nil
}

// RotateUnlockKey replaces the unlock key: every manager rewraps its
// keyring with the new one. A manager that is down meanwhile still opens
// with the old key; it rewraps once it is back.
func (s *Server) RotateUnlockKey(ctx context.Context) (*api.UnlockKey, error) {
	dek, err := s.dataKey()
	if err != nil {
		return nil, err
	}
	out := &api.UnlockKey{Autolock: true}
	err = s.update(ctx, func(tx store.Tx) error {
		c := tx.Cluster()
		if c == nil {
			return fmt.Errorf("%w: the cluster record does not exist yet: retry in a moment", errdefs.ErrUnavailable)
		}
		if !c.Encryption.Autolock {
			return invalid(fmt.Errorf("autolock is off, so there is no unlock key to rotate: turn it on with 'hive cluster update --autolock=true'"))
		}
		key, sealed, err := newSealedUnlockKey(dek)
		if err != nil {
			return err
		}
		nc := c.Copy()
		nc.Encryption.UnlockKeyGeneration++
		nc.Encryption.SealedUnlockKey = sealed
		out.Key, out.Generation = key.Text(), nc.Encryption.UnlockKeyGeneration
		return tx.UpdateCluster(nc)
	})
	if err != nil {
		return nil, storeErr(err)
	}
	s.logger.Info("unlock key rotated", "unlock_key_generation", out.Generation)
	return out, nil
}

// Unlock answers a running manager's unlock: there is nothing to unlock.
// (A locked manager's daemon serves Unlock itself.)
func (s *Server) Unlock(ctx context.Context, key string) error {
	return invalid(fmt.Errorf("this manager is not locked: there is nothing to unlock"))
}

func newSealedUnlockKey(dek *seal.Key) (keyring.UnlockKey, []byte, error) {
	key, err := keyring.NewUnlockKey()
	if err != nil {
		return keyring.UnlockKey{}, nil, err
	}
	sealed, err := seal.Seal(dek, key.Bytes())
	if err != nil {
		return keyring.UnlockKey{}, nil, fmt.Errorf("seal the unlock key: %w", err)
	}
	return key, sealed, nil
}
