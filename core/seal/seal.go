package seal

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"golang.org/x/crypto/nacl/secretbox"
)

// KeySize is the size of a key in bytes.
const KeySize = 32

// format is the first byte of a sealed value: version 1 is
// format || nonce (24 bytes) || secretbox(plaintext).
const format byte = 1

const nonceSize = 24

// Overhead is how many bytes sealing adds to a plaintext.
const Overhead = 1 + nonceSize + secretbox.Overhead

// ErrOpen is the error of Open when the sealed bytes do not open with the
// key: the wrong key, or bytes that were damaged.
var ErrOpen = errors.New("the sealed value does not open with this key (wrong key, or damaged data)")

// Key is a 32-byte secretbox key. The zero Key is not a valid key.
type Key struct{ b [KeySize]byte }

// NewKey returns a new random key.
func NewKey() (*Key, error) {
	k := new(Key)
	if _, err := io.ReadFull(rand.Reader, k.b[:]); err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return k, nil
}

// KeyFromBytes copies a key from b, which must be KeySize bytes.
func KeyFromBytes(b []byte) (*Key, error) {
	if len(b) != KeySize {
		return nil, fmt.Errorf("a key is %d bytes, not %d", KeySize, len(b))
	}
	k := new(Key)
	copy(k.b[:], b)
	return k, nil
}

// Bytes returns a copy of the key's bytes, for wrapping it and for
// handing it to a new manager. Handle them as carefully as the key.
func (k *Key) Bytes() []byte {
	out := make([]byte, KeySize)
	copy(out, k.b[:])
	return out
}

// Equal reports whether k and o are the same key, in constant time.
func (k *Key) Equal(o *Key) bool {
	if k == nil || o == nil {
		return k == o
	}
	return subtle.ConstantTimeCompare(k.b[:], o.b[:]) == 1
}

const redacted = "[REDACTED KEY]"

// The printing and encoding methods have value receivers so that a Key
// redacts whether it is printed by value or through a pointer.

func (k Key) String() string               { return redacted }
func (k Key) GoString() string             { return redacted }
func (k Key) Format(f fmt.State, _ rune)   { _, _ = f.Write([]byte(redacted)) }
func (k Key) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (k Key) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
func (k Key) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Seal encrypts plaintext under k with a fresh random nonce.
func Seal(k *Key, plaintext []byte) ([]byte, error) {
	if k == nil {
		return nil, errors.New("seal: no key")
	}
	var nonce [nonceSize]byte
	if _, err := io.ReadFull(rand.Reader, nonce[:]); err != nil {
		return nil, fmt.Errorf("seal: generate nonce: %w", err)
	}
	out := make([]byte, 0, Overhead+len(plaintext))
	out = append(out, format)
	out = append(out, nonce[:]...)
	return secretbox.Seal(out, plaintext, &nonce, &k.b), nil
}

// Open decrypts what Seal sealed under k. It fails with an error wrapping
// ErrOpen when k is not the key it was sealed with or the bytes changed.
func Open(k *Key, sealed []byte) ([]byte, error) {
	if k == nil {
		return nil, errors.New("open: no key")
	}
	if len(sealed) < Overhead {
		return nil, fmt.Errorf("open: %d bytes are too short to be a sealed value: %w", len(sealed), ErrOpen)
	}
	if sealed[0] != format {
		return nil, fmt.Errorf("open: unknown sealed format %d (this hive reads format %d): %w", sealed[0], format, ErrOpen)
	}
	var nonce [nonceSize]byte
	copy(nonce[:], sealed[1:1+nonceSize])
	out, ok := secretbox.Open(nil, sealed[1+nonceSize:], &nonce, &k.b)
	if !ok {
		return nil, fmt.Errorf("open: %w", ErrOpen)
	}
	return out, nil
}
