package api

import (
	"context"
	"net/http"

	"github.com/hiveorch/hive/core/types"
)

// MaxValueBodyBytes is the largest request body of the secret and config
// routes: a config's 1000 KB in base64, with room for its spec.
const MaxValueBodyBytes = 2 << 20

// SecretManager is the part of Backend that keeps secrets and configs
// (managers only). A secret's value goes in and never comes out: every
// secret a method returns has no Sealed bytes, and no error carries a
// value.
type SecretManager interface {
	// CreateSecret stores a secret with its value, sealed; a secret with
	// a driver takes no value.
	CreateSecret(ctx context.Context, spec types.SecretSpec, value types.SecretValue) (*types.Secret, error)
	ListSecrets(ctx context.Context) ([]*types.Secret, error)
	// GetSecret returns one secret, by ID, name or unique ID prefix.
	GetSecret(ctx context.Context, ref string) (*types.Secret, error)
	// RemoveSecret deletes a secret; errdefs.ErrConflict, naming them,
	// while services use it.
	RemoveSecret(ctx context.Context, ref string) error
	// UpdateSecret stores a new value and rolls the services that use
	// the secret.
	UpdateSecret(ctx context.Context, ref string, value types.SecretValue) (*types.Secret, error)

	CreateConfig(ctx context.Context, spec types.ConfigSpec, data []byte) (*types.Config, error)
	ListConfigs(ctx context.Context) ([]*types.Config, error)
	GetConfig(ctx context.Context, ref string) (*types.Config, error)
	RemoveConfig(ctx context.Context, ref string) error
	UpdateConfig(ctx context.Context, ref string, data []byte) (*types.Config, error)
}

// SecretCreate is the body of POST /v1/secrets: the spec and the value,
// base64 in JSON. A secret with a driver has no data.
type SecretCreate struct {
	Spec types.SecretSpec `json:"spec"`
	Data []byte           `json:"data,omitempty"`
}

// ConfigCreate is the body of POST /v1/configs.
type ConfigCreate struct {
	Spec types.ConfigSpec `json:"spec"`
	Data []byte           `json:"data"`
}

// ValueUpdate is the body of POST /v1/secrets/{ref}/update and
// /v1/configs/{ref}/update: the new value, base64 in JSON.
type ValueUpdate struct {
	Data []byte `json:"data,omitempty"`
}

// redact drops what must never leave the managers from a secret.
func redact(s *types.Secret) *types.Secret {
	if s == nil {
		return nil
	}
	c := *s
	c.Sealed = nil
	return &c
}

// wipe overwrites a request's copy of a value once it is handed on.
func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

func (s *Server) listSecrets(w http.ResponseWriter, r *http.Request) {
	list, err := s.backend.ListSecrets(r.Context())
	out := make([]*types.Secret, 0, len(list))
	for _, sec := range list {
		out = append(out, redact(sec))
	}
	respond(w, http.StatusOK, out, err)
}

func (s *Server) createSecret(w http.ResponseWriter, r *http.Request) {
	var req SecretCreate
	if err := decodeBodyMax(w, r, "secret (spec and base64 data)", &req, MaxValueBodyBytes); err != nil {
		writeError(w, err)
		return
	}
	defer wipe(req.Data)
	sec, err := s.backend.CreateSecret(r.Context(), req.Spec, types.NewSecretValue(req.Data))
	respond(w, http.StatusCreated, redact(sec), err)
}

func (s *Server) getSecret(w http.ResponseWriter, r *http.Request) {
	sec, err := s.backend.GetSecret(r.Context(), r.PathValue("ref"))
	respond(w, http.StatusOK, redact(sec), err)
}

func (s *Server) updateSecret(w http.ResponseWriter, r *http.Request) {
	var req ValueUpdate
	if err := decodeBodyMax(w, r, "value update (base64 data)", &req, MaxValueBodyBytes); err != nil {
		writeError(w, err)
		return
	}
	defer wipe(req.Data)
	sec, err := s.backend.UpdateSecret(r.Context(), r.PathValue("ref"), types.NewSecretValue(req.Data))
	respond(w, http.StatusOK, redact(sec), err)
}

func (s *Server) removeSecret(w http.ResponseWriter, r *http.Request) {
	if err := s.backend.RemoveSecret(r.Context(), r.PathValue("ref")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listConfigs(w http.ResponseWriter, r *http.Request) {
	list, err := s.backend.ListConfigs(r.Context())
	if list == nil {
		list = []*types.Config{}
	}
	respond(w, http.StatusOK, list, err)
}

func (s *Server) createConfig(w http.ResponseWriter, r *http.Request) {
	var req ConfigCreate
	if err := decodeBodyMax(w, r, "config (spec and base64 data)", &req, MaxValueBodyBytes); err != nil {
		writeError(w, err)
		return
	}
	c, err := s.backend.CreateConfig(r.Context(), req.Spec, req.Data)
	respond(w, http.StatusCreated, c, err)
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) {
	c, err := s.backend.GetConfig(r.Context(), r.PathValue("ref"))
	respond(w, http.StatusOK, c, err)
}

func (s *Server) updateConfig(w http.ResponseWriter, r *http.Request) {
	var req ValueUpdate
	if err := decodeBodyMax(w, r, "value update (base64 data)", &req, MaxValueBodyBytes); err != nil {
		writeError(w, err)
		return
	}
	c, err := s.backend.UpdateConfig(r.Context(), r.PathValue("ref"), req.Data)
	respond(w, http.StatusOK, c, err)
}

func (s *Server) removeConfig(w http.ResponseWriter, r *http.Request) {
	if err := s.backend.RemoveConfig(r.Context(), r.PathValue("ref")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
