package dockerapi

import (
	"net/http"
	"slices"

	"github.com/moby/moby/api/types/swarm"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

// nodeRoutes registers the node endpoints and /swarm.
func (s *Server) nodeRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /nodes", s.listNodes)
	mux.HandleFunc("GET /nodes/{id}", s.inspectNode)
	mux.HandleFunc("POST /nodes/{id}/update", s.updateNode)
	mux.HandleFunc("DELETE /nodes/{id}", s.removeNode)
	s.swarmRoutes(mux)
}

// listNodes answers GET /nodes with dockerd's filters: id and name
// (hostname) prefixes, label and node.label (the node's labels: hive has
// no engine labels apart from them), role, and membership (every hive
// node is accepted).
func (s *Server) listNodes(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilters(r, "id", "name", "label", "node.label", "role", "membership")
	if err != nil {
		writeError(w, err)
		return
	}
	for _, role := range f["role"] {
		if role != string(swarm.NodeRoleManager) && role != string(swarm.NodeRoleWorker) && role != "" {
			writeError(w, errdefs.Newf(errdefs.ErrInvalidArgument, "Invalid role filter: '%s'", role))
			return
		}
	}
	for _, m := range f["membership"] {
		if m != "accepted" && m != "pending" && m != "" {
			writeError(w, errdefs.Newf(errdefs.ErrInvalidArgument, "Invalid membership filter: '%s'", m))
			return
		}
	}
	nodes, err := s.backend.ListNodes(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	out := []swarm.Node{}
	for _, n := range nodes {
		if nodeMatches(n, f) {
			out = append(out, nodeToDocker(n))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// nodeMatches reports whether n passes every filter term; a term passes
// when one of its values matches.
func nodeMatches(n *types.Node, f map[string][]string) bool {
	if v := f["id"]; len(v) > 0 && !matchPrefix(n.ID, v) {
		return false
	}
	if v := f["name"]; len(v) > 0 && !matchPrefix(n.Description.Hostname, v) {
		return false
	}
	if v := f["role"]; len(v) > 0 && !slices.Contains(v, string(n.Spec.Role)) {
		return false
	}
	if v := f["membership"]; len(v) > 0 && !slices.Contains(v, "accepted") {
		return false
	}
	return matchLabels(n.Spec.Labels, f["label"]) && matchLabels(n.Spec.Labels, f["node.label"])
}

// inspectNode answers GET /nodes/{id}: an ID, a unique ID prefix, a
// hostname, or "self".
func (s *Server) inspectNode(w http.ResponseWriter, r *http.Request) {
	n, err := s.backend.GetNode(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, nodeToDocker(n))
}

// updateNode answers POST /nodes/{id}/update?version=N with a
// swarm.NodeSpec body: the role, availability and labels. A stale version
// is the backend's version conflict (409).
func (s *Server) updateNode(w http.ResponseWriter, r *http.Request) {
	var spec swarm.NodeSpec
	version, err := readUpdate(w, r, "node", &spec)
	if err != nil {
		writeError(w, err)
		return
	}
	hs, err := nodeSpecFromDocker(spec)
	if err != nil {
		writeError(w, err)
		return
	}
	if _, err := s.backend.UpdateNode(r.Context(), r.PathValue("id"), version, hs); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// removeNode answers DELETE /nodes/{id}?force=bool.
func (s *Server) removeNode(w http.ResponseWriter, r *http.Request) {
	if err := s.backend.RemoveNode(r.Context(), r.PathValue("id"), queryBool(r, "force")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}
