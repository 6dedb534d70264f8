package containerd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	tasktypes "github.com/containerd/containerd/api/types/task"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// logPoll is how often a follow looks for new output.
const logPoll = 100 * time.Millisecond

// Logs sends the container's output to sink line by line, oldest first,
// from the log files its copier writes: the rotated ones, then the
// current one. With opts.Follow it then keeps reading new lines until the
// container is not running and its copier has written everything, or ctx
// is done (then the error wraps ctx.Err()). An error from sink stops the
// call and is returned as is.
func (r *Runtime) Logs(ctx context.Context, id string, opts runtime.LogOptions, sink func(runtime.LogEntry) error) error {
	eng, err := r.engine()
	if err != nil {
		return err
	}
	rec, err := eng.resolve(ctx, id)
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	lr := &logReader{dir: eng.containerDir(rec.ID), opts: opts, sink: sink}
	if err := lr.history(); err != nil {
		return err
	}
	if !opts.Follow {
		lr.closeCurrent()
		return nil
	}
	defer lr.closeCurrent()
	running := func() bool {
		p, err := eng.process(ctx, rec.ID)
		if err != nil {
			// Removed, or containerd unreachable: nothing more will come
			// that this call could wait for.
			return !errors.Is(err, sdk.ErrNotFound) && ctx.Err() == nil && !errors.Is(err, sdk.ErrUnavailable)
		}
		return p != nil && (p.Status == tasktypes.Status_RUNNING || p.Status == tasktypes.Status_PAUSED ||
			p.Status == tasktypes.Status_PAUSING)
	}
	return lr.follow(ctx, running)
}

// logReader reads one container's log files.
type logReader struct {
	dir  string
	opts runtime.LogOptions
	sink func(runtime.LogEntry) error

	cur     *os.File // the current file, once opened
	curInfo os.FileInfo
	br      *bufio.Reader
	partial []byte // the start of a line whose end is not written yet
}

// rotatedFiles returns the container's rotated log files, oldest first.
func rotatedFiles(dir string) []string {
	matches, _ := filepath.Glob(filepath.Join(dir, logFile+".*"))
	type file struct {
		path string
		n    int
	}
	var files []file
	for _, m := range matches {
		if n, err := strconv.Atoi(strings.TrimPrefix(filepath.Ext(m), ".")); err == nil {
			files = append(files, file{m, n})
		}
	}
	slices.SortFunc(files, func(a, b file) int { return b.n - a.n })
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.path
	}
	return out
}

// history sends what is already written, honouring Since and Tail.
func (lr *logReader) history() error {
	tail := lr.opts.Tail
	ring := make([]runtime.LogEntry, 0, max(min(tail, 1024), 0))
	next := 0 // where the next entry goes once ring is full
	take := func(e runtime.LogEntry) error {
		if !lr.opts.Since.IsZero() && e.Time.Before(lr.opts.Since) {
			return nil
		}
		if tail < 0 {
			return lr.send(e)
		}
		if tail == 0 {
			return nil
		}
		if len(ring) < tail {
			ring = append(ring, e)
			return nil
		}
		ring[next] = e
		next = (next + 1) % tail
		return nil
	}
	for _, path := range rotatedFiles(lr.dir) {
		if err := readFile(path, take); err != nil {
			return err
		}
	}
	if err := lr.openCurrent(); err != nil {
		return err
	}
	if lr.cur != nil {
		if err := lr.readCurrent(take); err != nil {
			return err
		}
	}
	for _, e := range slices.Concat(ring[next:], ring[:next]) {
		if err := lr.send(e); err != nil {
			return err
		}
	}
	return nil
}

// send hands an entry to the sink, without its time unless asked for.
func (lr *logReader) send(e runtime.LogEntry) error {
	if !lr.opts.Timestamps {
		e.Time = time.Time{}
	}
	return lr.sink(e)
}

// readFile reads a whole (rotated, so complete) log file.
func readFile(path string, take func(runtime.LogEntry) error) error {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // rotated away meanwhile
		}
		return fmt.Errorf("read log file: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			if e, ok := parseEntry(line[:len(line)-1]); ok {
				if serr := take(e); serr != nil {
					return serr
				}
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read log file: %w", err)
		}
	}
}

// openCurrent opens the current log file if it exists and is not open.
func (lr *logReader) openCurrent() error {
	if lr.cur != nil {
		return nil
	}
	f, err := os.Open(filepath.Join(lr.dir, logFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("read log file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("read log file: %w", err)
	}
	lr.cur, lr.curInfo, lr.br, lr.partial = f, fi, bufio.NewReaderSize(f, 64<<10), nil
	return nil
}

func (lr *logReader) closeCurrent() {
	if lr.cur != nil {
		lr.cur.Close()
		lr.cur = nil
	}
}

// readCurrent reads the complete lines written to the current file since
// the last read; a line being written is kept for the next read.
func (lr *logReader) readCurrent(take func(runtime.LogEntry) error) error {
	for {
		chunk, err := lr.br.ReadBytes('\n')
		lr.partial = append(lr.partial, chunk...)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read log file: %w", err)
		}
		line := lr.partial[:len(lr.partial)-1]
		e, ok := parseEntry(line)
		lr.partial = lr.partial[:0]
		if ok {
			if serr := take(e); serr != nil {
				return serr
			}
		}
	}
}

// follow sends new lines as they are written until running reports the
// container stopped and its copier is done, or ctx ends.
func (lr *logReader) follow(ctx context.Context, running func() bool) error {
	take := func(e runtime.LogEntry) error {
		if !lr.opts.Since.IsZero() && e.Time.Before(lr.opts.Since) {
			return nil
		}
		return lr.send(e)
	}
	tick := time.NewTicker(logPoll)
	defer tick.Stop()
	var stoppedAt time.Time
	for n := 0; ; n++ {
		// Whether the run is over is decided before reading, so that the
		// last read after it sees everything the copier wrote.
		over := false
		if n%3 == 0 || !stoppedAt.IsZero() {
			if !running() {
				if stoppedAt.IsZero() {
					stoppedAt = time.Now()
				}
				over = !copierActive(lr.dir) || time.Since(stoppedAt) > copierGrace+time.Second
			}
		}
		if err := lr.catchUp(take); err != nil {
			return err
		}
		if over {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("follow logs: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// catchUp reads what was written since the last read, moving to the new
// current file after a rotation.
func (lr *logReader) catchUp(take func(runtime.LogEntry) error) error {
	if lr.cur == nil {
		if err := lr.openCurrent(); err != nil || lr.cur == nil {
			return err
		}
	}
	if err := lr.readCurrent(take); err != nil {
		return err
	}
	fi, err := os.Stat(filepath.Join(lr.dir, logFile))
	if err != nil || os.SameFile(fi, lr.curInfo) {
		return nil
	}
	// Rotated: the old file is complete; finish it, then read the new.
	if err := lr.readCurrent(take); err != nil {
		return err
	}
	lr.closeCurrent()
	if err := lr.openCurrent(); err != nil || lr.cur == nil {
		return err
	}
	return lr.readCurrent(take)
}
