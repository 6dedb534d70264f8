package clock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/clock"
)

func TestWithTimeoutEndsWhenTheFakeTimePassesTheTimeout(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	ctx, cancel := clock.WithTimeout(context.Background(), clk, 5*time.Second)
	defer cancel()
	child, cancelChild := context.WithCancel(ctx)
	defer cancelChild()

	clk.Advance(5*time.Second - time.Nanosecond)
	if err := ctx.Err(); err != nil {
		t.Fatalf("Err before the timeout = %v, want nil", err)
	}
	clk.Advance(time.Nanosecond)
	select {
	case <-ctx.Done():
	default:
		t.Fatal("the context did not end when the fake time reached its timeout")
	}
	if err := ctx.Err(); err != context.DeadlineExceeded {
		t.Fatalf("Err = %v, want context.DeadlineExceeded", err)
	}
	if err := context.Cause(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Cause = %v, want context.DeadlineExceeded", err)
	}
	<-child.Done()
	if err := child.Err(); err != context.DeadlineExceeded {
		t.Fatalf("a derived context's Err = %v, want context.DeadlineExceeded", err)
	}
	if n := clk.Waiters(); n != 0 {
		t.Fatalf("%d timers pending after the timeout, want 0", n)
	}
}

func TestWithTimeoutCancelReleasesTheTimer(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	ctx, cancel := clock.WithTimeout(context.Background(), clk, time.Hour)
	if n := clk.Waiters(); n != 1 {
		t.Fatalf("%d timers pending, want 1", n)
	}
	cancel()
	if n := clk.Waiters(); n != 0 {
		t.Fatalf("%d timers pending after cancel, want 0", n)
	}
	if err := ctx.Err(); err != context.Canceled {
		t.Fatalf("Err after cancel = %v, want context.Canceled", err)
	}
	clk.Advance(time.Hour)
	if err := ctx.Err(); err != context.Canceled {
		t.Fatalf("Err after the timeout passed a cancelled context = %v, want context.Canceled", err)
	}
}

func TestWithTimeoutEndsWithItsParent(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	cause := errors.New("shutting down")
	parent, cancelParent := context.WithCancelCause(context.Background())
	ctx, cancel := clock.WithTimeout(parent, clk, time.Hour)
	defer cancel()
	cancelParent(cause)
	<-ctx.Done()
	if err := ctx.Err(); err != context.Canceled {
		t.Fatalf("Err = %v, want the parent's context.Canceled", err)
	}
	if err := context.Cause(ctx); err != cause {
		t.Fatalf("Cause = %v, want the parent's cause", err)
	}
	if n := clk.Waiters(); n != 0 {
		t.Fatalf("%d timers pending after the parent ended, want 0", n)
	}
}

func TestWithTimeoutDeadline(t *testing.T) {
	before := time.Now()
	ctx, cancel := clock.WithTimeout(context.Background(), clock.Real{}, time.Minute)
	defer cancel()
	if dl, ok := ctx.Deadline(); !ok || dl.Before(before.Add(time.Minute)) || dl.After(time.Now().Add(time.Minute)) {
		t.Fatalf("Deadline on the real clock = %v, %v; want a minute from now", dl, ok)
	}

	// A fake deadline would be read against the wall clock: only the
	// parent's shows.
	clk := clock.NewFake(time.Unix(1000, 0))
	fctx, fcancel := clock.WithTimeout(context.Background(), clk, time.Minute)
	defer fcancel()
	if dl, ok := fctx.Deadline(); ok {
		t.Fatalf("Deadline on a fake clock = %v, want none", dl)
	}
	parent, pcancel := context.WithTimeout(context.Background(), time.Hour)
	defer pcancel()
	pdl, _ := parent.Deadline()
	fctx, fcancel = clock.WithTimeout(parent, clk, time.Minute)
	defer fcancel()
	if dl, ok := fctx.Deadline(); !ok || !dl.Equal(pdl) {
		t.Fatalf("Deadline on a fake clock under a parent with one = %v, %v; want the parent's %v", dl, ok, pdl)
	}
}
