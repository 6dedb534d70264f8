// Package errdefs names the kinds of error that cross hive's API: core code
// wraps one of these (fmt.Errorf("service %q: %w", name, errdefs.ErrNotFound))
// and the API maps the kind to an HTTP status and back, so a CLI can tell a
// bad request from an unreachable leader without parsing text.
package errdefs

import (
	"errors"
	"fmt"
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
	// ErrVersionConflict: the object changed since the caller read it
	// (the version sent is not the current one); read it again and retry.
	// It is an ErrConflict too, told apart from a name or port already
	// taken by errors.Is, never by its text.
	ErrVersionConflict error = &subKind{"version conflict", ErrConflict}
	// ErrStillStopping: the object is held by tasks that are stopping
	// (a network a removed service's tasks are still attached to);
	// retrying once they stopped succeeds. It is an ErrConflict too.
	ErrStillStopping error = &subKind{"still stopping", ErrConflict}
	// ErrUnavailable: the cluster cannot serve the request now (no leader,
	// no quorum, a plugin down); retrying later may work.
	ErrUnavailable = errors.New("unavailable")
	// ErrPermissionDenied: the caller may not make this call.
	ErrPermissionDenied = errors.New("permission denied")
)

// subKind is a kind that is also its parent kind.
type subKind struct {
	text   string
	parent error
}

func (e *subKind) Error() string { return e.text }
func (e *subKind) Unwrap() error { return e.parent }

// kinds are the kinds by name, a kind before its parent: an error's kind
// is the first it wraps.
var kinds = []struct {
	name string
	err  error
}{
	{"invalid_argument", ErrInvalidArgument},
	{"not_found", ErrNotFound},
	{"version_conflict", ErrVersionConflict},
	{"still_stopping", ErrStillStopping},
	{"conflict", ErrConflict},
	{"unavailable", ErrUnavailable},
	{"permission_denied", ErrPermissionDenied},
}

// Kind returns the name of err's kind ("invalid_argument", "not_found",
// "version_conflict", "still_stopping", "conflict", "unavailable", "permission_denied") or
// "internal".
func Kind(err error) string {
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return "internal"
}

// FromKind returns the sentinel error of a kind name, or nil for
// "internal" and unknown names.
func FromKind(kind string) error {
	for _, k := range kinds {
		if k.name == kind {
			return k.err
		}
	}
	return nil
}

// Message returns err's text without a leading kind ("not found: ") that
// only repeats what its kind already says, for showing to users.
func Message(err error) string {
	s := err.Error()
	for _, k := range kinds {
		if rest, ok := strings.CutPrefix(s, k.err.Error()+": "); ok {
			return rest
		}
	}
	return s
}

// Newf returns an error of kind whose text is the formatted message alone
// (no kind prefix), for messages an API makes itself.
func Newf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// kindError is Newf's error: its text is the message, and it unwraps to
// its kind.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }
