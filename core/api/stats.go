package api

import "net/http"

// stats answers GET /v1/stats?service=NAME&...&stream=true|false: NDJSON
// StatsFrame lines, one per refresh (one only without stream).
func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	stream, err := boolParam(q.Get("stream"), "stream")
	if err != nil {
		writeError(w, err)
		return
	}
	opts := StatsOptions{Services: q["service"], Stream: stream}
	ctx, cancel := StreamContext(r)
	defer cancel()
	out := newNDJSON(w)
	sink := func(f StatsFrame) error { return out.send(f, "stats") }
	out.end(StreamEnd(ctx, r, s.backend.Stats(ctx, opts, sink)))
}
