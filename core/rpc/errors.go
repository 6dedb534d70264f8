package rpc

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/store"
	sdk "github.com/hiveorch/hive/plugins/sdk"
)

// This file is the one place errors cross the wire. A server error
// becomes a gRPC status with the error's message and code, and an
// ErrorInfo detail naming every error kind it wraps (and, for a
// not-leader error, the leader); the client turns the status back into an
// error with the same message for which errors.Is holds for the same
// kinds, and errors.As finds a *store.NotLeaderError naming the leader.

// errorDomain is ErrorInfo's domain for hive's errors.
const errorDomain = "hive"

// ErrorInfo metadata keys.
const (
	metaKinds      = "kinds"
	metaLeaderID   = "leader_id"
	metaLeaderAddr = "leader_addr"
)

// kindNotLeader names store.ErrNotLeader.
const kindNotLeader = "not_leader"

// errorKinds are the errors that cross the wire by name, most specific
// first: an error's code is that of the first kind it wraps.
var errorKinds = []struct {
	name string
	err  error
	code codes.Code
}{
	{kindNotLeader, store.ErrNotLeader, codes.Unavailable},
	{"no_quorum", store.ErrNoQuorum, codes.Unavailable},
	{"store_closed", store.ErrClosed, codes.Unavailable},
	{"sequence_conflict", store.ErrSequenceConflict, codes.Aborted},
	{"name_conflict", store.ErrNameConflict, codes.AlreadyExists},
	{"exists", store.ErrExist, codes.AlreadyExists},
	{"store_not_found", store.ErrNotFound, codes.NotFound},
	{"invalid_argument", errdefs.ErrInvalidArgument, codes.InvalidArgument},
	{"not_found", errdefs.ErrNotFound, codes.NotFound},
	{"version_conflict", errdefs.ErrVersionConflict, codes.Aborted},
	{"conflict", errdefs.ErrConflict, codes.Aborted},
	{"unavailable", errdefs.ErrUnavailable, codes.Unavailable},
	{"permission_denied", errdefs.ErrPermissionDenied, codes.PermissionDenied},
	{"sdk_not_found", sdk.ErrNotFound, codes.NotFound},
	{"sdk_already_exists", sdk.ErrAlreadyExists, codes.AlreadyExists},
	{"sdk_invalid_argument", sdk.ErrInvalidArgument, codes.InvalidArgument},
	{"sdk_unavailable", sdk.ErrUnavailable, codes.Unavailable},
	{"sdk_failed_precondition", sdk.ErrFailedPrecondition, codes.FailedPrecondition},
	{"sdk_unimplemented", sdk.ErrUnimplemented, codes.Unimplemented},
	{"canceled", context.Canceled, codes.Canceled},
	{"deadline_exceeded", context.DeadlineExceeded, codes.DeadlineExceeded},
}

// codeKinds gives an error without hive's detail (one made by gRPC
// itself: a refused connection, a timeout) the kinds its code means.
var codeKinds = map[codes.Code]error{
	codes.Unavailable:      errdefs.ErrUnavailable,
	codes.PermissionDenied: errdefs.ErrPermissionDenied,
	codes.Unauthenticated:  errdefs.ErrPermissionDenied,
	codes.InvalidArgument:  errdefs.ErrInvalidArgument,
	codes.NotFound:         errdefs.ErrNotFound,
	codes.AlreadyExists:    errdefs.ErrConflict,
	codes.Aborted:          errdefs.ErrConflict,
	codes.Canceled:         context.Canceled,
	codes.DeadlineExceeded: context.DeadlineExceeded,
}

// toStatus turns a server-side error into a gRPC status error. A status
// error is returned as it is.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(interface{ GRPCStatus() *status.Status }); ok {
		return err
	}
	code := codes.Unknown
	var names []string
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			if names == nil {
				code = k.code
			}
			names = append(names, k.name)
		}
	}
	st := status.New(code, err.Error())
	if names == nil {
		return st.Err()
	}
	info := &errdetails.ErrorInfo{Reason: strings.ToUpper(names[0]), Domain: errorDomain,
		Metadata: map[string]string{metaKinds: strings.Join(names, ",")}}
	var nl *store.NotLeaderError
	if errors.As(err, &nl) && nl.LeaderID != "" {
		info.Metadata[metaLeaderID], info.Metadata[metaLeaderAddr] = nl.LeaderID, nl.LeaderAddr
	}
	if withInfo, derr := st.WithDetails(info); derr == nil {
		st = withInfo
	}
	return st.Err()
}

// remoteError is an error a server answered with.
type remoteError struct {
	code codes.Code
	msg  string
	// kinds are the sentinels (and *store.NotLeaderError) it wraps.
	kinds []error
	// fromHive is true when a hive server made the error, false when gRPC
	// did (the server could not be reached, the call timed out).
	fromHive bool
}

func (e *remoteError) Error() string   { return e.msg }
func (e *remoteError) Unwrap() []error { return e.kinds }

// fromStatus turns a call's error back into the server's error.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	re := &remoteError{code: st.Code(), msg: st.Message()}
	for _, d := range st.Details() {
		info, ok := d.(*errdetails.ErrorInfo)
		if !ok || info.Domain != errorDomain {
			continue
		}
		re.fromHive = true
		for name := range strings.SplitSeq(info.Metadata[metaKinds], ",") {
			if name == kindNotLeader {
				re.kinds = append(re.kinds, &store.NotLeaderError{
					LeaderID: info.Metadata[metaLeaderID], LeaderAddr: info.Metadata[metaLeaderAddr]})
				continue
			}
			for _, k := range errorKinds {
				if k.name == name {
					re.kinds = append(re.kinds, k.err)
				}
			}
		}
	}
	if k, ok := codeKinds[st.Code()]; ok && !errors.Is(re, k) {
		re.kinds = append(re.kinds, k)
	}
	if re.msg == "" {
		re.msg = st.Code().String()
	}
	return re
}

// LeaderAddr returns the address of the leader a not-leader error names,
// or "" when err is no such error or names no leader.
func LeaderAddr(err error) string {
	var nl *store.NotLeaderError
	if errors.As(err, &nl) {
		return nl.LeaderAddr
	}
	return ""
}

// unreachable reports whether err says the server could not be reached or
// did not answer in time, as opposed to an answer from hive.
func unreachable(err error) bool {
	var re *remoteError
	if !errors.As(err, &re) || re.fromHive {
		return false
	}
	return re.code == codes.Unavailable || re.code == codes.DeadlineExceeded
}
