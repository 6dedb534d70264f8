package sdk

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// This file is the one place where the SDK's error kinds meet gRPC status
// codes. A plugin's server adapter turns the error its implementation
// returns into a status with ToStatus; hive's client adapter turns the
// status back into an error with FromCall (FromStatus plus the caller's
// context), so errors.Is(err, sdk.ErrNotFound) works on hive's side of the
// wire and the message text is the one the plugin wrote.

// kindCodes pairs each error kind with its gRPC code. The order matters
// for ToStatus: an error wrapping several kinds takes the first.
var kindCodes = []struct {
	kind error
	code codes.Code
}{
	{ErrNotFound, codes.NotFound},
	{ErrAlreadyExists, codes.AlreadyExists},
	{ErrInvalidArgument, codes.InvalidArgument},
	{ErrUnavailable, codes.Unavailable},
	{ErrFailedPrecondition, codes.FailedPrecondition},
	{ErrUnimplemented, codes.Unimplemented},
	{context.Canceled, codes.Canceled},
	{context.DeadlineExceeded, codes.DeadlineExceeded},
}

// ToStatus converts an error returned by a plugin implementation into a
// gRPC status error whose code names its kind (codes.NotFound for an error
// wrapping ErrNotFound, codes.Canceled for context.Canceled, and so on)
// and whose message is err.Error(). An error that already carries a gRPC
// status keeps its code; any other error becomes codes.Unknown. ToStatus
// returns nil for nil.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	for _, kc := range kindCodes {
		if errors.Is(err, kc.kind) {
			return status.Error(kc.code, err.Error())
		}
	}
	if st, ok := status.FromError(err); ok {
		return st.Err()
	}
	return status.Error(codes.Unknown, err.Error())
}

// FromStatus converts an error returned by a gRPC call into an error of
// the SDK's kinds: its Error() is the status message (the text the plugin
// wrote) and errors.Is matches the kind the code names (ErrNotFound for
// codes.NotFound, context.Canceled for codes.Canceled, ...). Codes without
// a kind keep the message and match nothing. Errors that are not statuses
// but say the connection is gone (io.EOF, a reset or refused connection, a
// closed network connection) wrap ErrUnavailable, as codes.Unavailable
// does: the plugin process has exited or cannot be reached, and retrying
// after hive restarts it may help. FromStatus returns nil for nil.
func FromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		if isTransportError(err) {
			return &statusError{st: status.New(codes.Unavailable, err.Error()), kind: ErrUnavailable}
		}
		return err
	}
	if st.Code() == codes.OK {
		return err
	}
	se := &statusError{st: st}
	for _, kc := range kindCodes {
		if kc.code == st.Code() {
			se.kind = kc.kind
			break
		}
	}
	return se
}

// FromCall is FromStatus for the error of a call made with ctx. A Canceled
// status while ctx itself is not done did not come from the caller: the
// connection closed under the call (go-plugin closes it when hive kills
// the plugin) or the plugin gave up by itself; FromCall reports it as
// ErrUnavailable so that the caller retries instead of thinking it
// cancelled the call.
func FromCall(ctx context.Context, err error) error {
	err = FromStatus(err)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.Canceled) {
		return &statusError{st: status.New(codes.Unavailable, err.Error()), kind: ErrUnavailable}
	}
	return err
}

// statusError is the error FromStatus returns: the status message as its
// text, the kind its code names as what it wraps.
type statusError struct {
	st   *status.Status
	kind error // nil when the code names no kind
}

func (e *statusError) Error() string { return e.st.Message() }

func (e *statusError) Unwrap() error { return e.kind }

// GRPCStatus lets the error travel on unchanged if it is returned by
// another gRPC server (a plugin that proxies to another).
func (e *statusError) GRPCStatus() *status.Status { return e.st }

// isTransportError reports whether err says the connection to the plugin
// is gone rather than what the plugin answered.
func isTransportError(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr)
}
