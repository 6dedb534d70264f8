package secrets

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/internal/fakebase"
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
	// Controls gives the Fake its Base calls and test controls.
	*fakebase.Controls

	mu     sync.Mutex
	values map[string][]byte
	refs   []Ref
}

var _ Driver = (*Fake)(nil)

// FakeVersion is the version the Fake's Describe reports.
const FakeVersion = "1.0.0"

// FakeOption is the one option the Fake's refs take.
const FakeOption = "name"

// NewFake returns an empty Fake.
func NewFake() *Fake {
	return &Fake{Controls: fakebase.New(sdk.Info{Name: "secrets-fake", Kind: sdk.KindSecrets, Version: FakeVersion}), values: map[string][]byte{}}
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

// Get returns a copy of the value ref's name option names.
func (f *Fake) Get(ctx context.Context, ref Ref) (Value, error) {
	if err := f.Begin("Get"); err != nil {
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
