package api

import (
	"context"
	"net/http"

	"github.com/hiveorch/hive/core/types"
)

// NetworkManager is the part of Backend that keeps networks (managers
// only). The managers allocate a network's subnet, gateway and VXLAN ID
// when they create it, in the same Raft command.
type NetworkManager interface {
	// CreateNetwork validates spec and stores the network with what was
	// allocated for it; errdefs.ErrInvalidArgument for a bad spec (an
	// unknown driver, a malformed CIDR), errdefs.ErrConflict for a name in
	// use or a subnet that overlaps another network's. Nothing is stored
	// when it fails.
	CreateNetwork(ctx context.Context, spec types.NetworkSpec) (*types.Network, error)
	// ListNetworks returns every network, sorted by name.
	ListNetworks(ctx context.Context) ([]*types.Network, error)
	// GetNetwork returns one network, by ID, name or unique ID prefix.
	GetNetwork(ctx context.Context, ref string) (*types.Network, error)
	// RemoveNetwork deletes a network; errdefs.ErrConflict, naming them,
	// while services use it or their tasks are still attached.
	RemoveNetwork(ctx context.Context, ref string) error
	// PruneNetworks removes every network no service uses and returns
	// their names, sorted.
	PruneNetworks(ctx context.Context) ([]string, error)
}

// NetworksPruned is the answer of POST /v1/networks/prune.
type NetworksPruned struct {
	// Removed are the names of the networks removed, sorted; empty when
	// every network is in use.
	Removed []string `json:"removed"`
}

func (s *Server) listNetworks(w http.ResponseWriter, r *http.Request) {
	list, err := s.backend.ListNetworks(r.Context())
	if list == nil {
		list = []*types.Network{}
	}
	respond(w, http.StatusOK, list, err)
}

func (s *Server) createNetwork(w http.ResponseWriter, r *http.Request) {
	var spec types.NetworkSpec
	if err := DecodeBody(w, r, "network spec", &spec); err != nil {
		writeError(w, err)
		return
	}
	n, err := s.backend.CreateNetwork(r.Context(), spec)
	respond(w, http.StatusCreated, n, err)
}

func (s *Server) getNetwork(w http.ResponseWriter, r *http.Request) {
	n, err := s.backend.GetNetwork(r.Context(), r.PathValue("ref"))
	respond(w, http.StatusOK, n, err)
}

func (s *Server) removeNetwork(w http.ResponseWriter, r *http.Request) {
	if err := s.backend.RemoveNetwork(r.Context(), r.PathValue("ref")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) pruneNetworks(w http.ResponseWriter, r *http.Request) {
	names, err := s.backend.PruneNetworks(r.Context())
	if names == nil {
		names = []string{}
	}
	respond(w, http.StatusOK, NetworksPruned{Removed: names}, err)
}
