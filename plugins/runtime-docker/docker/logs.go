package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// Logs sends the container's output to sink line by line, oldest first,
// until the output ends; with opts.Follow, until the container exits or
// ctx is done (then the error wraps ctx.Err()). An error from sink stops
// the call and is returned as is. A last line without a newline is still
// sent.
func (r *Runtime) Logs(ctx context.Context, id string, opts runtime.LogOptions, sink func(runtime.LogEntry) error) error {
	eng, err := r.engine()
	if err != nil {
		return err
	}
	logOpts := client.ContainerLogsOptions{
		ShowStdout: true,
		ShowStderr: true,
		Follow:     opts.Follow,
		Timestamps: opts.Timestamps,
		Tail:       "all",
	}
	if opts.Tail >= 0 {
		logOpts.Tail = strconv.Itoa(opts.Tail)
	}
	if !opts.Since.IsZero() {
		logOpts.Since = fmt.Sprintf("%d.%09d", opts.Since.Unix(), opts.Since.Nanosecond())
	}
	rc, err := eng.cli.ContainerLogs(ctx, id, logOpts)
	if err != nil {
		return wrapErr(err, "logs of container %s", id)
	}
	defer rc.Close()

	sinkErr, readErr := demuxLines(rc, opts.Timestamps, sink)
	switch {
	case sinkErr != nil:
		return sinkErr
	case readErr != nil && ctx.Err() != nil:
		return fmt.Errorf("logs of container %s: %w", id, ctx.Err())
	case readErr != nil:
		return streamErr(readErr, "logs of container %s", id)
	}
	return nil
}

// demuxLines splits the engine's multiplexed stdout/stderr stream into
// lines and hands each to sink, until src ends (then it sends a last line
// without a newline too) or fails. It returns the first error from sink,
// or else the error reading src.
func demuxLines(src io.Reader, timestamps bool, sink func(runtime.LogEntry) error) (sinkErr, readErr error) {
	stdout := &lineWriter{stream: runtime.StreamStdout, timestamps: timestamps, sink: sink}
	stderr := &lineWriter{stream: runtime.StreamStderr, timestamps: timestamps, sink: sink}
	_, readErr = stdcopy.StdCopy(stdout, stderr, src)
	for _, w := range []*lineWriter{stdout, stderr} {
		if w.err != nil {
			return w.err, nil
		}
	}
	if readErr != nil {
		return nil, readErr
	}
	for _, w := range []*lineWriter{stdout, stderr} {
		if err := w.flush(); err != nil {
			return err, nil
		}
	}
	return nil, nil
}

// lineWriter splits one demultiplexed stream into lines and hands each to
// sink. It keeps the first error sink returns and fails every later write,
// which stops stdcopy.StdCopy.
type lineWriter struct {
	stream     string
	timestamps bool
	sink       func(runtime.LogEntry) error
	buf        []byte
	err        error
}

// errSinkFailed stops stdcopy.StdCopy once sink has failed; Logs returns
// the sink's own error instead.
var errSinkFailed = errors.New("log sink failed")

func (w *lineWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, errSinkFailed
	}
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := w.buf[:i]
		w.buf = w.buf[i+1:]
		if err := w.emit(line); err != nil {
			return 0, errSinkFailed
		}
	}
	if len(w.buf) == 0 {
		w.buf = nil // let a long line's buffer go
	}
	return len(p), nil
}

// flush sends a last line that had no newline.
func (w *lineWriter) flush() error {
	if w.err != nil || len(w.buf) == 0 {
		return w.err
	}
	line := w.buf
	w.buf = nil
	return w.emit(line)
}

func (w *lineWriter) emit(line []byte) error {
	entry := runtime.LogEntry{Stream: w.stream}
	if w.timestamps {
		entry.Time, line = splitTimestamp(line)
	}
	entry.Line = bytes.Clone(line)
	if err := w.sink(entry); err != nil {
		w.err = err
		return err
	}
	return nil
}

// splitTimestamp splits the engine's "RFC3339Nano " prefix off a line. A
// line without one comes back whole, with the zero time.
func splitTimestamp(line []byte) (time.Time, []byte) {
	i := bytes.IndexByte(line, ' ')
	if i < 0 {
		i = len(line)
	}
	t, err := time.Parse(time.RFC3339Nano, string(line[:i]))
	if err != nil {
		return time.Time{}, line
	}
	if i < len(line) {
		i++
	}
	return t, line[i:]
}
