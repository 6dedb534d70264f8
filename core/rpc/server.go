package rpc

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/session"
)

// Keepalive: a connection that stays silent this long is pinged, and
// closed when the ping is not answered in time, so that a session with a
// host that vanished (no RST) ends within seconds.
const (
	KeepaliveTime    = 5 * time.Second
	KeepaliveTimeout = 3 * time.Second
	// keepaliveMinTime is the most frequent pinging a server tolerates.
	keepaliveMinTime = 2 * time.Second
)

// access is who may call a method.
type access struct {
	// roles are the certificate roles (OUs) allowed.
	roles []string
	// self, when set, returns the node ID a request speaks for, which
	// must be the caller's own.
	self func(req any) string
}

var (
	managersOnly = []string{ca.OUManager}
	nodesOnly    = []string{ca.OUManager, ca.OUWorker}
)

// rules is who may call what, for every method this package serves, by
// the caller certificate's role (its OU) and node ID (its CN). The node
// RPCs take any node certificate, and only for the caller's own node ID;
// the manager RPCs take manager certificates, but any node may renew its
// certificate; the agent RPCs take manager certificates. A method without
// a rule is refused.
var rules = map[string]access{
	methodSession:          {roles: nodesOnly, self: func(r any) string { return r.(*session.Registration).NodeID }},
	methodHeartbeat:        {roles: nodesOnly, self: func(r any) string { return r.(*HeartbeatRequest).NodeID }},
	methodUpdateTaskStatus: {roles: nodesOnly, self: func(r any) string { return r.(*UpdateTaskStatusRequest).NodeID }},
	methodPropose:          {roles: managersOnly},
	methodAddVoter:         {roles: managersOnly},
	methodRemoveServer:     {roles: managersOnly},
	methodStatus:           {roles: managersOnly},
	methodRenewCert:        {roles: nodesOnly},
	methodTaskLogs:         {roles: managersOnly},
	methodTaskStats:        {roles: managersOnly},
}

// NewServer returns a gRPC server for the cluster port's ProtoRPC
// listener (serve it with srv.Serve(mux.Listener(transport.ProtoRPC,
// false))): the JSON codec, the TLS state of each connection as its
// credentials, keepalives, and interceptors that authorize every call by
// the caller's certificate and map errors to status codes. Register the
// services with RegisterDispatcher, RegisterManager and RegisterAgent.
func NewServer(logger *slog.Logger) *grpc.Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ic := &interceptors{logger: logger}
	return grpc.NewServer(
		grpc.Creds(handshaked{}),
		grpc.ForceServerCodec(jsonCodec{}),
		grpc.ChainUnaryInterceptor(ic.unary),
		grpc.ChainStreamInterceptor(ic.stream),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: KeepaliveTime, Timeout: KeepaliveTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: keepaliveMinTime, PermitWithoutStream: true}),
	)
}

type interceptors struct {
	logger *slog.Logger
}

func (ic *interceptors) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	rule, caller, err := ic.admit(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	if err := ic.checkSelf(info.FullMethod, rule, caller, req); err != nil {
		return nil, err
	}
	resp, err := handler(ctx, req)
	if err != nil {
		ic.logger.Debug("rpc failed", "method", info.FullMethod, "caller", caller.ID, "error", err)
	}
	return resp, toStatus(err)
}

func (ic *interceptors) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	rule, caller, err := ic.admit(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	if rule.self != nil {
		ss = &selfCheckedStream{ServerStream: ss, check: func(m any) error { return ic.checkSelf(info.FullMethod, rule, caller, m) }}
	}
	err = handler(srv, ss)
	if err != nil {
		ic.logger.Debug("rpc stream ended with an error", "method", info.FullMethod, "caller", caller.ID, "error", err)
	}
	return toStatus(err)
}

// admit checks the caller's certificate against the method's rule.
func (ic *interceptors) admit(ctx context.Context, method string) (access, ca.Peer, error) {
	caller, ok := PeerFrom(ctx)
	if !ok {
		ic.logger.Warn("rpc refused: the caller has no cluster certificate", "method", method)
		return access{}, caller, status.Errorf(codes.Unauthenticated,
			"%s needs a certificate of this cluster: join the cluster first", method)
	}
	rule, ok := rules[method]
	if !ok {
		return access{}, caller, status.Errorf(codes.PermissionDenied, "%s is not a method this node serves", method)
	}
	if !slices.Contains(rule.roles, caller.Role) {
		ic.logger.Warn("rpc refused: the caller's role may not call the method",
			"method", method, "caller", caller.ID, "role", caller.Role)
		return access{}, caller, status.Errorf(codes.PermissionDenied,
			"%s is for %s certificates only; %s presents a %s certificate",
			method, strings.Join(roleNames(rule.roles), " or "), caller.ID, roleName(caller.Role))
	}
	return rule, caller, nil
}

// checkSelf refuses a request made for another node than the caller.
func (ic *interceptors) checkSelf(method string, rule access, caller ca.Peer, req any) error {
	if rule.self == nil {
		return nil
	}
	if id := rule.self(req); id != caller.ID {
		ic.logger.Warn("rpc refused: a node spoke for another node", "method", method, "caller", caller.ID, "node_id", id)
		return status.Errorf(codes.PermissionDenied, "node %s may only speak for itself, not for node %q", caller.ID, id)
	}
	return nil
}

// roleName is a certificate role as a user says it: "manager" for
// ca.OUManager.
func roleName(role string) string {
	if role == "" {
		return "role-less"
	}
	return strings.TrimPrefix(role, "hive-")
}

func roleNames(roles []string) []string {
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = roleName(r)
	}
	return out
}

// selfCheckedStream checks the first message a client sends (the
// request of a server-streaming call) before the handler sees it.
type selfCheckedStream struct {
	grpc.ServerStream
	check   func(any) error
	checked bool
}

func (s *selfCheckedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if s.checked {
		return nil
	}
	s.checked = true
	return s.check(m)
}
