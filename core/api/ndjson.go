package api

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/hiveorch/hive/core/errdefs"
)

// ndjson answers a request with a stream of JSON values, one a line
// (ContentTypeNDJSON), flushed as each is sent: the logs and stats
// streams. The headers go out with the first value (or open); an error
// before that is an ordinary error answer, one after it a last
// StreamError line.
type ndjson struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	enc     *json.Encoder
	started bool
}

func newNDJSON(w http.ResponseWriter) *ndjson {
	return &ndjson{w: w, rc: http.NewResponseController(w), enc: json.NewEncoder(w)}
}

// open sends the headers, so that a client knows the stream is open.
func (n *ndjson) open() {
	if n.started {
		return
	}
	n.started = true
	n.w.Header().Set("Content-Type", ContentTypeNDJSON)
	n.w.Header().Set("X-Content-Type-Options", "nosniff")
	n.w.WriteHeader(http.StatusOK)
	_ = n.rc.Flush()
}

// send writes v (a what: "log line") as one line and flushes it.
func (n *ndjson) send(v any, what string) error {
	n.open()
	if err := n.enc.Encode(v); err != nil {
		return fmt.Errorf("send %s: %w", what, err)
	}
	if err := n.rc.Flush(); err != nil {
		return fmt.Errorf("send %s: %w", what, err)
	}
	return nil
}

// end finishes the answer as StreamEnd judged the call: nothing when the
// client is gone, an empty stream or the error otherwise.
func (n *ndjson) end(gone bool, err error) {
	switch {
	case gone:
	case err == nil:
		n.open()
	case !n.started:
		writeError(n.w, err)
	default:
		_ = n.enc.Encode(StreamError{Error: errdefs.Message(err), Kind: errdefs.Kind(err)})
		_ = n.rc.Flush()
	}
}
