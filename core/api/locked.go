package api

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/hiveorch/hive/core/errdefs"
)

// LockedBackend is what an autolocked manager serves after a restart,
// until it is given its unlock key: a description of itself (saying it is
// locked), the unlock call, and shutdown.
type LockedBackend interface {
	Info(ctx context.Context) (*Info, error)
	// Unlock tries key; a wrong key leaves the manager locked and fails
	// with errdefs.ErrPermissionDenied.
	Unlock(ctx context.Context, key string) error
	Shutdown(ctx context.Context) error
}

// NewLockedServer returns a Server for a locked manager: GET /v1/_ping,
// GET /v1/info, POST /v1/unlock and POST /v1/shutdown answer; every other
// route fails as unavailable, saying to run `hive unlock`.
func NewLockedServer(b LockedBackend, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{logger: logger}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/_ping", s.ping)
	mux.HandleFunc("GET /v1/info", func(w http.ResponseWriter, r *http.Request) {
		info, err := b.Info(r.Context())
		respond(w, http.StatusOK, info, err)
	})
	mux.HandleFunc("POST /v1/unlock", func(w http.ResponseWriter, r *http.Request) {
		var req UnlockRequest
		if err := DecodeBody(w, r, "unlock request", &req); err != nil {
			writeError(w, err)
			return
		}
		respond(w, http.StatusOK, struct{}{}, b.Unlock(r.Context(), req.Key))
	})
	mux.HandleFunc("POST /v1/shutdown", func(w http.ResponseWriter, r *http.Request) {
		if err := b.Shutdown(r.Context()); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errdefs.Newf(errdefs.ErrUnavailable, "this manager is locked: its keys are sealed by the cluster's unlock key; run 'hive unlock' and give the key (from 'hive unlock-key' on an unlocked manager, or kept since autolock was turned on)"))
	})
	s.handler = s.logRequests(mux)
	return s
}
