package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/hiveorch/hive/plugins/sdk"
)

// daemonErr builds an error shaped like the Docker client's answer for an
// engine error of the given kind.
func daemonErr(kind error, msg string) error {
	return fmt.Errorf("%w", &fakeHTTPError{msg: daemonPrefix + msg, kind: kind})
}

type fakeHTTPError struct {
	msg  string
	kind error
}

func (e *fakeHTTPError) Error() string        { return e.msg }
func (e *fakeHTTPError) Is(target error) bool { return errors.Is(e.kind, target) }

func TestWrapErrMapsEngineErrorsToSDKKinds(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want error // nil: no kind
	}{
		{"not found", daemonErr(cerrdefs.ErrNotFound, "No such container: x"), sdk.ErrNotFound},
		{"conflict", daemonErr(cerrdefs.ErrConflict, "Conflict. The container name is in use"), sdk.ErrAlreadyExists},
		{"already exists", daemonErr(cerrdefs.ErrAlreadyExists, "exists"), sdk.ErrAlreadyExists},
		{"invalid parameter", daemonErr(cerrdefs.ErrInvalidArgument, "invalid mount config"), sdk.ErrInvalidArgument},
		{"client-side invalid argument", cerrdefs.ErrInvalidArgument.WithMessage("config.Image or Image is required"), sdk.ErrInvalidArgument},
		{"precondition", daemonErr(cerrdefs.ErrFailedPrecondition, "nope"), sdk.ErrFailedPrecondition},
		{"not implemented", daemonErr(cerrdefs.ErrNotImplemented, "nope"), sdk.ErrUnimplemented},
		{"engine unavailable", daemonErr(cerrdefs.ErrUnavailable, "shutting down"), sdk.ErrUnavailable},
		{"connection refused", fmt.Errorf("dial unix: %w", syscall.ECONNREFUSED), sdk.ErrUnavailable},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), sdk.ErrUnavailable},
		{"EOF", fmt.Errorf("decode: %w", io.ErrUnexpectedEOF), sdk.ErrUnavailable},
		{"internal", daemonErr(cerrdefs.ErrInternal, "driver failed"), nil},
		{"cancelled", fmt.Errorf("post: %w", context.Canceled), nil},
	}
	kinds := []error{sdk.ErrNotFound, sdk.ErrAlreadyExists, sdk.ErrInvalidArgument, sdk.ErrUnavailable, sdk.ErrFailedPrecondition, sdk.ErrUnimplemented}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := wrapErr(tc.err, "create container %s", "web.1.abc")
			for _, k := range kinds {
				if got := errors.Is(err, k); got != (k == tc.want) {
					t.Errorf("errors.Is(%v, %v) = %v", err, k, got)
				}
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("%v does not wrap the original error", err)
			}
			want := "create container web.1.abc: " + engineMessage(tc.err)
			if err.Error() != want {
				t.Errorf("text = %q, want %q", err, want)
			}
		})
	}
	if wrapErr(nil, "x") != nil {
		t.Error("wrapErr(nil) is not nil")
	}
}

func TestWrapErrConflictOverridesTheConflictKind(t *testing.T) {
	err := wrapErrConflict(daemonErr(cerrdefs.ErrConflict, "You cannot remove a running container"), sdk.ErrFailedPrecondition, "remove container %s", "x")
	mustErrIs(t, err, sdk.ErrFailedPrecondition)
	if errors.Is(err, sdk.ErrAlreadyExists) {
		t.Fatalf("%v still wraps ErrAlreadyExists", err)
	}
	// Other kinds keep theirs.
	err = wrapErrConflict(daemonErr(cerrdefs.ErrNotFound, "No such container: x"), sdk.ErrFailedPrecondition, "remove container %s", "x")
	mustErrIs(t, err, sdk.ErrNotFound)
}

func TestStreamErrIsUnavailableUnlessCancelled(t *testing.T) {
	err := streamErr(errors.New("json: cannot unmarshal"), "wait for container %s", "x")
	mustErrIs(t, err, sdk.ErrUnavailable)
	err = streamErr(fmt.Errorf("read: %w", context.Canceled), "wait for container %s", "x")
	mustErrIs(t, err, context.Canceled)
	if errors.Is(err, sdk.ErrUnavailable) {
		t.Fatalf("a cancelled wait %v wraps ErrUnavailable", err)
	}
}

func TestImageNotFoundText(t *testing.T) {
	err := pullErr("hive-test/does-not-exist:1", nil, daemonErr(cerrdefs.ErrInternal, "Get \"https://registry-1.docker.io/v2/\": no such host"))
	mustErrIs(t, err, sdk.ErrNotFound)
	want := `image not found: hive-test/does-not-exist:1: Get "https://registry-1.docker.io/v2/": no such host`
	if err.Error() != want {
		t.Fatalf("text = %q, want %q", err, want)
	}
	err = pullErr("img", nil, fmt.Errorf("dial: %w", syscall.ECONNREFUSED))
	mustErrIs(t, err, sdk.ErrUnavailable)
	if errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("an unreachable engine %v says the image is not found", err)
	}
}
