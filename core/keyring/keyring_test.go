package keyring

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hiveorch/hive/core/seal"
)

// scan fails when any file under dir contains needle.
func scan(t *testing.T, dir string, needle []byte, what string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, needle) {
			t.Errorf("%s holds %s in plaintext", p, what)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestKeyringWrappedByKEK(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load of an empty data dir = %v, want ErrNotFound", err)
	}
	dek, _ := seal.NewKey()
	if err := Create(dir, dek); err != nil {
		t.Fatal(err)
	}
	k, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !k.DEK.Equal(dek) || k.Autolock {
		t.Fatalf("Load = %+v, want the DEK created, unlocked", k)
	}
	scan(t, dir, dek.Bytes(), "the DEK")
	for _, f := range []string{kekFile, keysFile} {
		st, err := os.Stat(filepath.Join(Dir(dir), f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	// Rewrapping by a KEK keeps the KEK.
	kek, _ := os.ReadFile(filepath.Join(Dir(dir), kekFile))
	if err := WrapWithKEK(dir, dek); err != nil {
		t.Fatal(err)
	}
	kek2, _ := os.ReadFile(filepath.Join(Dir(dir), kekFile))
	if !bytes.Equal(kek, kek2) {
		t.Error("rewrapping an unlocked keyring replaced its KEK")
	}
}

func TestAutolockRoundTrip(t *testing.T) {
	dir := t.TempDir()
	dek, _ := seal.NewKey()
	if err := Create(dir, dek); err != nil {
		t.Fatal(err)
	}
	key, _ := NewUnlockKey()
	caKey := []byte("-----BEGIN EC PRIVATE KEY-----\nca-key-material\n-----END EC PRIVATE KEY-----\n")
	if err := Lock(dir, dek, caKey, key, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(Dir(dir), kekFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the KEK is still on disk after Lock: %v", err)
	}
	scan(t, dir, dek.Bytes(), "the DEK")
	scan(t, dir, []byte("ca-key-material"), "the CA key")
	if _, err := Load(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("Load of a locked keyring = %v, want ErrLocked", err)
	}
	if on, gen, err := State(dir); err != nil || !on || gen != 3 {
		t.Fatalf("State = %v, %d, %v; want locked at generation 3", on, gen, err)
	}

	wrong, _ := NewUnlockKey()
	if _, err := Unlock(dir, wrong); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Unlock with a wrong key = %v, want ErrWrongKey", err)
	}
	if _, err := Load(dir); !errors.Is(err, ErrLocked) {
		t.Fatal("a wrong key changed the keyring")
	}
	parsed, err := ParseUnlockKey("  " + key.Text() + "\n")
	if err != nil {
		t.Fatal(err)
	}
	k, err := Unlock(dir, parsed)
	if err != nil {
		t.Fatal(err)
	}
	if !k.DEK.Equal(dek) || !bytes.Equal(k.CAKeyPEM, caKey) || !k.Autolock || k.Generation != 3 {
		t.Fatalf("Unlock = %+v", k)
	}

	// Turning autolock off wraps by a new KEK again.
	if err := WrapWithKEK(dir, dek); err != nil {
		t.Fatal(err)
	}
	if k, err := Load(dir); err != nil || !k.DEK.Equal(dek) || k.CAKeyPEM != nil {
		t.Fatalf("Load after autolock was turned off = %+v, %v", k, err)
	}
}

func TestParseUnlockKey(t *testing.T) {
	key, _ := NewUnlockKey()
	text := key.Text()
	if !strings.HasPrefix(text, UnlockKeyPrefix) {
		t.Fatalf("Text() = %q, want the prefix %s", text, UnlockKeyPrefix)
	}
	for _, bad := range []string{"", "SWMKEY-1-abc", UnlockKeyPrefix + "!!!", text[:len(text)-3]} {
		_, err := ParseUnlockKey(bad)
		if !errors.Is(err, ErrMalformedKey) {
			t.Errorf("ParseUnlockKey(%q) = %v, want ErrMalformedKey", bad, err)
		}
		if bad != "" && err != nil && strings.Contains(err.Error(), bad) {
			t.Errorf("the error repeats the key: %v", err)
		}
	}
	got, err := ParseUnlockKey(text)
	if err != nil || !got.Equal(key) {
		t.Fatalf("ParseUnlockKey(Text()) = %v", err)
	}
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s", key, key, key, key), fmt.Sprint(struct{ K UnlockKey }{key})} {
		if strings.Contains(out, text[len(UnlockKeyPrefix):]) {
			t.Errorf("printing an unlock key leaks it: %s", out)
		}
	}
}
