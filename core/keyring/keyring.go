package keyring

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hiveorch/hive/core/seal"
)

const (
	dirName    = "keys"
	kekFile    = "kek"
	keysFile   = "keys.json"
	fileMode   = 0o600
	dirMode    = 0o700
	keysFormat = 1
)

// Errors of Load and Unlock.
var (
	// ErrNotFound: the data directory holds no keyring (a worker, or a
	// manager from before secrets existed).
	ErrNotFound = errors.New("no keyring in the data directory")
	// ErrLocked: the keyring is autolocked; Unlock it with the unlock key.
	ErrLocked = errors.New("this manager is locked: run 'hive unlock' and give the cluster's unlock key")
	// ErrWrongKey: the unlock key given is not the one the keyring was
	// locked with.
	ErrWrongKey = errors.New("the unlock key is not the one this manager was locked with: the manager stays locked; check the key (after a rotation, the newest key from 'hive unlock-key' on another manager)")
)

// wrappedKeys is the content of keys.json: the keys, each sealed by the
// KEK or the unlock key.
type wrappedKeys struct {
	Format int `json:"format"`
	// Autolock says DEK is wrapped by the unlock key, else by the KEK.
	Autolock bool `json:"autolock"`
	// Generation is the cluster's unlock key generation the keyring was
	// locked with (0 unless Autolock).
	Generation uint64 `json:"generation,omitempty"`
	// DEK is the data-encryption key sealed by the KEK or the unlock key.
	DEK []byte `json:"dek"`
	// CAKey is the cluster CA's private key (PEM), sealed by the unlock
	// key; only with Autolock (otherwise it lives in the certificate
	// directory).
	CAKey []byte `json:"ca_key,omitempty"`
}

// Keys are what an open keyring holds.
type Keys struct {
	DEK *seal.Key
	// CAKeyPEM is the CA key kept in the keyring while it is autolocked;
	// nil otherwise (it is then in the certificate directory).
	CAKeyPEM []byte
	// Autolock and Generation describe how the keyring is wrapped.
	Autolock   bool
	Generation uint64
}

// Dir is where a data directory keeps its keyring.
func Dir(dataDir string) string { return filepath.Join(dataDir, dirName) }

// Exists reports whether dataDir holds a keyring.
func Exists(dataDir string) bool {
	_, err := os.Stat(filepath.Join(Dir(dataDir), keysFile))
	return err == nil
}

// State reads how the keyring is wrapped without opening it.
func State(dataDir string) (autolock bool, generation uint64, err error) {
	d, err := readWrappedKeys(dataDir)
	if err != nil {
		return false, 0, err
	}
	return d.Autolock, d.Generation, nil
}

// Create stores dek wrapped by a new KEK, replacing any keyring.
func Create(dataDir string, dek *seal.Key) error {
	if dek == nil {
		return errors.New("keyring: no data-encryption key")
	}
	return WrapWithKEK(dataDir, dek)
}

// Load opens a keyring wrapped by its KEK. It fails with ErrLocked when
// the keyring is autolocked, and ErrNotFound when there is none.
func Load(dataDir string) (*Keys, error) {
	d, err := readWrappedKeys(dataDir)
	if err != nil {
		return nil, err
	}
	if d.Autolock {
		return nil, ErrLocked
	}
	kb, err := os.ReadFile(filepath.Join(Dir(dataDir), kekFile))
	if err != nil {
		return nil, fmt.Errorf("keyring: read the key-encryption key: %w", err)
	}
	kek, err := seal.KeyFromBytes(kb)
	if err != nil {
		return nil, fmt.Errorf("keyring: the key-encryption key file is damaged: %w", err)
	}
	dek, err := openKey(kek, d.DEK)
	if err != nil {
		return nil, fmt.Errorf("keyring: the data-encryption key does not open with the key-encryption key in %s: %w", Dir(dataDir), err)
	}
	return &Keys{DEK: dek}, nil
}

// Unlock opens an autolocked keyring with the unlock key. A wrong key
// fails with ErrWrongKey and changes nothing. An unlocked keyring opens as
// Load does, whatever the key.
func Unlock(dataDir string, key UnlockKey) (*Keys, error) {
	d, err := readWrappedKeys(dataDir)
	if err != nil {
		return nil, err
	}
	if !d.Autolock {
		return Load(dataDir)
	}
	if key.IsZero() {
		return nil, ErrWrongKey
	}
	dek, err := openKey(key.key(), d.DEK)
	if err != nil {
		return nil, ErrWrongKey
	}
	k := &Keys{DEK: dek, Autolock: true, Generation: d.Generation}
	if len(d.CAKey) > 0 {
		if k.CAKeyPEM, err = seal.Open(key.key(), d.CAKey); err != nil {
			return nil, fmt.Errorf("keyring: the CA key does not open with the unlock key that opens the data-encryption key: the keyring is damaged: %w", err)
		}
	}
	return k, nil
}

// Lock wraps dek, and the CA key caKeyPEM when not nil, by the unlock key
// of the given generation, then deletes the KEK. The caller deletes the CA
// key from the certificate directory afterwards.
func Lock(dataDir string, dek *seal.Key, caKeyPEM []byte, key UnlockKey, generation uint64) error {
	if key.IsZero() {
		return errors.New("keyring: lock: no unlock key")
	}
	wrapped, err := seal.Seal(key.key(), dek.Bytes())
	if err != nil {
		return fmt.Errorf("keyring: lock: %w", err)
	}
	d := wrappedKeys{Format: keysFormat, Autolock: true, Generation: generation, DEK: wrapped}
	if len(caKeyPEM) > 0 {
		if d.CAKey, err = seal.Seal(key.key(), caKeyPEM); err != nil {
			return fmt.Errorf("keyring: lock: %w", err)
		}
	}
	if err := writeWrappedKeys(dataDir, d); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(Dir(dataDir), kekFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("keyring: lock: remove the key-encryption key: %w", err)
	}
	return nil
}

// WrapWithKEK wraps dek by the KEK stored beside it (a new one unless
// the keyring is wrapped by a KEK already): the keyring opens without an
// unlock key from now on. The caller puts the CA key back in the
// certificate directory first, when the keyring held it.
func WrapWithKEK(dataDir string, dek *seal.Key) error {
	if err := os.MkdirAll(Dir(dataDir), dirMode); err != nil {
		return fmt.Errorf("keyring: create %s: %w", Dir(dataDir), err)
	}
	kekPath := filepath.Join(Dir(dataDir), kekFile)
	var kek *seal.Key
	if old, err := readWrappedKeys(dataDir); err == nil && !old.Autolock {
		if b, err := os.ReadFile(kekPath); err == nil {
			kek, _ = seal.KeyFromBytes(b)
		}
	}
	if kek == nil {
		// A new KEK goes in before keys.json names it; until then an
		// autolocked keys.json ignores it, so a crash leaves a keyring
		// that still opens with the unlock key.
		var err error
		if kek, err = seal.NewKey(); err != nil {
			return fmt.Errorf("keyring: %w", err)
		}
		if err := writeAtomic(kekPath, kek.Bytes()); err != nil {
			return err
		}
	}
	wrapped, err := seal.Seal(kek, dek.Bytes())
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	return writeWrappedKeys(dataDir, wrappedKeys{Format: keysFormat, DEK: wrapped})
}

func openKey(wrapping *seal.Key, sealed []byte) (*seal.Key, error) {
	b, err := seal.Open(wrapping, sealed)
	if err != nil {
		return nil, err
	}
	return seal.KeyFromBytes(b)
}

func readWrappedKeys(dataDir string) (*wrappedKeys, error) {
	path := filepath.Join(Dir(dataDir), keysFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	var d wrappedKeys
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("keyring: %s is damaged: %w", path, err)
	}
	if d.Format != keysFormat {
		return nil, fmt.Errorf("keyring: %s has format %d; this hive reads format %d: upgrade hive", path, d.Format, keysFormat)
	}
	return &d, nil
}

func writeWrappedKeys(dataDir string, d wrappedKeys) error {
	if err := os.MkdirAll(Dir(dataDir), dirMode); err != nil {
		return fmt.Errorf("keyring: create %s: %w", Dir(dataDir), err)
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return fmt.Errorf("keyring: encode: %w", err)
	}
	return writeAtomic(filepath.Join(Dir(dataDir), keysFile), b)
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fileMode)
	if err != nil {
		return fmt.Errorf("keyring: write %s: %w", path, err)
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("keyring: write %s: %w", path, err)
	}
	return rename(tmp, path)
}

func rename(from, to string) error {
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	return nil
}
