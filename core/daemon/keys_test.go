package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hiveorch/hive/config"
	"github.com/hiveorch/hive/core/api/client"
	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/keyring"
	"github.com/hiveorch/hive/core/seal"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/testutil"
)

// keysDaemon is a manager daemon with just what the key code uses.
func keysDaemon(t *testing.T) *daemon {
	t.Helper()
	dir := t.TempDir()
	root, cert, err := ca.Bootstrap(CertDir(dir), "node1", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &daemon{
		cfg:    &config.Config{DataDir: dir, Host: "unix://" + filepath.Join(dir, "hive.sock")},
		logger: slog.New(slog.DiscardHandler), role: types.RoleManager, started: time.Now(),
		id: ca.NewIdentity(root, cert), state: nodeState{NodeID: "node1"},
	}
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// TestAutolockRewrapAndUnlock follows a manager through autolock: the
// keyring is created with the cluster, locked when the cluster record
// turns autolock on (the CA key leaves the certificate directory), and a
// restart then serves only the locked API until the right key is given.
func TestAutolockRewrapAndUnlock(t *testing.T) {
	d := keysDaemon(t)
	ctx := context.Background()
	if err := d.openKeys(ctx, true); err != nil {
		t.Fatal(err)
	}
	dek := d.dek
	caKeyPath := filepath.Join(CertDir(d.cfg.DataDir), "ca.key")

	key, _ := keyring.NewUnlockKey()
	sealed, _ := seal.Seal(dek, key.Bytes())
	if err := d.rewrapKeys(types.Encryption{Autolock: true, UnlockKeyGeneration: 1, SealedUnlockKey: sealed}); err != nil {
		t.Fatal(err)
	}
	if exists(caKeyPath) || exists(filepath.Join(keyring.Dir(d.cfg.DataDir), "kek")) {
		t.Fatal("the CA key or the KEK is still on disk after autolock")
	}

	// A restart: a new daemon on the same data directory.
	r := &daemon{cfg: d.cfg, logger: d.logger, role: types.RoleManager, started: time.Now(), state: d.state}
	root, cert, err := ca.Load(CertDir(d.cfg.DataDir))
	if err != nil {
		t.Fatal(err)
	}
	r.id = ca.NewIdentity(root, cert)
	rctx, stop := context.WithCancel(ctx)
	r.stop = stop
	defer stop()
	opened := make(chan error, 1)
	go func() { opened <- r.openKeys(rctx, false) }()

	cl, err := client.New(d.cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	testutil.EventuallyWhy(t, 10*time.Second, "the locked API to answer", func() (bool, string) {
		info, err := cl.Info(ctx)
		return err == nil && info.Locked, fmt.Sprint(err)
	})
	if _, err := cl.ListSecrets(ctx); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("a locked manager served secret ls: %v", err)
	}
	wrong, _ := keyring.NewUnlockKey()
	if err := cl.Unlock(ctx, wrong.Text()); !errors.Is(err, errdefs.ErrPermissionDenied) {
		t.Fatalf("unlock with a wrong key: %v", err)
	}
	if err := cl.Unlock(ctx, key.Text()); err != nil {
		t.Fatalf("unlock with the right key: %v", err)
	}
	if err := <-opened; err != nil {
		t.Fatal(err)
	}
	if !r.dek.Equal(dek) || r.id.Root().Key == nil {
		t.Fatal("the unlocked manager lacks the DEK or the CA key")
	}

	// Autolock off: the CA key and a KEK come back.
	r.dek = dek
	if err := r.rewrapKeys(types.Encryption{UnlockKeyGeneration: 1}); err != nil {
		t.Fatal(err)
	}
	if !exists(caKeyPath) {
		t.Fatal("the CA key did not come back when autolock was turned off")
	}
	if k, err := keyring.Load(d.cfg.DataDir); err != nil || !k.DEK.Equal(dek) {
		t.Fatalf("keyring after autolock off: %v", err)
	}
}

// TestWatchKeysFollowsTheClusterRecord proves a manager rewraps its
// keyring when the cluster record turns autolock on and off, and stops
// watching when the store closes.
func TestWatchKeysFollowsTheClusterRecord(t *testing.T) {
	d := keysDaemon(t)
	ctx := context.Background()
	if err := d.openKeys(ctx, true); err != nil {
		t.Fatal(err)
	}
	d.clock = clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	d.store = store.NewMemory(d.clock)
	t.Cleanup(func() { _ = d.store.Close() })
	key, _ := keyring.NewUnlockKey()
	sealed, _ := seal.Seal(d.dek, key.Bytes())
	locked := types.Encryption{Autolock: true, UnlockKeyGeneration: 1, SealedUnlockKey: sealed}
	if err := d.store.Update(ctx, func(tx store.Tx) error {
		return tx.CreateCluster(&types.Cluster{ID: types.ClusterID, Encryption: locked})
	}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.watchKeys(ctx) }()
	state := func(on bool, gen uint64) func() (bool, string) {
		return func() (bool, string) {
			gotOn, gotGen, err := keyring.State(d.cfg.DataDir)
			return err == nil && gotOn == on && (!on || gotGen == gen), fmt.Sprintf("autolock %v generation %d, %v", gotOn, gotGen, err)
		}
	}
	testutil.EventuallyWhy(t, 5*time.Second, "the keyring locked as the record says at start", state(true, 1))

	if err := d.store.Update(ctx, func(tx store.Tx) error {
		c := tx.Cluster().Copy()
		c.Encryption = types.Encryption{UnlockKeyGeneration: 1}
		return tx.UpdateCluster(c)
	}); err != nil {
		t.Fatal(err)
	}
	testutil.EventuallyWhy(t, 5*time.Second, "the keyring wrapped by a KEK once autolock is off", state(false, 0))

	if err := d.store.Close(); err != nil {
		t.Fatal(err)
	}
	testutil.Returns(t, done, 5*time.Second, "watchKeys, after the store closed,")
}
