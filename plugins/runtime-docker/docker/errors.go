package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/hiveorch/hive/plugins/sdk"
)

// daemonPrefix is what the Docker client puts before every error message
// the engine returns; hive's errors carry their own prefixes instead.
const daemonPrefix = "Error response from daemon: "

// kindError attaches an sdk error kind (possibly none) to an engine error.
// Its text is the engine's, without the client's "Error response from
// daemon: " prefix; errors.Is matches both the kind and the original error.
type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string { return engineMessage(e.err) }
func (e *kindError) Unwrap() []error {
	if e.kind == nil {
		return []error{e.err}
	}
	return []error{e.kind, e.err}
}

// engineMessage is err's text without the client's daemon prefix.
func engineMessage(err error) string {
	return strings.TrimPrefix(err.Error(), daemonPrefix)
}

// wrapErr maps an engine error to its sdk kind (see kindOf) and prefixes
// it with what failed: wrapErr(err, "create container %s", name). A
// conflict maps to sdk.ErrAlreadyExists. It returns nil for a nil err.
func wrapErr(err error, format string, args ...any) error {
	return wrapErrConflict(err, sdk.ErrAlreadyExists, format, args...)
}

// wrapErrConflict is wrapErr for calls where the engine's 409 Conflict
// means something else than a name already in use (killing a stopped
// container, removing a running one): it maps a conflict to conflictKind.
func wrapErrConflict(err error, conflictKind error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	prefix := fmt.Sprintf(format, args...)
	kind := kindOf(err)
	if errors.Is(kind, sdk.ErrAlreadyExists) && cerrdefs.IsConflict(err) {
		kind = conflictKind
	}
	return fmt.Errorf("%s: %w", prefix, &kindError{kind: kind, err: err})
}

// streamErr wraps an error met while reading a response the engine was
// streaming (pull progress, a wait, logs, stats). Short of a cancelled
// context, such an error means the connection to the engine broke, so it
// wraps sdk.ErrUnavailable.
func streamErr(err error, format string, args ...any) error {
	prefix := fmt.Sprintf(format, args...)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	return fmt.Errorf("%s: connection to the engine broke: %w", prefix, &kindError{kind: sdk.ErrUnavailable, err: err})
}

// kindOf returns the sdk error kind of an error from the Docker client, or
// nil when none applies (an internal engine error, a cancelled context).
func kindOf(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The caller's own deadline: not the engine's fault, not a kind.
		return nil
	case cerrdefs.IsNotFound(err):
		return sdk.ErrNotFound
	case cerrdefs.IsConflict(err), cerrdefs.IsAlreadyExists(err):
		return sdk.ErrAlreadyExists
	case cerrdefs.IsInvalidArgument(err):
		return sdk.ErrInvalidArgument
	case cerrdefs.IsFailedPrecondition(err):
		return sdk.ErrFailedPrecondition
	case cerrdefs.IsNotImplemented(err):
		return sdk.ErrUnimplemented
	case isConnectionError(err):
		return sdk.ErrUnavailable
	}
	return nil
}

// isConnectionError reports whether err means the engine could not be
// reached or the connection to it broke.
func isConnectionError(err error) bool {
	if client.IsErrConnectionFailed(err) || cerrdefs.IsUnavailable(err) {
		return true
	}
	for _, target := range []error{io.EOF, io.ErrUnexpectedEOF, syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE, net.ErrClosed} {
		if errors.Is(err, target) {
			return true
		}
	}
	var netErr net.Error
	return errors.As(err, &netErr)
}
