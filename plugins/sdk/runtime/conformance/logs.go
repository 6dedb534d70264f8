package conformance

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

func (s *suite) testLogs(t *testing.T) {
	id := s.run(t, s.spec("logs", "print", "3"))
	s.waitLog(t, id, "line 3", "err line")

	t.Run("all lines in order", func(t *testing.T) {
		got := s.logs(t, id, runtime.LogOptions{Tail: -1})
		if out := lineStrings(got, runtime.StreamStdout); !slices.Equal(out, []string{"line 1", "line 2", "line 3"}) {
			t.Errorf("stdout lines = %q, want line 1..line 3 in order", out)
		}
		for _, e := range got {
			if e.Stream != runtime.StreamStdout && e.Stream != runtime.StreamStderr {
				t.Errorf("entry %q has stream %q, want stdout or stderr", e.Line, e.Stream)
			}
			if strings.HasSuffix(string(e.Line), "\n") {
				t.Errorf("entry %q keeps its newline", e.Line)
			}
		}
	})
	t.Run("stderr is its own stream", func(t *testing.T) {
		got := s.logs(t, id, runtime.LogOptions{Tail: -1})
		if errs := lineStrings(got, runtime.StreamStderr); !slices.Equal(errs, []string{"err line"}) {
			t.Errorf("stderr lines = %q, want [err line]", errs)
		}
	})
	t.Run("tail", func(t *testing.T) {
		for _, n := range []int{0, 1, 2} {
			if got := s.logs(t, id, runtime.LogOptions{Tail: n}); len(got) != n {
				t.Errorf("Logs(Tail %d) = %d lines (%q), want %d", n, len(got), lineStrings(got, ""), n)
			}
		}
	})
	t.Run("timestamps", func(t *testing.T) {
		c := s.inspect(t, id)
		got := s.logs(t, id, runtime.LogOptions{Tail: -1, Timestamps: true})
		for _, e := range got {
			if e.Time.IsZero() {
				t.Errorf("Logs(Timestamps) entry %q has no time", e.Line)
			} else if e.Time.Before(c.CreatedAt.Add(-time.Minute)) || e.Time.After(time.Now().Add(time.Minute)) {
				t.Errorf("Logs(Timestamps) entry %q has time %v; the container was created at %v", e.Line, e.Time, c.CreatedAt)
			}
		}
	})
	t.Run("since in the future gives nothing", func(t *testing.T) {
		if got := s.logs(t, id, runtime.LogOptions{Tail: -1, Since: time.Now().Add(time.Hour)}); len(got) != 0 {
			t.Errorf("Logs(Since an hour ahead) = %q, want nothing", lineStrings(got, ""))
		}
	})
	t.Run("a sink error stops the call and is returned", func(t *testing.T) {
		errStop := errors.New("sink is full")
		calls := 0
		err := s.rt.Logs(s.ctx(t), id, runtime.LogOptions{Tail: -1}, func(runtime.LogEntry) error {
			calls++
			return errStop
		})
		if !errors.Is(err, errStop) {
			t.Errorf("Logs with a failing sink = %v, want the sink's error", err)
		}
		if calls != 1 {
			t.Errorf("sink called %d times after failing, want 1", calls)
		}
	})
}

// follow runs Logs with Follow in the background, sending each entry on
// the returned channel; the error channel gets what Logs returns.
func (s *suite) follow(ctx context.Context, id string) (<-chan runtime.LogEntry, <-chan error) {
	entries := make(chan runtime.LogEntry, 64)
	done := make(chan error, 1)
	go func() {
		done <- s.rt.Logs(ctx, id, runtime.LogOptions{Follow: true, Tail: -1}, func(e runtime.LogEntry) error {
			select {
			case entries <- e:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	return entries, done
}

func (s *suite) testLogsFollow(t *testing.T) {
	id := s.run(t, s.spec("follow", "print", "2"))
	s.waitLog(t, id, "line 2", "err line")
	entries, done := s.follow(s.ctx(t), id)
	deadline := time.After(s.opts.Timeout)

	var got []string
	ended, endErr := false, error(nil)
	// drain takes the entries already delivered; an ended call may have
	// delivered its last lines just before returning.
	drain := func() {
		for {
			select {
			case e := <-entries:
				got = append(got, string(e.Line))
			default:
				return
			}
		}
	}
	want := func(line string) {
		t.Helper()
		for !slices.Contains(got, line) {
			if ended {
				t.Fatalf("Logs(Follow) returned %v before delivering %q; got %q", endErr, line, got)
			}
			select {
			case e := <-entries:
				got = append(got, string(e.Line))
			case endErr = <-done:
				ended = true
				drain()
			case <-deadline:
				t.Fatalf("Logs(Follow) did not deliver %q within %v; got %q", line, s.opts.Timeout, got)
			}
		}
	}
	want("line 1")
	want("line 2")
	want("err line")
	if ended {
		t.Fatalf("Logs(Follow) of a running container returned %v", endErr)
	}

	// The program prints "stopping" when it gets SIGTERM, after the
	// follow began: it must arrive, and the call must end with the
	// container.
	s.stop(t, id, runtime.StopOptions{Timeout: 10 * time.Second})
	want("stopping")
	if !ended {
		select {
		case endErr = <-done:
		case <-deadline:
			t.Fatalf("Logs(Follow) still running %v after the container exited; got %q", s.opts.Timeout, got)
		}
	}
	if endErr != nil {
		t.Errorf("Logs(Follow) ended with %v after the container exited, want nil", endErr)
	}
}

func (s *suite) testLogsFollowCancel(t *testing.T) {
	id := s.run(t, s.spec("follow-cancel", "print", "1"))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	entries, done := s.follow(ctx, id)
	select {
	case <-entries:
	case err := <-done:
		t.Fatalf("Logs(Follow) of a running container returned %v before any line", err)
	case <-time.After(s.opts.Timeout):
		t.Fatalf("Logs(Follow) delivered no line within %v", s.opts.Timeout)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Logs(Follow) after cancel = %v, want nil or context.Canceled", err)
		}
	case <-time.After(s.opts.Timeout):
		t.Fatalf("Logs(Follow) still running %v after its context was cancelled", s.opts.Timeout)
	}
}
