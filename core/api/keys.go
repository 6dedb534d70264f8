package api

import (
	"context"
	"net/http"
)

// KeyManager is the part of Backend that manages how the managers keep
// the cluster's data-encryption key: autolock and its unlock key.
type KeyManager interface {
	// SetAutolock turns autolock on or off for every manager. Turning it
	// on returns the new unlock key, shown this once; the other calls
	// return an empty UnlockKey.Key.
	SetAutolock(ctx context.Context, on bool) (*UnlockKey, error)
	// UnlockKey returns the current unlock key (errdefs.ErrInvalidArgument
	// when autolock is off).
	UnlockKey(ctx context.Context) (*UnlockKey, error)
	// RotateUnlockKey replaces the unlock key and returns the new one.
	RotateUnlockKey(ctx context.Context) (*UnlockKey, error)
	// Unlock gives a locked manager its unlock key; a wrong key leaves it
	// locked (errdefs.ErrPermissionDenied).
	Unlock(ctx context.Context, key string) error
}

// UnlockKey is the cluster's unlock key, and whether autolock is on.
type UnlockKey struct {
	Autolock bool `json:"autolock"`
	// Key is "HIVEKEY-1-...", or empty when autolock is off.
	Key string `json:"unlock_key,omitempty"`
	// Generation counts the keys; it changes with each rotation.
	Generation uint64 `json:"generation,omitempty"`
}

// AutolockRequest is the body of POST /v1/cluster/autolock.
type AutolockRequest struct {
	Autolock bool `json:"autolock"`
}

// UnlockRequest is the body of POST /v1/unlock.
type UnlockRequest struct {
	Key string `json:"unlock_key"`
}

func (s *Server) setAutolock(w http.ResponseWriter, r *http.Request) {
	var req AutolockRequest
	if err := DecodeBody(w, r, "autolock request", &req); err != nil {
		writeError(w, err)
		return
	}
	k, err := s.backend.SetAutolock(r.Context(), req.Autolock)
	respond(w, http.StatusOK, k, err)
}

func (s *Server) unlockKey(w http.ResponseWriter, r *http.Request) {
	k, err := s.backend.UnlockKey(r.Context())
	respond(w, http.StatusOK, k, err)
}

func (s *Server) rotateUnlockKey(w http.ResponseWriter, r *http.Request) {
	k, err := s.backend.RotateUnlockKey(r.Context())
	respond(w, http.StatusOK, k, err)
}

func (s *Server) unlock(w http.ResponseWriter, r *http.Request) {
	var req UnlockRequest
	if err := DecodeBody(w, r, "unlock request", &req); err != nil {
		writeError(w, err)
		return
	}
	err := s.backend.Unlock(r.Context(), req.Key)
	respond(w, http.StatusOK, struct{}{}, err)
}
