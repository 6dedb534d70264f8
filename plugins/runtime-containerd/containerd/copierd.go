package containerd

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// This file is the log copier process (see copier.go for what it is and
// how the plugin talks to it).

// copierd is the copier's state: the runs it copies, by container
// directory.
type copierd struct {
	mu       sync.Mutex
	jobs     map[string]*copyJob
	lastBusy time.Time
	ln       *net.UnixListener
	quitting bool
}

// copyJob copies one run's two streams into its container's log file.
type copyJob struct {
	lock    *os.File // the container's copier.lock, held while copying
	ino     uint64   // the stdout FIFO's inode: which run of the container
	writer  *rotatingWriter
	wmu     sync.Mutex
	streams []*copyStreamState
	done    chan struct{}
}

// copyStreamState is one FIFO of a run.
type copyStreamState struct {
	name, path string
	mu         sync.Mutex
	f          *os.File // once opened
	aborted    bool
	ended      bool
}

// runCopier is the copier process's main; it returns the exit code.
func runCopier(dir string) int {
	signal.Reset(syscall.SIGTERM, syscall.SIGINT)
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%s log copier: %s\n", time.Now().UTC().Format(time.RFC3339), fmt.Sprintf(format, args...))
	}
	ready := os.NewFile(3, "ready")
	defer func() {
		if ready != nil {
			ready.Close() // the plugin stops waiting, whatever happened
		}
	}()
	lock, err := lockFile(dir)
	if err != nil {
		logf("%v", err)
		return 1
	}
	if lock == nil {
		return 0 // another copier serves this directory
	}
	defer lock.Close()
	sock := filepath.Join(dir, copierSocket)
	_ = os.Remove(sock)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		logf("listen: %v", err)
		return 1
	}
	defer os.Remove(sock)
	defer ln.Close()
	ready.Close()
	ready = nil

	d := &copierd{jobs: map[string]*copyJob{}, lastBusy: time.Now(), ln: ln}
	for {
		_ = ln.SetDeadline(time.Now().Add(time.Second))
		conn, err := ln.Accept()
		if err != nil {
			d.mu.Lock()
			quitting := d.quitting
			d.mu.Unlock()
			if quitting {
				return 0
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if d.idleFor() > copierIdle {
					return 0 // closing the listener first: a late request starts a new copier
				}
				continue
			}
			logf("accept: %v", err)
			return 1
		}
		go d.serve(conn, logf)
	}
}

// idleFor is how long the copier has had no run to copy.
func (d *copierd) idleFor() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.jobs) > 0 {
		return 0
	}
	return time.Since(d.lastBusy)
}

// serve answers one request: "ok", or "error: WHY".
func (d *copierd) serve(conn net.Conn, logf func(string, ...any)) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(conn).ReadBytes('\n')
	if err != nil {
		return
	}
	var req copyRequest
	reply := "ok"
	if err := json.Unmarshal(line, &req); err != nil || (req.Dir == "" && req.Op != "quit") {
		reply = "error: bad request"
	} else if err := d.handle(req); err != nil {
		reply = "error: " + err.Error()
		logf("%s %s: %v", req.Op, req.Dir, err)
	}
	_, _ = io.WriteString(conn, reply+"\n")
}

func (d *copierd) handle(req copyRequest) error {
	switch req.Op {
	case "copy":
		return d.start(req)
	case "quit":
		// Exit now if idle (tests use it to leave nothing behind).
		d.mu.Lock()
		defer d.mu.Unlock()
		if len(d.jobs) > 0 {
			return errors.New("busy")
		}
		d.quitting = true
		_ = d.ln.Close()
		return nil
	case "stop":
		d.mu.Lock()
		job := d.jobs[req.Dir]
		d.mu.Unlock()
		if job != nil {
			job.abort()
			select {
			case <-job.done:
			case <-time.After(5 * time.Second):
				return errors.New("the run's streams did not close")
			}
		}
		return nil
	}
	return fmt.Errorf("unknown op %q", req.Op)
}

// start begins copying a run, unless it is copied already. A job of the
// container's previous run (its FIFOs were made anew for this one) that
// has not ended yet is made to end first.
func (d *copierd) start(req copyRequest) error {
	ino := fifoIno(req.Stdout)
	d.mu.Lock()
	if old := d.jobs[req.Dir]; old != nil {
		if old.ino == ino {
			d.mu.Unlock()
			return nil // this run is being copied
		}
		d.mu.Unlock()
		old.abort()
		select {
		case <-old.done:
		case <-time.After(5 * time.Second):
			return errors.New("the container's previous run is still being copied")
		}
		d.mu.Lock()
	}
	defer d.mu.Unlock()
	if d.jobs[req.Dir] != nil {
		return errors.New("another request started copying the container meanwhile")
	}
	lock, err := lockFile(req.Dir)
	if err != nil {
		return err
	}
	if lock == nil {
		return nil // another process copies it
	}
	w := &rotatingWriter{path: filepath.Join(req.Dir, logFile), maxSize: max(req.MaxSize, 4096), maxFiles: max(req.MaxFiles, 1)}
	if err := w.open(); err != nil {
		lock.Close()
		return err
	}
	job := &copyJob{lock: lock, writer: w, ino: ino, done: make(chan struct{})}
	for _, s := range []struct{ name, path string }{{runtime.StreamStdout, req.Stdout}, {runtime.StreamStderr, req.Stderr}} {
		if s.path != "" {
			job.streams = append(job.streams, &copyStreamState{name: s.name, path: s.path})
		}
	}
	d.jobs[req.Dir] = job
	go func() {
		job.run()
		// Forgotten before its lock is released: once the lock is free, a
		// request for the container's next run starts a new job.
		d.mu.Lock()
		delete(d.jobs, req.Dir)
		d.lastBusy = time.Now()
		d.mu.Unlock()
		job.lock.Close()
		close(job.done)
	}()
	return nil
}

// fifoIno identifies a FIFO file (0 when it cannot be read).
func fifoIno(path string) uint64 {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return 0
	}
	return st.Ino
}

// run copies the streams until both end.
func (j *copyJob) run() {
	var wg sync.WaitGroup
	for _, s := range j.streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.copy(func(line []byte) error {
				j.wmu.Lock()
				defer j.wmu.Unlock()
				return j.writer.write(time.Now(), s.name, line)
			})
		}()
	}
	wg.Wait()
	j.writer.close()
}

// abort makes the streams end now: an open one is closed; one still
// waiting for its writer gets a writer that closes at once (until its
// open returns: the open may not have begun yet).
func (j *copyJob) abort() {
	for _, s := range j.streams {
		go func() {
			for range 500 {
				s.mu.Lock()
				s.aborted = true
				f, ended := s.f, s.ended
				s.mu.Unlock()
				if ended {
					return
				}
				if f != nil {
					f.Close()
					return
				}
				if w, err := os.OpenFile(s.path, os.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
					w.Close()
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
}

// copy opens the FIFO (waiting for the shim to open its end) and hands
// each line to emit until the stream ends or is aborted; a last line
// without a newline is sent too, lines longer than maxEntry in pieces.
func (s *copyStreamState) copy(emit func([]byte) error) error {
	defer func() {
		s.mu.Lock()
		s.ended = true
		s.mu.Unlock()
	}()
	f, err := os.OpenFile(s.path, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.aborted {
		s.mu.Unlock()
		f.Close()
		return nil
	}
	s.f = f
	s.mu.Unlock()
	defer f.Close()
	return copyLines(f, emit)
}

// copyLines splits r into lines for emit (see copyStreamState.copy).
func copyLines(r io.Reader, emit func([]byte) error) error {
	br := bufio.NewReaderSize(r, maxEntry)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if line[len(line)-1] == '\n' {
				line = line[:len(line)-1]
			}
			if eerr := emit(line); eerr != nil {
				return eerr
			}
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF), errors.Is(err, os.ErrClosed):
			return nil
		default:
			return err
		}
	}
}

// rotatingWriter writes log entries to path, moving it to path.1 (and
// path.1 to path.2, …, keeping maxFiles files in all) when it would grow
// past maxSize.
type rotatingWriter struct {
	path     string
	maxSize  int64
	maxFiles int
	f        *os.File
	size     int64
	buf      []byte
}

func (w *rotatingWriter) open() error {
	f, err := os.OpenFile(w.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	w.f, w.size = f, fi.Size()
	return nil
}

func (w *rotatingWriter) close() {
	if w.f != nil {
		_ = w.f.Close()
		w.f = nil
	}
}

// write appends one entry, rotating first if it would not fit.
func (w *rotatingWriter) write(t time.Time, stream string, line []byte) error {
	w.buf = appendEntry(w.buf[:0], t, stream, line)
	if w.size > 0 && w.size+int64(len(w.buf)) > w.maxSize {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(w.buf)
	w.size += int64(n)
	return err
}

func (w *rotatingWriter) rotate() error {
	w.close()
	for i := w.maxFiles - 1; i >= 1; i-- {
		from := w.path
		if i > 1 {
			from = w.path + "." + strconv.Itoa(i-1)
		}
		if err := os.Rename(from, w.path+"."+strconv.Itoa(i)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if w.maxFiles == 1 {
		if err := os.Truncate(w.path, 0); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return w.open()
}
