// Package secrets defines the secrets plugin kind: the plugin that reads
// the value of a driver-backed secret from an external store (Vault with
// secrets-vault, or a third party's store).
//
// A hive secret created with a driver (`hive secret create --driver vault
// --opt path=secret/data/app#password app_pw`) holds no value in hive: when
// a task that uses it is about to start, a manager asks the driver's plugin
// for the value with Get, and delivers it to the task's node in memory
// only. The plugin is read-only: hive never writes to the store.
package secrets

import (
	"context"
	"maps"

	"github.com/hiveorch/hive/plugins/sdk"
)

// Driver reads secret values from an external store.
//
// Methods may be called concurrently and must be safe for that. Get must
// not cache values beyond what the store itself promises: hive asks again
// each time a task needs the secret, so a rotated value reaches new tasks.
type Driver interface {
	sdk.Base
	// Get returns the current value of the secret ref names.
	//
	// Errors: a ref whose options are malformed (a missing or unknown
	// option, a path in the wrong syntax) wraps sdk.ErrInvalidArgument and
	// says what the syntax is; a well-formed ref naming nothing in the store
	// (no such path, no such field, a deleted version) wraps
	// sdk.ErrNotFound; a store that cannot be reached, or is sealed, wraps
	// sdk.ErrUnavailable (hive retries). An error must never contain the
	// value, nor the plugin's credentials.
	Get(ctx context.Context, ref Ref) (Value, error)
}

// Ref names a secret in the driver's store.
type Ref struct {
	// Secret is hive's name for the secret, for messages only: the driver
	// must not use it to find the value.
	Secret string `json:"secret,omitempty"`
	// Options are the secret's driver options, as the user gave them
	// (`--opt path=secret/data/app#password`); their syntax is the
	// driver's.
	Options map[string]string `json:"options,omitempty"`
}

// Clone returns a copy of r that shares nothing with it.
func (r Ref) Clone() Ref {
	r.Options = maps.Clone(r.Options)
	return r
}
