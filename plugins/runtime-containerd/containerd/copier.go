package containerd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// Container output reaches the log files through the log copier: one
// process per plugin root (per node), which the plugin starts when a
// container needs it: the plugin's own executable again, with the same
// arguments and a clean environment naming the copier's directory in
// CopierEnv (see Main). It lives in its own session, apart from the
// plugin, so output keeps flowing while the plugin or hive is down, and it
// exits by itself once it has had nothing to copy for a while.
//
// The plugin asks it over a unix socket (root/copier/copier.sock) to copy
// a run's stdout and stderr FIFOs into the container's log file, or to
// give a run up. While it copies a run it holds an exclusive flock on
// copier.lock in the container's directory: that is how the plugin (a new
// process included) knows whether a run's output is still being copied.
// One process for all containers costs a few MB per node instead of per
// task (see bench/containerd.sh); a copier that dies stalls the output of
// every container until the plugin starts a new one (at its next start,
// its periodic reconcile or the next container start), the output waiting
// in the pipes meanwhile.

// CopierEnv is set in the environment of the log copier: a program that
// embeds the plugin and re-executes itself as the copier (a test binary)
// must call Main when it is set.
const CopierEnv = "HIVE_CONTAINERD_LOG_COPIER"

// Files.
const (
	logFile        = "container.log" // in a container's directory
	copierLockFile = "copier.lock"   // in a container's directory, and the copier's own
	copierSocket   = "copier.sock"   // in the copier's directory
)

// copierGrace is how long the plugin lets the copier drain a stopped
// container's output before it makes it give the run up.
const copierGrace = 2 * time.Second

// copierIdle is how long the copier lingers with nothing to copy.
const copierIdle = 10 * time.Second

// maxEntry is the longest line a log entry holds; a longer line is split.
const maxEntry = 16 << 10

// copyRequest is one request to the copier, as a JSON line.
type copyRequest struct {
	// Op is "copy" (start copying a run, unless it is copied already),
	// "stop" (give a run up) or "quit" (exit now if idle).
	Op       string `json:"op"`
	Dir      string `json:"dir"` // the container's directory
	Stdout   string `json:"stdout,omitempty"`
	Stderr   string `json:"stderr,omitempty"`
	MaxSize  int64  `json:"max_size,omitempty"`
	MaxFiles int    `json:"max_files,omitempty"`
}

// copierDir is the copier's directory under the plugin's root.
func (s *settings) copierDir() string { return filepath.Join(s.Root, "copier") }

// copyRun has the copier copy a run's FIFOs into dir's log file; it
// returns once the copier holds the run's lock.
func (e *engine) copyRun(ctx context.Context, dir, stdout, stderr string) error {
	return e.askCopier(ctx, copyRequest{Op: "copy", Dir: dir, Stdout: stdout, Stderr: stderr, MaxSize: e.LogMaxSize, MaxFiles: e.LogMaxFiles})
}

// stopCopier waits up to grace for the copier to finish dir's run, then
// makes it give the run up: a FIFO whose writer is gone before the copier
// opened it would keep it waiting forever.
func (e *engine) stopCopier(dir string, grace time.Duration) {
	deadline := time.Now().Add(grace)
	for copierActive(dir) {
		if time.Now().After(deadline) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = e.askCopier(ctx, copyRequest{Op: "stop", Dir: dir})
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// askCopier sends req to the copier, starting one if none answers.
func (e *engine) askCopier(ctx context.Context, req copyRequest) error {
	dir := e.copierDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("log copier: %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < 50; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("log copier: %w", ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
		err := sendCopyRequest(ctx, filepath.Join(dir, copierSocket), req)
		if err == nil {
			return nil
		}
		lastErr = err
		if req.Op == "stop" && !copierActive(dir) {
			return nil // no copier: nothing copies the run
		}
		if !copierActive(dir) {
			if err := startCopierProcess(dir); err != nil {
				lastErr = err
			}
		}
	}
	return fmt.Errorf("log copier in %s does not answer: %w", dir, lastErr)
}

func sendCopyRequest(ctx context.Context, socket string, req copyRequest) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	b, _ := json.Marshal(req)
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return err
	}
	reply, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if reply = strings.TrimSpace(reply); reply != "ok" {
		return fmt.Errorf("%s: %w", reply, errCopierRefused)
	}
	return nil
}

var errCopierRefused = errors.New("refused")

// QuitCopier ends the log copier of the plugin root directory root, if one
// runs and copies nothing (it would end by itself a few seconds later), and
// waits until it has. It is for tests and for removing the plugin from a
// host; a copier still copying a run is an error.
func QuitCopier(ctx context.Context, root string) error {
	dir := filepath.Join(root, "copier")
	if !copierActive(dir) {
		return nil
	}
	if err := sendCopyRequest(ctx, filepath.Join(dir, copierSocket), copyRequest{Op: "quit"}); err != nil {
		return fmt.Errorf("quit the log copier in %s: %w", dir, err)
	}
	for copierActive(dir) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("quit the log copier in %s: %w", dir, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// startCopierProcess starts the copier of dir and returns once it listens
// (or has exited, another copier holding the directory).
func startCopierProcess(dir string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("start the log copier: find the plugin's executable: %w", err)
	}
	ready, signalReady, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start the log copier: %w", err)
	}
	defer ready.Close()
	errLog, err := os.OpenFile(filepath.Join(dir, "copier.err"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		signalReady.Close()
		return fmt.Errorf("start the log copier: %w", err)
	}
	defer errLog.Close()
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Args[0] = "hive-log-copier" // so that ps tells it from the plugin
	cmd.Env = []string{CopierEnv + "=" + dir, "GOMAXPROCS=1", "GOGC=50"}
	cmd.Dir = "/"
	cmd.Stderr = errLog
	cmd.ExtraFiles = []*os.File{signalReady} // fd 3, closed once it listens
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	signalReady.Close()
	if err != nil {
		return fmt.Errorf("start the log copier: %w", err)
	}
	go func() { _ = cmd.Wait() }() // reap it if it ends while the plugin runs
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, ready)
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		return fmt.Errorf("start the log copier: it did not start within 10s; see %s", filepath.Join(dir, "copier.err"))
	}
}

// copierActive reports whether a process holds the copier lock of dir (a
// container's directory: its run is being copied; or the copier's own).
func copierActive(dir string) bool {
	f, err := os.OpenFile(filepath.Join(dir, copierLockFile), os.O_RDONLY, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return errors.Is(err, unix.EWOULDBLOCK)
	}
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false
}

// lockFile takes the exclusive lock of dir/copier.lock without waiting and
// writes this process's PID in it; nil when another process holds it.
func lockFile(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, copierLockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, err
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())), 0)
	return f, nil
}

// Main is the plugin process's entry point, for its main.go and for the
// hive binary's built-in registry (`hive plugin serve runtime-containerd`).
// It serves the plugin; in the log copier the plugin started (CopierEnv
// says so), it copies output instead.
func Main() {
	if dir := os.Getenv(CopierEnv); dir != "" {
		os.Exit(runCopier(dir))
	}
	runtime.Serve(New(sdk.Logger(Name)))
}

// appendEntry appends the file form of a log entry: "TIME STREAM LINE\n".
func appendEntry(b []byte, t time.Time, stream string, line []byte) []byte {
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, ' ')
	b = append(b, stream...)
	b = append(b, ' ')
	b = append(b, line...)
	return append(b, '\n')
}

// parseEntry parses one line of a log file (without its newline).
func parseEntry(b []byte) (runtime.LogEntry, bool) {
	s := string(b)
	ts, rest, ok := strings.Cut(s, " ")
	if !ok {
		return runtime.LogEntry{}, false
	}
	stream, line, ok := strings.Cut(rest, " ")
	if !ok || (stream != runtime.StreamStdout && stream != runtime.StreamStderr) {
		return runtime.LogEntry{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return runtime.LogEntry{}, false
	}
	return runtime.LogEntry{Time: t, Stream: stream, Line: []byte(line)}, true
}
