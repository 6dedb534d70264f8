// Package errdefs names the kinds of error that cross hive's API: core code
// wraps one of these (fmt.Errorf("service %q: %w", name, errdefs.ErrNotFound))
// and the API maps the kind to an HTTP status and back, so a CLI can tell a
// bad request from an unreachable leader without parsing text.
package errdefs

import (
	"errors"
	"strings"
)

// Error kinds.
var (
	// ErrInvalidArgument: the request is wrong; the message says what to fix.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrNotFound: the named object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the object exists already, or changed since it was read.
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: the cluster cannot serve the request now (no leader,
	// no quorum, a plugin down); retrying later may work.
	ErrUnavailable = errors.New("unavailable")
	// ErrPermissionDenied: the caller may not make this call.
	ErrPermissionDenied = errors.New("permission denied")
)

// Kind returns the name of err's kind ("invalid_argument", "not_found",
// "conflict", "unavailable", "permission_denied") or "internal".
func Kind(err error) string {
	switch {
	case errors.Is(err, ErrInvalidArgument):
		return "invalid_argument"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrConflict):
		return "conflict"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	case errors.Is(err, ErrPermissionDenied):
		return "permission_denied"
	}
	return "internal"
}

// FromKind returns the sentinel error of a kind name, or nil for
// "internal" and unknown names.
func FromKind(kind string) error {
	switch kind {
	case "invalid_argument":
		return ErrInvalidArgument
	case "not_found":
		return ErrNotFound
	case "conflict":
		return ErrConflict
	case "unavailable":
		return ErrUnavailable
	case "permission_denied":
		return ErrPermissionDenied
	}
	return nil
}

// Message returns err's text without a leading kind ("not found: ") that
// only repeats what its kind already says, for showing to users.
func Message(err error) string {
	s := err.Error()
	for _, k := range []error{ErrInvalidArgument, ErrNotFound, ErrConflict, ErrUnavailable, ErrPermissionDenied} {
		if rest, ok := strings.CutPrefix(s, k.Error()+": "); ok {
			return rest
		}
	}
	return s
}
