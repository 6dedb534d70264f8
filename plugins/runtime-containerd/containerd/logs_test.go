package containerd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

func TestEntryFormatRoundTrips(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.UTC)
	for _, tc := range []struct {
		stream string
		line   string
	}{
		{runtime.StreamStdout, "hello"},
		{runtime.StreamStderr, "two  spaces and a\ttab"},
		{runtime.StreamStdout, ""},
	} {
		b := appendEntry(nil, at, tc.stream, []byte(tc.line))
		if b[len(b)-1] != '\n' {
			t.Fatalf("entry %q has no newline", b)
		}
		e, ok := parseEntry(b[:len(b)-1])
		if !ok || !e.Time.Equal(at) || e.Stream != tc.stream || string(e.Line) != tc.line {
			t.Errorf("parseEntry(%q) = %+v, %v", b, e, ok)
		}
	}
	for _, bad := range []string{"", "no-time stdout x", "2026-11-23T10:00:00Z stdin x", "2026-11-23T10:00:00Z"} {
		if _, ok := parseEntry([]byte(bad)); ok {
			t.Errorf("parseEntry(%q) accepted a malformed entry", bad)
		}
	}
}

// writeLog writes n entries, one second apart from base, through a
// rotating writer.
func writeLog(t *testing.T, dir string, maxSize int64, maxFiles, n int, base time.Time) {
	t.Helper()
	w := &rotatingWriter{path: filepath.Join(dir, logFile), maxSize: maxSize, maxFiles: maxFiles}
	if err := w.open(); err != nil {
		t.Fatal(err)
	}
	defer w.close()
	for i := 1; i <= n; i++ {
		stream := runtime.StreamStdout
		if i%5 == 0 {
			stream = runtime.StreamStderr
		}
		if err := w.write(base.Add(time.Duration(i)*time.Second), stream, []byte(fmt.Sprintf("line %03d", i))); err != nil {
			t.Fatal(err)
		}
	}
}

func readAll(t *testing.T, dir string, opts runtime.LogOptions) []string {
	t.Helper()
	var out []string
	lr := &logReader{dir: dir, opts: opts, sink: func(e runtime.LogEntry) error {
		out = append(out, string(e.Line))
		return nil
	}}
	if err := lr.history(); err != nil {
		t.Fatal(err)
	}
	lr.closeCurrent()
	return out
}

func lineRange(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("line %03d", i))
	}
	return out
}

func TestRotationKeepsTheNewestFiles(t *testing.T) {
	dir := t.TempDir()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// An entry is 40 bytes; 400 bytes hold 10 of them.
	writeLog(t, dir, 400, 3, 100, base)
	files, _ := filepath.Glob(filepath.Join(dir, logFile+"*"))
	if len(files) != 3 {
		t.Fatalf("files after rotation = %v, want 3 (the current one and two rotated)", files)
	}
	for _, f := range files {
		if fi, _ := os.Stat(f); fi.Size() > 400 {
			t.Errorf("%s is %d bytes, over the 400 allowed", f, fi.Size())
		}
	}
	got := readAll(t, dir, runtime.LogOptions{Tail: -1})
	if !slices.Equal(got, lineRange(71, 100)) {
		t.Errorf("all lines after rotation = %v, want lines 71-100 in order", got)
	}
	one := t.TempDir()
	writeLog(t, one, 400, 1, 25, base)
	if got := readAll(t, one, runtime.LogOptions{Tail: -1}); !slices.Equal(got, lineRange(21, 25)) {
		t.Errorf("with one file kept: %v, want lines 21-25", got)
	}
}

func TestLogsTailAndSinceAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	writeLog(t, dir, 400, 3, 100, base)
	for _, tc := range []struct {
		name string
		opts runtime.LogOptions
		want []string
	}{
		{"tail 0", runtime.LogOptions{Tail: 0}, nil},
		{"tail 3", runtime.LogOptions{Tail: 3}, lineRange(98, 100)},
		{"tail spanning files", runtime.LogOptions{Tail: 15}, lineRange(86, 100)},
		{"tail more than there is", runtime.LogOptions{Tail: 500}, lineRange(71, 100)},
		{"since", runtime.LogOptions{Tail: -1, Since: base.Add(95 * time.Second)}, lineRange(95, 100)},
		{"since then tail", runtime.LogOptions{Tail: 2, Since: base.Add(80 * time.Second)}, lineRange(99, 100)},
		{"since in the future", runtime.LogOptions{Tail: -1, Since: base.Add(time.Hour)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := readAll(t, dir, tc.opts); !slices.Equal(got, tc.want) {
				t.Errorf("lines = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("timestamps only when asked", func(t *testing.T) {
		var times []time.Time
		for _, ts := range []bool{false, true} {
			lr := &logReader{dir: dir, opts: runtime.LogOptions{Tail: 1, Timestamps: ts}, sink: func(e runtime.LogEntry) error {
				times = append(times, e.Time)
				return nil
			}}
			if err := lr.history(); err != nil {
				t.Fatal(err)
			}
			lr.closeCurrent()
		}
		if len(times) != 2 || !times[0].IsZero() || !times[1].Equal(base.Add(100*time.Second)) {
			t.Errorf("times = %v, want zero without Timestamps and the line's time with it", times)
		}
	})
}

// TestFollowReadsAcrossRotationUntilTheRunEnds drives a follow with a fake
// "running" probe while a writer rotates the file under it.
func TestFollowReadsAcrossRotationUntilTheRunEnds(t *testing.T) {
	dir := t.TempDir()
	w := &rotatingWriter{path: filepath.Join(dir, logFile), maxSize: 200, maxFiles: 2}
	if err := w.open(); err != nil {
		t.Fatal(err)
	}
	var got []string
	lr := &logReader{dir: dir, opts: runtime.LogOptions{Follow: true, Tail: -1}, sink: func(e runtime.LogEntry) error {
		got = append(got, string(e.Line))
		return nil
	}}
	if err := lr.history(); err != nil {
		t.Fatal(err)
	}
	var running atomic.Bool
	running.Store(true)
	done := make(chan error, 1)
	go func() { done <- lr.follow(t.Context(), running.Load) }()
	// Write slower than the follow polls, so that no file is rotated away
	// unread (a follow reads the current file and the one it replaced).
	for i := 1; i <= 20; i++ {
		if err := w.write(time.Now(), runtime.StreamStdout, []byte(fmt.Sprintf("line %03d", i))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond)
	}
	w.close()
	running.Store(false)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("follow = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end after the run ended")
	}
	lr.closeCurrent()
	if !slices.Equal(got, lineRange(1, 20)) {
		t.Errorf("followed lines = %v, want lines 1-20 once each, in order", got)
	}
}

func TestFollowEndsWithItsContext(t *testing.T) {
	dir := t.TempDir()
	lr := &logReader{dir: dir, opts: runtime.LogOptions{Follow: true, Tail: -1}, sink: func(runtime.LogEntry) error { return nil }}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- lr.follow(ctx, func() bool { return true }) }()
	cancel()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "canceled") {
			t.Errorf("follow after cancel = %v, want the context's error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow still running after its context was cancelled")
	}
}

// TestCopyStreamSplitsLines feeds a FIFO as the shim would.
func TestCopyStreamSplitsLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.fifo")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	var lines []string
	done := make(chan error, 1)
	go func() {
		s := &copyStreamState{name: runtime.StreamStdout, path: path}
		done <- s.copy(func(b []byte) error {
			lines = append(lines, string(b))
			return nil
		})
	}()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", maxEntry+10)
	fmt.Fprintf(f, "one\ntwo\n\n%s\nno newline at the end", long)
	f.Close()
	if err := <-done; err != nil {
		t.Fatalf("copyStream = %v", err)
	}
	want := []string{"one", "two", "", long[:maxEntry], long[maxEntry:], "no newline at the end"}
	if !slices.Equal(lines, want) {
		t.Errorf("lines = %q\nwant %q", lines, want)
	}
}
