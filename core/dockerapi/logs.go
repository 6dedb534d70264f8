package dockerapi

import (
	"encoding/binary"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	mobytypes "github.com/moby/moby/api/types"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/errdefs"
)

// rfc3339NanoFixed is RFC 3339 with the nanoseconds padded, as dockerd
// writes log timestamps.
const rfc3339NanoFixed = "2006-01-02T15:04:05.000000000Z07:00"

// logRequest is a logs request's query, as dockerd reads it.
type logRequest struct {
	opts           api.LogOptions
	stdout, stderr bool
	details        bool
}

// parseLogRequest reads stdout, stderr, follow, since (a Unix time,
// seconds with optional fraction, as the client sends it), timestamps,
// tail and details.
func parseLogRequest(r *http.Request) (logRequest, error) {
	q := r.URL.Query()
	lr := logRequest{stdout: queryBool(r, "stdout"), stderr: queryBool(r, "stderr"), details: queryBool(r, "details")}
	if !lr.stdout && !lr.stderr {
		return lr, errdefs.Newf(errdefs.ErrInvalidArgument, "must specify at least one of 'stdout' or 'stderr'")
	}
	lr.opts = api.LogOptions{Follow: queryBool(r, "follow"), Timestamps: queryBool(r, "timestamps"), Tail: -1}
	if v := q.Get("since"); v != "" {
		t, err := parseUnixTimestamp(v)
		if err != nil {
			return lr, errdefs.Newf(errdefs.ErrInvalidArgument, `invalid value for "since": %v`, err)
		}
		lr.opts.Since = t
	}
	if v := q.Get("tail"); v != "" && v != "all" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return lr, errdefs.Newf(errdefs.ErrInvalidArgument, `tail value must be a positive integer or "all"`)
		}
		lr.opts.Tail = n
	}
	return lr, nil
}

// parseUnixTimestamp reads "SECONDS[.NANOSECONDS]".
func parseUnixTimestamp(v string) (time.Time, error) {
	secs, frac, _ := strings.Cut(v, ".")
	s, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("want a Unix time such as 1700000000.000000000, got %q", v)
	}
	var ns int64
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		if ns, err = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64); err != nil {
			return time.Time{}, fmt.Errorf("want a Unix time such as 1700000000.000000000, got %q", v)
		}
	}
	return time.Unix(s, ns), nil
}

// frameWriter writes Docker's multiplexed stream: each frame an 8-byte
// header (the stream, 3 zero bytes, the payload's length as a big-endian
// uint32) then the payload, flushed at once.
type frameWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (f frameWriter) frame(stream stdcopy.StdType, payload []byte) error {
	var hdr [8]byte
	hdr[0] = byte(stream)
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(payload)))
	if _, err := f.w.Write(append(hdr[:], payload...)); err != nil {
		return fmt.Errorf("send log line: %w", err)
	}
	if err := f.rc.Flush(); err != nil {
		return fmt.Errorf("send log line: %w", err)
	}
	return nil
}

// streamLogs answers a logs request for serviceID's tasks (only taskID's
// when it is set) as dockerd does: a multiplexed stream, each line
// prefixed with its time (timestamps) and its context (details). An error
// before the first line is an ordinary error response; one after it is a
// Systemerr frame, which a client's stdcopy returns as an error.
func (s *Server) streamLogs(w http.ResponseWriter, r *http.Request, lr logRequest, serviceID, taskID string) {
	ctx, cancel := api.StreamContext(r)
	defer cancel()
	fw := frameWriter{w: w, rc: http.NewResponseController(w)}
	started := false
	start := func() {
		started = true
		ct := mobytypes.MediaTypeRawStream
		if compareVersions(requestVersion(r), "1.42") >= 0 {
			ct = mobytypes.MediaTypeMultiplexedStream
		}
		w.Header().Set("Content-Type", string(ct))
		w.WriteHeader(http.StatusOK)
		_ = fw.rc.Flush()
	}
	if lr.opts.Follow {
		start() // a client following a quiet service knows the stream is open
	}
	sink := func(l api.LogLine) error {
		if taskID != "" && l.TaskID != taskID {
			return nil
		}
		stream := stdcopy.Stdout
		switch l.Stream {
		case "stdout":
			if !lr.stdout {
				return nil
			}
		case "stderr":
			if !lr.stderr {
				return nil
			}
			stream = stdcopy.Stderr
		default:
			return nil
		}
		var b strings.Builder
		if lr.opts.Timestamps {
			b.WriteString(l.Time.Format(rfc3339NanoFixed) + " ")
		}
		if lr.details {
			// dockerd's context attributes, sorted by key and
			// query-escaped; the docker CLI reads them to name tasks.
			fmt.Fprintf(&b, "com.docker.swarm.node.id=%s,com.docker.swarm.service.id=%s,com.docker.swarm.task.id=%s ",
				url.QueryEscape(l.NodeID), url.QueryEscape(serviceID), url.QueryEscape(l.TaskID))
		}
		b.WriteString(l.Line + "\n")
		if !started {
			start()
		}
		return fw.frame(stream, []byte(b.String()))
	}
	gone, err := api.StreamEnd(ctx, r, s.backend.ServiceLogs(ctx, serviceID, lr.opts, sink))
	if gone {
		return
	}
	switch {
	case err == nil && !started:
		start()
	case err != nil && !started:
		writeError(w, err)
	case err != nil:
		_ = fw.frame(stdcopy.Systemerr, []byte("Error grabbing logs: "+errdefs.Message(err)+"\n"))
	}
}

// serviceLogs answers GET /services/{id}/logs.
func (s *Server) serviceLogs(w http.ResponseWriter, r *http.Request) {
	lr, err := parseLogRequest(r)
	if err != nil {
		writeError(w, err)
		return
	}
	svc, err := s.backend.GetService(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	s.streamLogs(w, r, lr, svc.ID, "")
}

// taskLogs answers GET /tasks/{id}/logs: the lines of the task's service
// that the task wrote.
func (s *Server) taskLogs(w http.ResponseWriter, r *http.Request) {
	lr, err := parseLogRequest(r)
	if err != nil {
		writeError(w, err)
		return
	}
	t, err := s.findTask(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	s.streamLogs(w, r, lr, t.ServiceID, t.ID)
}
