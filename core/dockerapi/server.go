package dockerapi

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/errdefs"
)

// The API versions served: MinAPIVersion up to APIVersion, the version
// advertised and tested with the docker CLI. A request for a newer one is
// refused with 400, as dockerd refuses it; an unversioned path is served
// as APIVersion.
const (
	MinAPIVersion = "1.24"
	APIVersion    = "1.44"
)

// Server serves the Docker-compatible API for one hive backend.
type Server struct {
	backend api.Backend
	logger  *slog.Logger
	clock   clock.Clock
	handler http.Handler
}

// NewServer returns a Server for b that logs to logger (nil discards).
func NewServer(b api.Backend, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{backend: b, logger: logger, clock: clock.Real{}}
	mux := http.NewServeMux()
	s.routes(mux)
	s.handler = api.LogRequests(logger, writeError, versioned(mux))
	return s
}

// Handler returns the API's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve answers requests on l until ctx is done, then shuts down
// gracefully. It closes l.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	return api.ServeHTTP(ctx, l, s.handler, s.logger)
}

// ServeTLS is Serve for a TCP listener l: it serves TLS with cfg (a
// ca.ListenerCert's, which asks every client for a certificate of the
// cluster) and lets in only certificates of one of roles; the others get
// a 403 in dockerd's error format that says which certificate is needed.
func (s *Server) ServeTLS(ctx context.Context, l net.Listener, cfg *tls.Config, roles ...string) error {
	h := api.RequireRolesWith(s.handler, refusal, roles...)
	return api.ServeHTTP(ctx, tls.NewListener(l, cfg), h, s.logger)
}

// refusal is how the Docker API over TCP turns a caller away.
var refusal = api.Refusal{
	API:        "hive's Docker API",
	UseTLS:     "set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH to its directory ('hive docker-env --tcp' prints them)",
	PointAt:    "point DOCKER_CERT_PATH at its directory, with DOCKER_TLS_VERIFY=1 ('hive docker-env --tcp' prints them)",
	WriteError: writeError,
}

// routes registers every endpoint, unversioned: versioned strips the
// /vX.Y prefix first.
func (s *Server) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /_ping", s.ping)
	mux.HandleFunc("HEAD /_ping", s.ping)
	mux.HandleFunc("GET /version", s.version)
	mux.HandleFunc("GET /info", s.info)
	s.nodeRoutes(mux)
	s.secretRoutes(mux)
	s.serviceRoutes(mux)
	s.networkRoutes(mux)
	s.distributionRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errdefs.Newf(errdefs.ErrNotFound, "page not found: hive's Docker API does not serve %s %s (docs/docker-api.md lists what it serves)", r.Method, r.URL.Path))
	})
}

// versionKey holds a request's API version in its context.
type versionKey struct{}

var versionPrefixRE = regexp.MustCompile(`^/v([0-9]+\.[0-9]+)(/.*)$`)

// versioned strips a /vX.Y prefix, refusing versions outside
// MinAPIVersion..APIVersion with dockerd's messages, and records the
// version in the request's context.
func versioned(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := APIVersion
		if m := versionPrefixRE.FindStringSubmatch(r.URL.Path); m != nil {
			v = m[1]
			switch {
			case compareVersions(v, APIVersion) > 0:
				writeError(w, errdefs.Newf(errdefs.ErrInvalidArgument, "client version %s is too new. Maximum supported API version is %s", v, APIVersion))
				return
			case compareVersions(v, MinAPIVersion) < 0:
				writeError(w, errdefs.Newf(errdefs.ErrInvalidArgument, "client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", v, MinAPIVersion))
				return
			}
			r = r.Clone(context.WithValue(r.Context(), versionKey{}, v))
			r.URL.Path = m[2]
			r.URL.RawPath = ""
		}
		w.Header().Set("Api-Version", APIVersion)
		w.Header().Set("Server", "hive/"+hiveVersion()+" (linux)")
		next.ServeHTTP(w, r)
	})
}

// requestVersion is the API version the request asked for.
func requestVersion(r *http.Request) string {
	if v, ok := r.Context().Value(versionKey{}).(string); ok {
		return v
	}
	return APIVersion
}

// compareVersions compares two "X.Y" API versions.
func compareVersions(a, b string) int {
	pa, pb := strings.SplitN(a, ".", 2), strings.SplitN(b, ".", 2)
	for i := range 2 {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// errorResponse is dockerd's error body.
type errorResponse struct {
	Message string `json:"message"`
}

// writeError writes err as dockerd does: {"message": ...} with the status
// of its kind (400 bad input, 404 missing, 409 conflict, 503 no quorum).
func writeError(w http.ResponseWriter, err error) {
	writeJSON(w, api.StatusOf(errdefs.Kind(err)), errorResponse{Message: errdefs.Message(err)})
}

// writeJSON writes v as a JSON response with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(errorResponse{Message: fmt.Sprintf("encode response: %v", err)})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}
