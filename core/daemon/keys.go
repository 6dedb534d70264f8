package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/controller"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/keyring"
	"github.com/hiveorch/hive/core/seal"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// InitKeys stores the data-encryption key a joining manager received, in
// dataDir's keyring wrapped by a new key-encryption key. A worker (or a
// manager that received none) stores nothing.
func InitKeys(dataDir string, dataKey []byte) error {
	if len(dataKey) == 0 {
		return nil
	}
	dek, err := seal.KeyFromBytes(dataKey)
	if err != nil {
		return fmt.Errorf("the data-encryption key received: %w", err)
	}
	if err := keyring.Create(dataDir, dek); err != nil {
		return fmt.Errorf("store the data-encryption key: %w", err)
	}
	return nil
}

// keyringLocked reports whether dataDir's keyring is autolocked.
func keyringLocked(dataDir string) bool {
	on, _, err := keyring.State(dataDir)
	return err == nil && on
}

// openKeys opens a manager's keyring and keeps its DEK in d.dek: it
// creates the keyring on a new cluster, and on an autolocked one serves
// the locked API until `hive unlock` gives the right key. A worker keeps
// no keyring.
func (d *daemon) openKeys(ctx context.Context, fresh bool) error {
	dir := d.cfg.DataDir
	if d.role != types.RoleManager {
		if err := os.RemoveAll(keyring.Dir(dir)); err != nil {
			return fmt.Errorf("remove the keyring of this former manager: %w", err)
		}
		return nil
	}
	keys, err := keyring.Load(dir)
	switch {
	case err == nil:
	case errors.Is(err, keyring.ErrNotFound):
		if !fresh {
			d.logger.Warn("this manager holds no data-encryption key: it cannot create or deliver secrets; join it again as a manager to receive the key", "dir", keyring.Dir(dir))
			return nil
		}
		dek, err := seal.NewKey()
		if err != nil {
			return err
		}
		if err := keyring.Create(dir, dek); err != nil {
			return err
		}
		d.logger.Info("created the cluster's data-encryption key")
		keys = &keyring.Keys{DEK: dek}
	case errors.Is(err, keyring.ErrLocked):
		if keys, err = d.awaitUnlock(ctx); err != nil {
			return err
		}
	default:
		return fmt.Errorf("open the keyring: %w", err)
	}
	d.dek = keys.DEK
	if keys.CAKeyPEM != nil {
		root, err := ca.ParseRoot(d.id.Root().PEM, keys.CAKeyPEM)
		if err != nil {
			return fmt.Errorf("the CA key in the keyring: %w", err)
		}
		d.id = ca.NewIdentity(root, d.id.Cert())
	}
	if d.id.Root().Key == nil {
		return fmt.Errorf("this manager's data directory %s holds no CA key: it is damaged", CertDir(dir))
	}
	return nil
}

// lockedBackend is the API of a locked manager.
type lockedBackend struct {
	d        *daemon
	unlocked chan *keyring.Keys
}

func (b *lockedBackend) Info(context.Context) (*api.Info, error) {
	info := b.d.baseInfo()
	info.Locked, info.Autolock = true, true
	return info, nil
}

func (b *lockedBackend) Shutdown(context.Context) error {
	b.d.logger.Info("shutdown requested through the API")
	go b.d.shutdown()
	return nil
}

func (b *lockedBackend) Unlock(ctx context.Context, text string) error {
	key, err := keyring.ParseUnlockKey(text)
	if err != nil {
		return fmt.Errorf("%w: %w", errdefs.ErrInvalidArgument, err)
	}
	keys, err := keyring.Unlock(b.d.cfg.DataDir, key)
	if errors.Is(err, keyring.ErrWrongKey) {
		b.d.logger.Warn("unlock refused: wrong unlock key")
		return fmt.Errorf("%w: %w", errdefs.ErrPermissionDenied, err)
	}
	if err != nil {
		return err
	}
	select {
	case b.unlocked <- keys:
		return nil
	default:
		return fmt.Errorf("%w: this manager is being unlocked already", errdefs.ErrConflict)
	}
}

// awaitUnlock serves the locked API on the local socket until it is
// given the right unlock key (or the daemon stops), then stops serving it.
func (d *daemon) awaitUnlock(ctx context.Context) (*keyring.Keys, error) {
	raw, err := d.listenAPI()
	if err != nil {
		return nil, err
	}
	unix, ok := raw.(*net.UnixListener)
	if !ok {
		_ = raw.Close()
		return nil, fmt.Errorf("API socket: a %T, not a unix socket listener", raw)
	}
	ln := newHandoffListener(unix)
	b := &lockedBackend{d: d, unlocked: make(chan *keyring.Keys, 1)}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- api.NewLockedServer(b, d.logger.With("component", "api")).Serve(sctx, ln) }()
	if d.opts.Ready != nil {
		close(d.opts.Ready)
		d.opts.Ready = nil
	}
	d.logger.Warn("this manager is locked: run 'hive unlock' with the cluster's unlock key", "api", d.cfg.Host)
	var keys *keyring.Keys
	var serveErr error
	served := false
	select {
	case keys = <-b.unlocked:
	case <-ctx.Done():
	case serveErr = <-done:
		served = true
	}
	stop()
	if !served {
		serveErr = <-done
	}
	ln.handOver()
	if keys == nil {
		_ = ln.Close()
		err := serveErr
		if err == nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("the manager stayed locked: %w", err)
	}
	// The full API takes the socket over (Run): calls made meanwhile wait.
	d.apiLn = ln
	d.logger.Info("manager unlocked")
	return keys, nil
}

// watchKeys keeps this manager's keyring wrapped as the cluster record
// says: by the unlock key of the current generation while autolock is on,
// by a key-encryption key otherwise. It checks at start and again at every
// change of the record; a rewrap that fails is logged and tried again at
// the next change.
func (d *daemon) watchKeys(ctx context.Context) error {
	if d.dek == nil {
		return nil
	}
	return controller.Run(ctx, controller.Config{
		Name: "keys", Source: d.store, Clock: d.clock, Logger: d.logger,
		Filter: func(ev store.Event) bool { return ev.Cluster != nil },
		Pass: func(context.Context) (time.Time, error) {
			var c *types.Cluster
			d.store.View(func(tx store.ReadTx) { c = tx.Cluster() })
			if c != nil {
				if err := d.rewrapKeys(c.Encryption); err != nil {
					d.logger.Error("cannot rewrap the keyring as the cluster asks", "error", err)
				}
			}
			return time.Time{}, nil
		},
	})
}

// rewrapKeys brings the keyring in line with enc.
func (d *daemon) rewrapKeys(enc types.Encryption) error {
	dir := d.cfg.DataDir
	on, gen, err := keyring.State(dir)
	if err != nil {
		return err
	}
	certs := CertDir(dir)
	caKey, err := d.id.Root().KeyPEM()
	if err != nil {
		return err
	}
	switch {
	case enc.Autolock && (!on || gen != enc.UnlockKeyGeneration):
		raw, err := seal.Open(d.dek, enc.SealedUnlockKey)
		if err != nil {
			return fmt.Errorf("open the unlock key in the cluster record: %w", err)
		}
		key, err := keyring.UnlockKeyFromBytes(raw)
		if err != nil {
			return err
		}
		if err := keyring.Lock(dir, d.dek, caKey, key, enc.UnlockKeyGeneration); err != nil {
			return err
		}
		if err := ca.RemoveCAKey(certs); err != nil {
			return err
		}
		d.logger.Info("keyring locked by the cluster's unlock key", "unlock_key_generation", enc.UnlockKeyGeneration)
	case !enc.Autolock && on:
		if err := ca.Save(certs, ca.Files{CAKey: caKey}); err != nil {
			return err
		}
		if err := keyring.WrapWithKEK(dir, d.dek); err != nil {
			return err
		}
		d.logger.Info("autolock turned off: keyring wrapped by a key-encryption key again")
	case enc.Autolock:
		// A certificate renewal writes the CA key back; keep it off disk.
		if err := ca.RemoveCAKey(certs); err != nil {
			return err
		}
	}
	return nil
}

// dataKeyBytes is the DEK for a joining or promoted manager; nil when
// this manager holds none.
func (d *daemon) dataKeyBytes() []byte {
	if d.dek == nil {
		return nil
	}
	return d.dek.Bytes()
}

// keysAfterRenewal stores the DEK a node promoted to manager received,
// and keeps the CA key the renewal wrote off the disk of an autolocked
// manager.
func (d *daemon) keysAfterRenewal(role types.NodeRole, dataKey []byte) error {
	dir := d.cfg.DataDir
	if role != types.RoleManager {
		return nil
	}
	if keyringLocked(dir) {
		return ca.RemoveCAKey(CertDir(dir))
	}
	if !keyring.Exists(dir) && len(dataKey) > 0 {
		return InitKeys(dir, dataKey)
	}
	return nil
}
