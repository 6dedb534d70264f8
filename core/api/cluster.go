package api

import (
	"net/http"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

// JoinTokens are the cluster's current join tokens and the address a new
// node joins through.
type JoinTokens struct {
	Worker  string `json:"worker"`
	Manager string `json:"manager"`
	// Addr is the cluster port (advertise address) of the manager that
	// answered: `hive join --token T ADDR`.
	Addr string `json:"addr"`
}

// ClientCertRequest asks for a client certificate for a remote CLI. Only
// the public key is sent; the private key stays with the CLI.
type ClientCertRequest struct {
	// Name goes in the certificate's CN, e.g. alice@laptop.
	Name string `json:"name"`
	// PublicKeyPEM is an ECDSA P-256 public key as a "PUBLIC KEY" PEM
	// block.
	PublicKeyPEM string `json:"public_key_pem"`
}

// ClientCert is a signed client certificate and the cluster's CA
// certificate, which the CLI trusts to recognise the managers.
type ClientCert struct {
	CertPEM   string `json:"cert_pem"`
	CACertPEM string `json:"ca_cert_pem"`
	// Addr is the cluster port of the manager that answered, where the
	// API also listens (ALPN http/1.1): HIVE_HOST=tcp://ADDR.
	Addr string `json:"addr,omitempty"`
}

func (s *Server) joinTokens(w http.ResponseWriter, r *http.Request) {
	tokens, err := s.backend.JoinTokens(r.Context())
	respond(w, http.StatusOK, tokens, err)
}

func (s *Server) rotateJoinToken(w http.ResponseWriter, r *http.Request) {
	role := types.NodeRole(r.PathValue("role"))
	if role != types.RoleWorker && role != types.RoleManager {
		writeError(w, errdefs.Newf(errdefs.ErrInvalidArgument, "unknown join token role %q: want worker or manager, as in POST /v1/join-tokens/worker/rotate", role))
		return
	}
	tokens, err := s.backend.RotateJoinToken(r.Context(), role)
	respond(w, http.StatusOK, tokens, err)
}

func (s *Server) issueClientCert(w http.ResponseWriter, r *http.Request) {
	var req ClientCertRequest
	if err := DecodeBody(w, r, "client certificate request", &req); err != nil {
		writeError(w, err)
		return
	}
	cert, err := s.backend.IssueClientCert(r.Context(), req)
	respond(w, http.StatusCreated, cert, err)
}
