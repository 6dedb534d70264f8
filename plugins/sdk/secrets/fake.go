package secrets

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/hiveorch/hive/plugins/sdk"
)

// Fake is an in-memory Driver for hive's core tests. Its store maps names
// to values (Set, Delete); a Ref names a value with one option,
// name=NAME. Any other option, or no name, is sdk.ErrInvalidArgument; a
// name not in the store is sdk.ErrNotFound. It passes the secrets
// conformance suite.
//
// Test controls: FailNext (the next call of a method returns a given
// error), SetDown (every call fails wrapping sdk.ErrUnavailable), Calls
// (the methods called), Refs (the refs Get received) and Settings. A Fake
// is safe for concurrent use; the zero value is not usable, call NewFake.
type Fake struct {
	mu       sync.Mutex
	values   map[string][]byte
	calls    []string
	failNext map[string][]error
	down     bool
	refs     []Ref
	settings map[string]string
}

var _ Driver = (*Fake)(nil)

// FakeVersion is the version the Fake's Describe reports.
const FakeVersion = "1.0.0"

// FakeOption is the one option the Fake's refs take.
const FakeOption = "name"

// NewFake returns an empty Fake.
func NewFake() *Fake {
	return &Fake{values: map[string][]byte{}, failNext: map[string][]error{}}
}

// Set stores a copy of value under name and returns the Ref that reads it.
func (f *Fake) Set(name string, value []byte) Ref {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.values[name] = bytes.Clone(value)
	return Ref{Options: map[string]string{FakeOption: name}}
}

// Delete removes name from the store.
func (f *Fake) Delete(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.values, name)
}

// FailNext makes the next call of method ("Get", "Health", ...) return
// err. Several calls queue errors for as many calls.
func (f *Fake) FailNext(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext[method] = append(f.failNext[method], err)
}

// SetDown makes every call fail with an error wrapping sdk.ErrUnavailable
// (down), or work again.
func (f *Fake) SetDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// Calls returns the names of the methods called so far, in order.
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Refs returns copies of the refs Get received, in order.
func (f *Fake) Refs() []Ref {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Ref, len(f.refs))
	for i, r := range f.refs {
		out[i] = r.Clone()
	}
	return out
}

// Settings returns the settings of the last Configure.
func (f *Fake) Settings() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.settings)
}

func (f *Fake) begin(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, method)
	if f.down {
		return fmt.Errorf("%s: fake secrets store is down: %w", method, sdk.ErrUnavailable)
	}
	if q := f.failNext[method]; len(q) > 0 {
		f.failNext[method] = q[1:]
		return q[0]
	}
	return nil
}

// Describe reports the Fake as "secrets-fake".
func (f *Fake) Describe(ctx context.Context) (sdk.Info, error) {
	if err := f.begin("Describe"); err != nil {
		return sdk.Info{}, err
	}
	return sdk.Info{Name: "secrets-fake", Kind: sdk.KindSecrets, Version: FakeVersion}, nil
}

// Configure records settings (see Settings); it accepts any.
func (f *Fake) Configure(ctx context.Context, settings map[string]string) error {
	if err := f.begin("Configure"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settings = maps.Clone(settings)
	return nil
}

// Health is nil unless the Fake is down or FailNext says otherwise.
func (f *Fake) Health(ctx context.Context) error {
	return f.begin("Health")
}

// Get returns a copy of the value ref's name option names.
func (f *Fake) Get(ctx context.Context, ref Ref) (Value, error) {
	if err := f.begin("Get"); err != nil {
		return Value{}, err
	}
	if err := ctx.Err(); err != nil {
		return Value{}, fmt.Errorf("get secret: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refs = append(f.refs, ref.Clone())
	for k := range ref.Options {
		if k != FakeOption {
			return Value{}, fmt.Errorf("fake secrets: unknown option %q (the only option is %s=NAME): %w", k, FakeOption, sdk.ErrInvalidArgument)
		}
	}
	name := strings.TrimSpace(ref.Options[FakeOption])
	if name == "" {
		return Value{}, fmt.Errorf("fake secrets: option %s=NAME is required: %w", FakeOption, sdk.ErrInvalidArgument)
	}
	v, ok := f.values[name]
	if !ok {
		return Value{}, fmt.Errorf("fake secrets: no secret named %q: %w", name, sdk.ErrNotFound)
	}
	return NewValue(bytes.Clone(v)), nil
}
