package docker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

func TestLogs(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	id := run(t, r, spec(t, "print", "5"))
	waitForOutput(t, r, id, "err line")
	ctx := t.Context()

	// The engine keeps each stream's order, not the order between them.
	all := lines(collectLogs(t, r, id, runtime.LogOptions{Tail: -1}))
	t.Run("all", func(t *testing.T) {
		want := []string{"stderr: err line", "stdout: line 1", "stdout: line 2", "stdout: line 3", "stdout: line 4", "stdout: line 5"}
		if got := sortedByStream(all); !slices.Equal(got, want) {
			t.Fatalf("logs = %q, want %q", all, want)
		}
	})
	t.Run("tail", func(t *testing.T) {
		if got := lines(collectLogs(t, r, id, runtime.LogOptions{Tail: 2})); !slices.Equal(got, all[4:]) {
			t.Fatalf("tail 2 = %q, want the last two of %q", got, all)
		}
		if got := collectLogs(t, r, id, runtime.LogOptions{Tail: 0}); len(got) != 0 {
			t.Fatalf("tail 0 = %q, want nothing", lines(got))
		}
	})

	var stamped []runtime.LogEntry
	t.Run("timestamps", func(t *testing.T) {
		stamped = collectLogs(t, r, id, runtime.LogOptions{Tail: -1, Timestamps: true})
		if got := lines(stamped); !slices.Equal(got, all) {
			t.Fatalf("logs with timestamps = %q, want %q (the timestamp split off)", got, all)
		}
		for _, e := range stamped {
			if e.Time.IsZero() || time.Since(e.Time) > time.Minute || time.Until(e.Time) > time.Minute {
				t.Fatalf("entry %q has time %v", e.Line, e.Time)
			}
		}
		if plain := collectLogs(t, r, id, runtime.LogOptions{Tail: -1}); !plain[0].Time.IsZero() {
			t.Fatalf("without Timestamps the time is %v", plain[0].Time)
		}
	})
	t.Run("since", func(t *testing.T) {
		if len(stamped) == 0 {
			t.Skip("needs the timestamps subtest")
		}
		last := stamped[len(stamped)-1].Time
		got := lines(collectLogs(t, r, id, runtime.LogOptions{Tail: -1, Since: last}))
		if len(got) == 0 || len(got) == len(all) || got[len(got)-1] != all[len(all)-1] {
			t.Fatalf("since the last line's time = %q; want the last line(s) only", got)
		}
		if got := collectLogs(t, r, id, runtime.LogOptions{Tail: -1, Since: last.Add(time.Second)}); len(got) != 0 {
			t.Fatalf("since after the last line = %q, want nothing", lines(got))
		}
	})

	t.Run("sink error stops", func(t *testing.T) {
		stop := errors.New("enough")
		calls := 0
		err := r.Logs(ctx, id, runtime.LogOptions{Tail: -1}, func(runtime.LogEntry) error {
			calls++
			return stop
		})
		if !errors.Is(err, stop) || calls != 1 {
			t.Fatalf("logs with a failing sink = %v after %d calls; want the sink's error after 1", err, calls)
		}
	})
}

func TestLogsFollowEndsWhenTheContainerExits(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	id := run(t, r, spec(t, "print", "3"))
	waitForOutput(t, r, id, "err line")

	type result struct {
		entries []runtime.LogEntry
		err     error
	}
	done := make(chan result, 1)
	go func() {
		var res result
		res.err = r.Logs(t.Context(), id, runtime.LogOptions{Follow: true, Tail: -1}, func(e runtime.LogEntry) error {
			res.entries = append(res.entries, e)
			return nil
		})
		done <- res
	}()
	if err := r.Stop(t.Context(), id, runtime.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-done:
		if res.err != nil {
			t.Fatal(res.err)
		}
		want := []string{"stderr: err line", "stdout: line 1", "stdout: line 2", "stdout: line 3", "stdout: stopping"}
		if got := sortedByStream(lines(res.entries)); !slices.Equal(got, want) {
			t.Fatalf("followed logs = %q, want %q", got, want)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("following logs did not end when the container exited")
	}
}

func TestLogsFollowEndsWithTheContext(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	id := run(t, r, spec(t, "print", "1"))
	waitForOutput(t, r, id, "line 1")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := make(chan string, 10)
	done := make(chan error, 1)
	go func() {
		done <- r.Logs(ctx, id, runtime.LogOptions{Follow: true, Tail: -1}, func(e runtime.LogEntry) error {
			got <- string(e.Line)
			return nil
		})
	}()
	for line := range got {
		if line == "line 1" {
			break
		}
	}
	cancel()
	select {
	case err := <-done:
		if err == nil || ctx.Err() == nil || !errors.Is(err, ctx.Err()) {
			t.Fatalf("logs after cancel = %v; want the context's error", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("following logs did not end with its context")
	}
}

func TestLogsDeliverALastLineWithoutNewline(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("first\nno newline"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := spec(t, "cat", "/in/f")
	s.Mounts = []runtime.Mount{{Type: runtime.MountBind, Source: dir, Target: "/in", ReadOnly: true}}
	id := run(t, r, s)
	waitForOutput(t, r, id, "first")
	// The engine holds a partial line until the stream ends; a kill (no
	// "stopping" line) ends it.
	if err := r.Kill(t.Context(), id, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Wait(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	want := []string{"stdout: first", "stdout: no newline"}
	if got := lines(collectLogs(t, r, id, runtime.LogOptions{Tail: -1})); !slices.Equal(got, want) {
		t.Fatalf("logs = %q, want %q", got, want)
	}
	stamped := collectLogs(t, r, id, runtime.LogOptions{Tail: -1, Timestamps: true})
	if got := lines(stamped); !slices.Equal(got, want) || stamped[1].Time.IsZero() {
		t.Fatalf("logs with timestamps = %q (last time %v), want %q", got, stamped[len(stamped)-1].Time, want)
	}
}

// sortedByStream orders "stream: line" strings by stream, keeping each
// stream's own order.
func sortedByStream(ls []string) []string {
	out := slices.Clone(ls)
	slices.SortStableFunc(out, func(a, b string) int {
		return strings.Compare(a[:6], b[:6])
	})
	return out
}
