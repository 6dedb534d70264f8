package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/errdefs"
)

// shutdownGrace is how long Serve lets requests in flight finish once its
// context is done, before it closes the connections that remain.
const shutdownGrace = 5 * time.Second

// Server serves the API for one Backend. One Server may Serve several
// listeners at once (the local socket and a TCP address).
type Server struct {
	backend Backend
	logger  *slog.Logger
	handler http.Handler
}

// NewServer returns a Server for b that logs to logger (nil discards).
func NewServer(b Backend, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{backend: b, logger: logger}
	s.handler = s.routes()
	return s
}

// Handler returns the API's HTTP handler, for tests and for callers that
// run their own http.Server.
func (s *Server) Handler() http.Handler { return s.handler }

// streamsKey marks request contexts with a context that is cancelled when
// the serving http.Server begins to shut down, so that endless streams
// (logs --follow) end instead of holding the shutdown up.
type streamsKey struct{}

// Serve answers requests on l until ctx is done, then shuts down
// gracefully: it stops accepting, ends log streams, lets other requests
// finish for a few seconds and closes what remains. It closes l. It
// returns nil after a shutdown caused by ctx, or the error that stopped
// the listener.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	return s.serve(ctx, l, s.handler)
}

// serve is Serve with handler h.
func (s *Server) serve(ctx context.Context, l net.Listener, h http.Handler) error {
	return ServeHTTP(ctx, l, h, s.logger)
}

// ServeHTTP serves h on l until ctx is done, then shuts down gracefully,
// as Serve does: hive's API and the Docker-compatible one share it.
func ServeHTTP(ctx context.Context, l net.Listener, h http.Handler, logger *slog.Logger) error {
	streams, endStreams := context.WithCancel(context.Background())
	defer endStreams()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(serverErrors{logger}, "", 0),
		BaseContext: func(net.Listener) context.Context {
			return context.WithValue(context.Background(), streamsKey{}, streams)
		},
	}
	srv.RegisterOnShutdown(endStreams)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()

	select {
	case err := <-errc:
		return fmt.Errorf("serve api on %s: %w", l.Addr(), err)
	case <-ctx.Done():
	}
	// http.Server.Shutdown polls its connections on the wall clock: the
	// grace period is the real clock's.
	sctx, cancel := clock.WithTimeout(context.WithoutCancel(ctx), clock.Real{}, shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("api shutdown deadline passed, closing connections", "addr", l.Addr().String(), "err", err)
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve api on %s: %w", l.Addr(), err)
	}
	return nil
}

// StreamContext returns a context for a streaming response of a handler
// served by ServeHTTP: it ends with the request or when the server starts
// shutting down.
func StreamContext(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(r.Context())
	if streams, ok := r.Context().Value(streamsKey{}).(context.Context); ok {
		stop := context.AfterFunc(streams, cancel)
		return ctx, func() { stop(); cancel() }
	}
	return ctx, cancel
}

// StreamEnd is how a log stream served under ctx (from StreamContext(r))
// ends, given the error its source returned: gone when the client went
// away (nothing more can be written), else the error to report, nil when
// the stream is complete. A stream cut by the server's shutdown ends with
// an unavailable error, whatever the source returned. hive's API and its
// Docker API both end their log streams with it.
func StreamEnd(ctx context.Context, r *http.Request, err error) (gone bool, _ error) {
	if r.Context().Err() != nil {
		return true, nil
	}
	if ctx.Err() != nil {
		return false, errdefs.Newf(errdefs.ErrUnavailable, "log stream ended: hive is shutting down")
	}
	return false, err
}

// routes builds the mux.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/_ping", s.ping)
	mux.HandleFunc("GET /v1/info", s.info)
	mux.HandleFunc("GET /v1/nodes", s.listNodes)
	mux.HandleFunc("GET /v1/nodes/{ref}", s.getNode)
	mux.HandleFunc("GET /v1/services", s.listServices)
	mux.HandleFunc("POST /v1/services", s.createService)
	mux.HandleFunc("GET /v1/services/{ref}", s.getService)
	mux.HandleFunc("POST /v1/services/{ref}/update", s.updateService)
	mux.HandleFunc("POST /v1/services/{ref}/rollback", s.rollbackService)
	mux.HandleFunc("DELETE /v1/services/{ref}", s.removeService)
	mux.HandleFunc("GET /v1/services/{ref}/logs", s.serviceLogs)
	mux.HandleFunc("GET /v1/stats", s.stats)
	mux.HandleFunc("GET /v1/tasks", s.listTasks)
	mux.HandleFunc("GET /v1/plugins", s.plugins)
	mux.HandleFunc("GET /v1/events", s.events)
	mux.HandleFunc("POST /v1/shutdown", s.shutdown)
	mux.HandleFunc("GET /v1/join-tokens", s.joinTokens)
	mux.HandleFunc("POST /v1/join-tokens/{role}/rotate", s.rotateJoinToken)
	mux.HandleFunc("POST /v1/cluster/client-cert", s.issueClientCert)
	mux.HandleFunc("POST /v1/nodes/{ref}/update", s.updateNode)
	mux.HandleFunc("DELETE /v1/nodes/{ref}", s.removeNode)
	mux.HandleFunc("GET /v1/cluster", s.clusterStatus)
	mux.HandleFunc("POST /v1/leave", s.leave)
	mux.HandleFunc("GET /v1/secrets", s.listSecrets)
	mux.HandleFunc("POST /v1/secrets", s.createSecret)
	mux.HandleFunc("GET /v1/secrets/{ref}", s.getSecret)
	mux.HandleFunc("POST /v1/secrets/{ref}/update", s.updateSecret)
	mux.HandleFunc("DELETE /v1/secrets/{ref}", s.removeSecret)
	mux.HandleFunc("GET /v1/configs", s.listConfigs)
	mux.HandleFunc("POST /v1/configs", s.createConfig)
	mux.HandleFunc("GET /v1/configs/{ref}", s.getConfig)
	mux.HandleFunc("POST /v1/configs/{ref}/update", s.updateConfig)
	mux.HandleFunc("DELETE /v1/configs/{ref}", s.removeConfig)
	mux.HandleFunc("GET /v1/networks", s.listNetworks)
	mux.HandleFunc("POST /v1/networks", s.createNetwork)
	mux.HandleFunc("POST /v1/networks/prune", s.pruneNetworks)
	mux.HandleFunc("GET /v1/networks/{ref}", s.getNetwork)
	mux.HandleFunc("DELETE /v1/networks/{ref}", s.removeNetwork)
	mux.HandleFunc("POST /v1/cluster/autolock", s.setAutolock)
	mux.HandleFunc("GET /v1/cluster/unlock-key", s.unlockKey)
	mux.HandleFunc("POST /v1/cluster/unlock-key/rotate", s.rotateUnlockKey)
	mux.HandleFunc("POST /v1/unlock", s.unlock)
	mux.HandleFunc("/", s.noRoute)
	return s.logRequests(mux)
}

// noRoute answers requests no route matches, in the API's error format.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	writeError(w, errdefs.Newf(errdefs.ErrNotFound, "no route for %s %s: see docs/api.md for the routes of API v1", r.Method, r.URL.Path))
}

// statusWriter records the status and size of a response for the request
// log. It unwraps to the real writer so http.ResponseController can flush.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests logs each request at debug level and turns a handler panic
// into a 500 instead of a dropped connection.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return LogRequests(s.logger, writeError, next)
}

// LogRequests logs each request to logger at debug level and turns a
// handler panic into a 500, written by writeErr, instead of a dropped
// connection.
func LogRequests(logger *slog.Logger, writeErr func(http.ResponseWriter, error), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				logger.Error("api handler panicked", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
				if sw.status == 0 {
					writeErr(sw, fmt.Errorf("internal error while serving %s %s", r.Method, r.URL.Path))
				}
			}
			logger.Debug("api request", "method", r.Method, "path", r.URL.Path, "query", r.URL.RawQuery,
				"status", sw.status, "bytes", sw.bytes, "remote", r.RemoteAddr)
		}()
		next.ServeHTTP(sw, r)
	})
}

// StatusOf maps an error kind (errdefs.Kind) to its HTTP status.
func StatusOf(kind string) int {
	switch kind {
	case "invalid_argument":
		return http.StatusBadRequest
	case "not_found":
		return http.StatusNotFound
	case "conflict", "version_conflict", "still_stopping":
		return http.StatusConflict
	case "unavailable":
		return http.StatusServiceUnavailable
	case "permission_denied":
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

// writeError writes err as an ErrorResponse with the status of its kind.
func writeError(w http.ResponseWriter, err error) {
	kind := errdefs.Kind(err)
	writeJSON(w, StatusOf(kind), ErrorResponse{Message: errdefs.Message(err), Kind: kind})
}

// writeJSON writes v as the JSON body of a response with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(ErrorResponse{Message: "encode response: " + err.Error(), Kind: "internal"})
	}
	w.Header().Set("Content-Type", ContentTypeJSON)
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// DecodeBody reads r's body as JSON into v: at most MaxBodyBytes, one
// value, no fields v does not have (a field the server would drop is
// refused instead). Its errors are invalid_argument errors that say what
// was wrong; what names the value expected ("service spec"). hive's API
// and its Docker API (core/dockerapi) both read their bodies with it.
func DecodeBody(w http.ResponseWriter, r *http.Request, what string, v any) error {
	return decodeBodyMax(w, r, what, v, MaxBodyBytes)
}

// decodeBodyMax is DecodeBody with a limit of max bytes.
func decodeBodyMax(w http.ResponseWriter, r *http.Request, what string, v any, max int64) error {
	body := http.MaxBytesReader(w, r.Body, max)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return errdefs.Newf(errdefs.ErrInvalidArgument, "request body is larger than the limit of %d bytes (%d MiB)", max, max>>20)
		case errors.Is(err, io.EOF):
			return errdefs.Newf(errdefs.ErrInvalidArgument, "request body is empty: send a JSON %s", what)
		}
		return errdefs.Newf(errdefs.ErrInvalidArgument, "invalid %s in request body: %v", what, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errdefs.Newf(errdefs.ErrInvalidArgument, "request body is larger than the limit of %d bytes (%d MiB)", max, max>>20)
		}
		return errdefs.Newf(errdefs.ErrInvalidArgument, "invalid request body: it holds more than one JSON %s", what)
	}
	return nil
}

// serverErrors is the log of net/http's server: a TLS handshake refused
// (a client without a certificate, or speaking plain HTTP, on a port
// anyone may reach) is logged at debug, so that it cannot flood the log;
// every other line at warn.
type serverErrors struct{ logger *slog.Logger }

func (e serverErrors) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	level := slog.LevelWarn
	if strings.HasPrefix(msg, "http: TLS handshake error") {
		level = slog.LevelDebug
	}
	e.logger.Log(context.Background(), level, msg)
	return len(p), nil
}
