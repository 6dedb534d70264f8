package secrets

import (
	"fmt"
	"log/slog"
)

// Value is a secret's plaintext. Every way of printing or encoding it
// redacts (fmt with any verb, slog, JSON, text): code that must hand the
// bytes on calls Reveal, so a plaintext only leaves on purpose.
type Value struct{ b []byte }

// NewValue wraps b; it is not copied.
func NewValue(b []byte) Value { return Value{b: b} }

// Reveal returns the plaintext. Do not log it or put it in an error.
func (v Value) Reveal() []byte { return v.b }

// Len is the plaintext's length in bytes.
func (v Value) Len() int { return len(v.b) }

// Redacted is what a Value prints as.
const Redacted = "[REDACTED]"

// String redacts.
func (v Value) String() string { return Redacted }

// GoString redacts.
func (v Value) GoString() string { return Redacted }

// Format redacts, whatever the verb (%v, %+v, %#v, %s, %x, %d, ...).
func (v Value) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Redacted)) }

// LogValue redacts.
func (v Value) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON redacts.
func (v Value) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText redacts.
func (v Value) MarshalText() ([]byte, error) { return []byte(Redacted), nil }
