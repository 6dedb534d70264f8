package containerd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"google.golang.org/grpc/status"

	"github.com/hiveorch/hive/plugins/sdk"
)

// kindError attaches an sdk error kind (possibly none) to a containerd
// error. Its text is containerd's; errors.Is matches both the kind and
// the original error.
type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string { return e.err.Error() }
func (e *kindError) Unwrap() []error {
	if e.kind == nil {
		return []error{e.err}
	}
	return []error{e.kind, e.err}
}

// wrapErr maps a containerd error to its sdk kind (see kindOf) and
// prefixes it with what failed. It returns nil for a nil err.
func wrapErr(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	err = native(err)
	prefix := fmt.Sprintf(format, args...)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	return fmt.Errorf("%s: %w", prefix, &kindError{kind: kindOf(err), err: err})
}

// native turns a gRPC status from a raw containerd API call into
// containerd's error kinds; errors the client converted already, and
// errors of other origins, are returned as they are (converting those
// would lose their kind).
func native(err error) error {
	if _, ok := status.FromError(err); ok {
		return errgrpc.ToNative(err)
	}
	return err
}

// withKind wraps err with an sdk kind chosen by the caller.
func withKind(kind, err error) error { return &kindError{kind: kind, err: err} }

// kindOf returns the sdk error kind of an error from containerd, or nil
// when none applies.
func kindOf(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil
	case cerrdefs.IsNotFound(err):
		return sdk.ErrNotFound
	case cerrdefs.IsAlreadyExists(err), cerrdefs.IsConflict(err):
		return sdk.ErrAlreadyExists
	case cerrdefs.IsInvalidArgument(err):
		return sdk.ErrInvalidArgument
	case cerrdefs.IsFailedPrecondition(err):
		return sdk.ErrFailedPrecondition
	case cerrdefs.IsNotImplemented(err):
		return sdk.ErrUnimplemented
	case cerrdefs.IsUnavailable(err), isConnectionError(err):
		return sdk.ErrUnavailable
	}
	return nil
}

// isConnectionError reports whether err means containerd could not be
// reached.
func isConnectionError(err error) bool {
	for _, target := range []error{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE, net.ErrClosed} {
		if errors.Is(err, target) {
			return true
		}
	}
	var netErr *net.OpError
	return errors.As(err, &netErr)
}
