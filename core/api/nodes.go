package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

// ClusterStatus is the Raft group as the answering manager sees it, for
// `hive cluster status`.
type ClusterStatus struct {
	ClusterID string `json:"cluster_id"`
	// NodeID and State are the answering manager and its Raft state
	// (leader, follower, candidate).
	NodeID       string          `json:"node_id"`
	State        string          `json:"state"`
	LeaderID     string          `json:"leader_id"`
	LeaderAddr   string          `json:"leader_addr"`
	Term         uint64          `json:"term"`
	LastIndex    uint64          `json:"last_index"`
	CommitIndex  uint64          `json:"commit_index"`
	AppliedIndex uint64          `json:"applied_index"`
	Members      []ClusterMember `json:"members"`
}

// ClusterMember is one member of the Raft group.
type ClusterMember struct {
	ID       string `json:"id"`
	Hostname string `json:"hostname"`
	Addr     string `json:"addr"`
	Voter    bool   `json:"voter"`
	Leader   bool   `json:"leader"`
	// Reachable is false for a manager the cluster has marked down.
	Reachable bool `json:"reachable"`
}

// NodeManager is the part of Backend that changes nodes and the cluster's
// membership.
type NodeManager interface {
	// UpdateNode replaces a node's spec (availability, labels, role);
	// version is the node's Meta.Version the caller read.
	UpdateNode(ctx context.Context, ref string, version uint64, spec types.NodeSpec) (*types.Node, error)
	// RemoveNode deletes a node from the cluster.
	RemoveNode(ctx context.Context, ref string, force bool) error
	// ClusterStatus describes the Raft group.
	ClusterStatus(ctx context.Context) (*ClusterStatus, error)
	// Leave makes the answering node leave its cluster; a manager needs
	// force. The daemon stops afterwards.
	Leave(ctx context.Context, force bool) error
}

func (s *Server) updateNode(w http.ResponseWriter, r *http.Request) {
	version, err := strconv.ParseUint(r.URL.Query().Get("version"), 10, 64)
	if err != nil {
		writeError(w, errdefs.Newf(errdefs.ErrInvalidArgument, "missing or bad ?version=: give the node's version as read, as in POST /v1/nodes/ID/update?version=12"))
		return
	}
	var spec types.NodeSpec
	if err := DecodeBody(w, r, "node spec", &spec); err != nil {
		writeError(w, err)
		return
	}
	n, err := s.backend.UpdateNode(r.Context(), r.PathValue("ref"), version, spec)
	respond(w, http.StatusOK, n, err)
}

func (s *Server) removeNode(w http.ResponseWriter, r *http.Request) {
	force, err := boolParam(r.URL.Query().Get("force"), "force")
	if err == nil {
		err = s.backend.RemoveNode(r.Context(), r.PathValue("ref"), force)
	}
	respond(w, http.StatusOK, struct{}{}, err)
}

func (s *Server) clusterStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.backend.ClusterStatus(r.Context())
	respond(w, http.StatusOK, st, err)
}

func (s *Server) leave(w http.ResponseWriter, r *http.Request) {
	force, err := boolParam(r.URL.Query().Get("force"), "force")
	if err == nil {
		err = s.backend.Leave(r.Context(), force)
	}
	respond(w, http.StatusOK, struct{}{}, err)
}
