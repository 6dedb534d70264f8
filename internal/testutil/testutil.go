// Package testutil holds the helpers every test package of hive shares: a
// slog logger that writes to t.Log (so logs show only when a test fails),
// Eventually for polling a condition until a deadline, and the rule for
// tests that need something the machine may lack (root, an engine): with
// CI set they fail, elsewhere they skip.
//
// It is for tests only and imports nothing from hive, so the plugin SDK's
// tests may use it too.
package testutil

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// Logger returns a logger at debug level whose lines go to t.Log. Lines
// written after the test has ended (by a goroutine that outlives it) are
// dropped instead of panicking.
func Logger(t testing.TB) *slog.Logger { return LoggerAt(t, slog.LevelDebug) }

// LoggerAt is Logger at the given level.
func LoggerAt(t testing.TB, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(Writer(t), &slog.HandlerOptions{Level: level}))
}

// Writer returns an io.Writer whose writes go to t.Log, one call per write
// with its trailing newline removed, until the test ends.
func Writer(t testing.TB) io.Writer {
	w := &tWriter{t: t}
	t.Cleanup(w.stop)
	return w
}

type tWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *tWriter) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
}

// PollInterval is how often Eventually checks its condition.
const PollInterval = 10 * time.Millisecond

// Eventually polls cond every PollInterval until it holds, and fails the
// test with what when within passes first.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	EventuallyWhy(t, within, what, func() (bool, string) { return cond(), "" })
}

// EventuallyWhy is Eventually for a condition that explains itself: the
// failure carries the explanation cond gave last.
func EventuallyWhy(t testing.TB, within time.Duration, what string, cond func() (ok bool, why string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			if why != "" {
				t.Fatalf("%s: not within %v: %s", what, within, why)
			} else {
				t.Fatalf("%s: not within %v", what, within)
			}
			return
		}
		time.Sleep(PollInterval)
	}
}

// InCI reports whether the tests run in CI (the CI variable is set, as
// .ci/run does).
func InCI() bool { return os.Getenv("CI") != "" }

// Unavailable is what a test calls when something it needs is missing
// (root, an engine, a tool): in CI the test fails, since CI must run every
// test; elsewhere it is skipped with the reason.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	reason := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("%s (CI must run this test: provide it on this machine)", reason)
		return
	}
	t.Skip(reason)
}

// RequireRoot calls Unavailable unless the test runs as root.
func RequireRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "%s needs root", why)
	}
}

// Returns waits for the error a goroutine sends on done when it returns
// (what names it: "Run"), and fails the test when it returned an error or
// did not return within within.
func Returns(t testing.TB, done <-chan error, within time.Duration, what string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%s returned %v, want nil", what, err)
		}
	case <-time.After(within):
		t.Fatalf("%s did not return within %v", what, within)
	}
}
