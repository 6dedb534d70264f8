package api

import "net/http"

// rollbackService puts a service back on its previous spec; the answer is
// the service as it is then, its update status saying rollback_started.
func (s *Server) rollbackService(w http.ResponseWriter, r *http.Request) {
	svc, err := s.backend.RollbackService(r.Context(), r.PathValue("ref"))
	respond(w, http.StatusOK, svc, err)
}
