package keyring

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/hiveorch/hive/core/seal"
)

// UnlockKeyPrefix starts every unlock key: "HIVEKEY", then the format
// version.
const UnlockKeyPrefix = "HIVEKEY-1-"

// ErrMalformedKey: the text is not an unlock key.
var ErrMalformedKey = errors.New("not a hive unlock key")

// UnlockKey wraps a locked manager's keys. Like seal.Key it never prints:
// Text returns the form shown to the operator, once.
type UnlockKey struct{ k *seal.Key }

// NewUnlockKey returns a new random unlock key.
func NewUnlockKey() (UnlockKey, error) {
	k, err := seal.NewKey()
	if err != nil {
		return UnlockKey{}, fmt.Errorf("new unlock key: %w", err)
	}
	return UnlockKey{k: k}, nil
}

// ParseUnlockKey reads the text form of an unlock key; spaces around it
// are ignored. The error never repeats the text.
func ParseUnlockKey(s string) (UnlockKey, error) {
	s = strings.TrimSpace(s)
	rest, ok := strings.CutPrefix(s, UnlockKeyPrefix)
	if !ok {
		return UnlockKey{}, fmt.Errorf("%w: an unlock key starts with %s (as 'hive unlock-key' prints it)", ErrMalformedKey, UnlockKeyPrefix)
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(raw) != seal.KeySize {
		return UnlockKey{}, fmt.Errorf("%w: the text after %s is damaged; copy the whole key", ErrMalformedKey, UnlockKeyPrefix)
	}
	k, err := seal.KeyFromBytes(raw)
	if err != nil {
		return UnlockKey{}, err
	}
	return UnlockKey{k: k}, nil
}

// UnlockKeyFromBytes is ParseUnlockKey for the raw bytes (as sealed in the
// cluster record).
func UnlockKeyFromBytes(b []byte) (UnlockKey, error) {
	k, err := seal.KeyFromBytes(b)
	if err != nil {
		return UnlockKey{}, fmt.Errorf("unlock key: %w", err)
	}
	return UnlockKey{k: k}, nil
}

// IsZero reports whether u holds no key.
func (u UnlockKey) IsZero() bool { return u.k == nil }

// Text returns the key as the operator sees it: HIVEKEY-1-<base64url>.
func (u UnlockKey) Text() string {
	if u.k == nil {
		return ""
	}
	return UnlockKeyPrefix + base64.RawURLEncoding.EncodeToString(u.k.Bytes())
}

// Bytes returns the raw key, to seal it into the cluster record.
func (u UnlockKey) Bytes() []byte { return u.k.Bytes() }

// Equal reports whether u and o are the same key.
func (u UnlockKey) Equal(o UnlockKey) bool { return u.k.Equal(o.k) }

func (u UnlockKey) key() *seal.Key { return u.k }

const redacted = "[REDACTED UNLOCK KEY]"

func (u UnlockKey) String() string               { return redacted }
func (u UnlockKey) GoString() string             { return redacted }
func (u UnlockKey) Format(f fmt.State, _ rune)   { _, _ = io.WriteString(f, redacted) }
func (u UnlockKey) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (u UnlockKey) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
