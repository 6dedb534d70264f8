package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, "OK")
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	info, err := s.backend.Info(r.Context())
	respond(w, http.StatusOK, info, err)
}

func (s *Server) listNodes(w http.ResponseWriter, r *http.Request) {
	nodes, err := s.backend.ListNodes(r.Context())
	if nodes == nil {
		nodes = []*types.Node{}
	}
	respond(w, http.StatusOK, nodes, err)
}

func (s *Server) getNode(w http.ResponseWriter, r *http.Request) {
	node, err := s.backend.GetNode(r.Context(), r.PathValue("ref"))
	respond(w, http.StatusOK, node, err)
}

func (s *Server) listServices(w http.ResponseWriter, r *http.Request) {
	services, err := s.backend.ListServices(r.Context())
	if services == nil {
		services = []ServiceSummary{}
	}
	respond(w, http.StatusOK, services, err)
}

func (s *Server) getService(w http.ResponseWriter, r *http.Request) {
	svc, err := s.backend.GetService(r.Context(), r.PathValue("ref"))
	respond(w, http.StatusOK, svc, err)
}

func (s *Server) createService(w http.ResponseWriter, r *http.Request) {
	var spec types.ServiceSpec
	if err := DecodeBody(w, r, "service spec", &spec); err != nil {
		writeError(w, err)
		return
	}
	svc, err := s.backend.CreateService(r.Context(), spec)
	respond(w, http.StatusCreated, svc, err)
}

func (s *Server) updateService(w http.ResponseWriter, r *http.Request) {
	raw := r.URL.Query().Get("version")
	if raw == "" {
		writeError(w, errdefs.Newf(errdefs.ErrInvalidArgument, "missing query parameter version: read the service and send its version, so that a change made since is not overwritten"))
		return
	}
	version, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		writeError(w, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid query parameter version=%q: want the service's version, a whole number", raw))
		return
	}
	var spec types.ServiceSpec
	if err := DecodeBody(w, r, "service spec", &spec); err != nil {
		writeError(w, err)
		return
	}
	svc, err := s.backend.UpdateService(r.Context(), r.PathValue("ref"), version, spec)
	respond(w, http.StatusOK, svc, err)
}

func (s *Server) removeService(w http.ResponseWriter, r *http.Request) {
	if err := s.backend.RemoveService(r.Context(), r.PathValue("ref")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listTasks(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := TaskFilter{Service: q.Get("service"), Node: q.Get("node"), DesiredState: q.Get("desired-state")}
	switch f.DesiredState {
	case "", DesiredRunning, DesiredShutdown, DesiredAccepted:
	default:
		writeError(w, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid query parameter desired-state=%q: want running, shutdown or accepted", f.DesiredState))
		return
	}
	tasks, err := s.backend.ListTasks(r.Context(), f)
	if tasks == nil {
		tasks = []*types.Task{}
	}
	respond(w, http.StatusOK, tasks, err)
}

func (s *Server) plugins(w http.ResponseWriter, r *http.Request) {
	plugins, err := s.backend.Plugins(r.Context())
	if plugins == nil {
		plugins = []PluginStatus{}
	}
	respond(w, http.StatusOK, plugins, err)
}

func (s *Server) shutdown(w http.ResponseWriter, r *http.Request) {
	if err := s.backend.Shutdown(r.Context()); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// parseLogOptions reads the query of a logs request.
func parseLogOptions(r *http.Request) (LogOptions, error) {
	q := r.URL.Query()
	opts := LogOptions{Tail: -1}
	var err error
	if opts.Follow, err = boolParam(q.Get("follow"), "follow"); err != nil {
		return opts, err
	}
	if opts.Timestamps, err = boolParam(q.Get("timestamps"), "timestamps"); err != nil {
		return opts, err
	}
	if v := q.Get("tail"); v != "" && v != "all" {
		n, err := strconv.Atoi(v)
		if err != nil || n < -1 {
			return opts, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid query parameter tail=%q: want a number of lines, or -1 or all for every line", v)
		}
		opts.Tail = n
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return opts, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid query parameter since=%q: want an RFC 3339 time such as 2024-05-01T10:00:00Z", v)
		}
		opts.Since = t
	}
	return opts, nil
}

// boolParam parses an optional boolean query parameter.
func boolParam(v, name string) (bool, error) {
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid query parameter %s=%q: want true or false", name, v)
	}
	return b, nil
}

// serviceLogs streams log lines as newline-delimited JSON, flushing each
// line. An error before the first line is an ordinary error response; an
// error after it is a last {"error": ...} line, since the status is sent.
func (s *Server) serviceLogs(w http.ResponseWriter, r *http.Request) {
	opts, err := parseLogOptions(r)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx, cancel := StreamContext(r)
	defer cancel()
	out := newNDJSON(w)
	ref := r.PathValue("ref")
	if opts.Follow {
		// Check the service exists so that a wrong name is a 404, then
		// send the headers so that a client following a quiet service
		// knows the stream is open.
		if _, err := s.backend.GetService(ctx, ref); err != nil {
			writeError(w, err)
			return
		}
		out.open()
	}
	sink := func(line LogLine) error { return out.send(line, "log line") }
	out.end(StreamEnd(ctx, r, s.backend.ServiceLogs(ctx, ref, opts, sink)))
}

// respond writes v with status code, or err if it is not nil.
func respond(w http.ResponseWriter, code int, v any, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, code, v)
}
