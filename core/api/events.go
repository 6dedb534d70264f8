package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/events"
)

// ParseEventQuery reads the since, until and filter query parameters of
// GET /v1/events.
func ParseEventQuery(r *http.Request) (events.Query, error) {
	var q events.Query
	v := r.URL.Query()
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if s := v.Get(p.name); s != "" {
			t, err := events.ParseTime("query parameter "+p.name, s, time.Time{}, false)
			if err != nil {
				return q, err
			}
			*p.t = t
		}
	}
	f, err := events.ParseFilter(v["filter"])
	q.Filter = f
	return q, err
}

// events streams cluster events as newline-delimited JSON, one flushed
// line per event. An error before the stream opens (a bad query, events
// off, a worker) is an ordinary error response; one after it is a last
// {"error": ...} line.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	q, err := ParseEventQuery(r)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx, cancel := StreamContext(r)
	defer cancel()
	rc := http.NewResponseController(w)
	started := false
	q.Open = func() {
		started = true
		w.Header().Set("Content-Type", ContentTypeNDJSON)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		_ = rc.Flush()
	}
	enc := json.NewEncoder(w)
	sink := func(ev events.Event) error {
		if err := enc.Encode(ev); err != nil {
			return fmt.Errorf("send event: %w", err)
		}
		if err := rc.Flush(); err != nil {
			return fmt.Errorf("send event: %w", err)
		}
		return nil
	}
	gone, err := StreamEnd(ctx, r, s.backend.Events(ctx, q, sink))
	switch {
	case gone:
	case err != nil && !started:
		writeError(w, err)
	case err != nil:
		_ = enc.Encode(StreamError{Error: errdefs.Message(err), Kind: errdefs.Kind(err)})
		_ = rc.Flush()
	case !started:
		q.Open()
	}
}
