package testutil

import (
	"testing"
	"time"
)

func TestEventuallyReturnsOnceTheConditionHolds(t *testing.T) {
	n := 0
	Eventually(t, time.Second, "third call", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Fatalf("cond called %d times, want 3", n)
	}
}

// recorder is a testing.TB that records Fatalf and Skip instead of
// stopping the test.
type recorder struct {
	testing.TB
	failed, skipped string
}

func (r *recorder) Helper()                      {}
func (r *recorder) Fatalf(f string, args ...any) { r.failed = f }
func (r *recorder) Skip(args ...any)             { r.skipped = "skip" }
func (r *recorder) Cleanup(func())               {}
func (r *recorder) Log(args ...any)              {}

func TestEventuallyFailsAtTheDeadline(t *testing.T) {
	r := &recorder{TB: t}
	EventuallyWhy(r, 30*time.Millisecond, "never", func() (bool, string) { return false, "still false" })
	if r.failed == "" {
		t.Fatal("Eventually did not fail a condition that never held")
	}
}

func TestUnavailableFailsInCIAndSkipsElsewhere(t *testing.T) {
	for _, tc := range []struct {
		ci       string
		wantFail bool
	}{{"true", true}, {"", false}} {
		t.Setenv("CI", tc.ci)
		r := &recorder{TB: t}
		Unavailable(r, "docker is not usable")
		if got := r.failed != ""; got != tc.wantFail {
			t.Errorf("CI=%q: failed=%v, want %v", tc.ci, got, tc.wantFail)
		}
		if got := r.skipped != ""; got == tc.wantFail {
			t.Errorf("CI=%q: skipped=%v, want %v", tc.ci, got, !tc.wantFail)
		}
	}
}
