package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestStatusRoundTrip(t *testing.T) {
	for _, tc := range []struct {
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
	} {
		t.Run(tc.kind.Error(), func(t *testing.T) {
			orig := fmt.Errorf("inspect web.1: %w", tc.kind)
			st := ToStatus(orig)
			if got := status.Code(st); got != tc.code {
				t.Errorf("ToStatus code = %v, want %v", got, tc.code)
			}
			back := FromStatus(st)
			if !errors.Is(back, tc.kind) {
				t.Errorf("FromStatus(ToStatus(err)) = %v, want it to wrap %v", back, tc.kind)
			}
			if back.Error() != orig.Error() {
				t.Errorf("message = %q, want %q", back.Error(), orig.Error())
			}
			if again := FromStatus(ToStatus(back)); !errors.Is(again, tc.kind) || again.Error() != orig.Error() {
				t.Errorf("a second trip (a proxying plugin) = %v, want %v", again, orig)
			}
		})
	}
}

func TestToStatus(t *testing.T) {
	if ToStatus(nil) != nil {
		t.Error("ToStatus(nil) != nil")
	}
	// Two kinds: the first of the table wins.
	both := fmt.Errorf("engine: %w (%w)", ErrUnavailable, context.DeadlineExceeded)
	if got := status.Code(ToStatus(both)); got != codes.Unavailable {
		t.Errorf("kind and context error: code %v, want Unavailable", got)
	}
	if got := status.Code(ToStatus(errors.New("boom"))); got != codes.Unknown {
		t.Errorf("plain error: code %v, want Unknown", got)
	}
	wrapped := fmt.Errorf("call engine: %w", status.Error(codes.PermissionDenied, "no"))
	st := ToStatus(wrapped)
	if status.Code(st) != codes.PermissionDenied || !strings.HasPrefix(status.Convert(st).Message(), "call engine: ") {
		t.Errorf("a wrapped status = %v, want its code and the whole message", st)
	}
}

func TestFromStatus(t *testing.T) {
	kinds := []error{ErrNotFound, ErrAlreadyExists, ErrInvalidArgument, ErrUnavailable, ErrFailedPrecondition,
		ErrUnimplemented, context.Canceled, context.DeadlineExceeded}
	for _, tc := range []struct {
		name string
		err  error
		want error // nil: no kind
		msg  string
	}{
		{"nil", nil, nil, ""},
		{"unknown code keeps the message", status.Error(codes.Unknown, "engine exploded"), nil, "engine exploded"},
		{"internal code", status.Error(codes.Internal, "bad"), nil, "bad"},
		{"transport unavailable", status.Error(codes.Unavailable, "connection error: desc = \"transport: EOF\""), ErrUnavailable,
			"connection error: desc = \"transport: EOF\""},
		{"io.EOF", io.EOF, ErrUnavailable, "EOF"},
		{"unexpected EOF", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), ErrUnavailable, "read: unexpected EOF"},
		{"connection refused", &net.OpError{Op: "dial", Net: "unix", Err: syscall.ECONNREFUSED}, ErrUnavailable, "dial unix: connection refused"},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), ErrUnavailable, "read: connection reset by peer"},
		{"closed connection", net.ErrClosed, ErrUnavailable, net.ErrClosed.Error()},
		{"other error unchanged", errors.New("odd"), nil, "odd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := FromStatus(tc.err)
			if tc.err == nil {
				if got != nil {
					t.Errorf("FromStatus(nil) = %v", got)
				}
				return
			}
			if got.Error() != tc.msg {
				t.Errorf("message = %q, want %q", got.Error(), tc.msg)
			}
			for _, k := range kinds {
				if errors.Is(got, k) != (k == tc.want) {
					t.Errorf("errors.Is(%v, %v) = %v", got, k, !(k == tc.want))
				}
			}
		})
	}
}

func TestFromCall(t *testing.T) {
	closing := status.Error(codes.Canceled, "grpc: the client connection is closing")
	live := context.Background()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	if err := FromCall(live, closing); !errors.Is(err, ErrUnavailable) || errors.Is(err, context.Canceled) {
		t.Errorf("Canceled while the caller's context is live = %v, want ErrUnavailable only", err)
	}
	if err := FromCall(cancelled, status.Error(codes.Canceled, "context canceled")); !errors.Is(err, context.Canceled) {
		t.Errorf("Canceled after the caller cancelled = %v, want context.Canceled", err)
	}
	if err := FromCall(live, status.Error(codes.NotFound, "no such container: x")); !errors.Is(err, ErrNotFound) {
		t.Errorf("NotFound = %v, want ErrNotFound", err)
	}
	if err := FromCall(live, nil); err != nil {
		t.Errorf("FromCall(nil) = %v", err)
	}
}
