package controlapi

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/keyring"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

func TestAutolockThroughTheClusterRecord(t *testing.T) {
	s, st := newServer(t)
	ctx := context.Background()
	withKey(t, s)
	if err := st.Update(ctx, func(tx store.Tx) error { return tx.CreateCluster(&types.Cluster{}) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UnlockKey(ctx); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("UnlockKey with autolock off: %v", err)
	}
	on, err := s.SetAutolock(ctx, true)
	if err != nil || !on.Autolock || on.Generation != 1 {
		t.Fatalf("SetAutolock(true) = %+v, %v", on, err)
	}
	key, err := keyring.ParseUnlockKey(on.Key)
	if err != nil {
		t.Fatalf("the key shown is not an unlock key: %v", err)
	}
	c, _ := s.cluster(ctx)
	if !c.Encryption.Autolock || len(c.Encryption.SealedUnlockKey) == 0 || bytes.Contains(c.Encryption.SealedUnlockKey, key.Bytes()) {
		t.Fatalf("cluster encryption = %+v: want autolock with the key sealed", c.Encryption)
	}
	got, err := s.UnlockKey(ctx)
	if err != nil || got.Key != on.Key {
		t.Fatalf("UnlockKey = %+v, %v; want the key shown when autolock was turned on", got, err)
	}
	again, err := s.SetAutolock(ctx, true)
	if err != nil || again.Key != "" || again.Generation != 1 {
		t.Fatalf("SetAutolock(true) again = %+v, %v: want no new key", again, err)
	}
	rot, err := s.RotateUnlockKey(ctx)
	if err != nil || rot.Key == on.Key || rot.Generation != 2 {
		t.Fatalf("RotateUnlockKey = %+v, %v", rot, err)
	}
	off, err := s.SetAutolock(ctx, false)
	if err != nil || off.Autolock || off.Key != "" {
		t.Fatalf("SetAutolock(false) = %+v, %v", off, err)
	}
	c, _ = s.cluster(ctx)
	if c.Encryption.Autolock || c.Encryption.SealedUnlockKey != nil || c.Encryption.UnlockKeyGeneration != 2 {
		t.Fatalf("cluster encryption after autolock off = %+v", c.Encryption)
	}
	if _, err := s.RotateUnlockKey(ctx); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("rotate with autolock off: %v", err)
	}
	if err := s.Unlock(ctx, rot.Key); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("Unlock of a running manager: %v", err)
	}
}
