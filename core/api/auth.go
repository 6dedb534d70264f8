package api

import (
	"context"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/errdefs"
)

// RequireRoles lets a request through to h only when it comes over the
// local unix socket, or over TLS with a cluster certificate whose role
// (ca.OUManager, ca.OUClient, ...) is one of roles. Everything else gets a
// 403 that says which certificate is needed. The daemon wraps the API it
// serves on the cluster port with RequireRoles(h, ca.OUManager,
// ca.OUClient); the unix socket stays unrestricted, guarded by its file
// permissions.
func RequireRoles(h http.Handler, roles ...string) http.Handler {
	return RequireRolesWith(h, hiveRefusal, roles...)
}

// Refusal is how an API served behind RequireRolesWith turns a caller
// away: its name and the hints its messages give, and its error format.
type Refusal struct {
	// API names the API in messages: "the hive API".
	API string
	// UseTLS tells a caller that has a client certificate how to call
	// the API with it ("use -H tcp://HOST:PORT with --tls-dir").
	UseTLS string
	// PointAt tells a caller how to point its client at the directory of
	// a client certificate ("point --tls-dir (or HIVE_TLS_DIR) at it").
	PointAt string
	// WriteError writes the 403 in the API's error format.
	WriteError func(http.ResponseWriter, error)
}

// hiveRefusal is the hive API's.
var hiveRefusal = Refusal{
	API:        "the hive API",
	UseTLS:     "use -H tcp://HOST:PORT with --tls-dir",
	PointAt:    "point --tls-dir (or HIVE_TLS_DIR) at it",
	WriteError: writeError,
}

// RequireRolesWith is RequireRoles for any API: the 403s it writes are
// ref's.
func RequireRolesWith(h http.Handler, ref Refusal, roles ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			if local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); !ok || local.Network() == "unix" {
				h.ServeHTTP(w, r)
				return
			}
			ref.WriteError(w, errdefs.Newf(errdefs.ErrPermissionDenied, "%s over TCP needs TLS with a client certificate: get one with 'hive cluster client-cert' on a manager, then %s", ref.API, ref.UseTLS))
			return
		}
		peer, ok := ca.PeerOf(*r.TLS)
		if !ok {
			ref.WriteError(w, errdefs.Newf(errdefs.ErrPermissionDenied, "%s over TCP needs a client certificate signed by the cluster's CA: get one with 'hive cluster client-cert' on a manager and %s", ref.API, ref.PointAt))
			return
		}
		if !slices.Contains(roles, peer.Role) {
			ref.WriteError(w, errdefs.Newf(errdefs.ErrPermissionDenied, "permission denied: %s certificates (%s) may not call %s, only %s certificates: get a client certificate with 'hive cluster client-cert' and %s",
				roleName(peer.Role), peer.ID, ref.API, roleNames(roles), ref.PointAt))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// ServeRestricted is Serve for the API on the cluster port: l is the
// port's API listener (mux.Listener(transport.ProtoAPI, false)), and every
// request must come with a certificate of one of roles, as RequireRoles
// checks.
func (s *Server) ServeRestricted(ctx context.Context, l net.Listener, roles ...string) error {
	return s.serve(ctx, l, RequireRoles(s.handler, roles...))
}

// roleName is an OU as the operator knows it: "worker" for hive-worker.
func roleName(ou string) string {
	if name, ok := strings.CutPrefix(ou, "hive-"); ok {
		return name
	}
	if ou == "" {
		return "role-less"
	}
	return ou
}

func roleNames(ous []string) string {
	names := make([]string, len(ous))
	for i, ou := range ous {
		names[i] = roleName(ou)
	}
	switch len(names) {
	case 0:
		return "no"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
