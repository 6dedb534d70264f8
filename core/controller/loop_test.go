package controller

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/testutil"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fakeSource is a Source whose subscriptions the test feeds and closes.
type fakeSource struct {
	mu sync.Mutex
	ch chan store.Event // the current subscription, nil when none
	// filters holds every subscription's filter, in order.
	filters []func(store.Event) bool
	// closed makes new subscriptions start closed, as a store does once
	// closed.
	closed bool
	done   chan struct{}
}

func newFakeSource() *fakeSource { return &fakeSource{done: make(chan struct{})} }

func (f *fakeSource) ViewAndWatch(fn func(store.ReadTx), filter func(store.Event) bool) (<-chan store.Event, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filters = append(f.filters, filter)
	ch := make(chan store.Event, 64)
	if f.closed {
		close(ch)
		return ch, func() {}
	}
	f.ch = ch
	return ch, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.ch == ch {
			close(ch)
			f.ch = nil
		}
	}
}

func (f *fakeSource) Done() <-chan struct{} { return f.done }

func (f *fakeSource) subscriptions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.filters)
}

// send delivers the events that the current filter passes.
func (f *fakeSource) send(t *testing.T, evs ...store.Event) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ch == nil {
		t.Fatal("send: nobody subscribed")
	}
	filter := f.filters[len(f.filters)-1]
	for _, ev := range evs {
		if ev.Action == store.ActionReset || filter == nil || filter(ev) {
			f.ch <- ev
		}
	}
}

// overflow drops the subscriber as the store does one that fell behind:
// a reset, then the channel closes.
func (f *fakeSource) overflow(closed bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = closed
	f.ch <- store.Event{Action: store.ActionReset}
	close(f.ch)
	f.ch = nil
}

func (f *fakeSource) pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.ch)
}

func (f *fakeSource) setClosed(closed bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = closed
}

// loop is Run under test: each pass reports the fake time it ran at on
// ran, and returns what result gives for its number (1 is the first).
type loop struct {
	src *fakeSource
	clk *clock.Fake
	ran chan time.Time
	// gate, when set, holds every pass, once it has reported, until it
	// can receive.
	gate   chan struct{}
	result func(n int) (time.Time, error)
	stop   context.CancelFunc
	done   chan error
}

func newLoop() *loop {
	return &loop{src: newFakeSource(), clk: clock.NewFake(t0), ran: make(chan time.Time, 100)}
}

// start runs the loop with cfg (Source, Clock, Logger and Pass filled in)
// until the test ends.
func (l *loop) start(t *testing.T, cfg Config) {
	t.Helper()
	cfg.Name, cfg.Source, cfg.Clock, cfg.Logger = "test", l.src, l.clk, testutil.Logger(t)
	n := 0
	cfg.Pass = func(ctx context.Context) (time.Time, error) {
		n++
		l.ran <- l.clk.Now()
		if l.gate != nil {
			select {
			case <-l.gate:
			case <-ctx.Done():
				return time.Time{}, ctx.Err()
			}
		}
		if l.result != nil {
			return l.result(n)
		}
		return time.Time{}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.stop, l.done = cancel, make(chan error, 1)
	go func() { l.done <- Run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		l.ended(t)
	})
}

// ended waits for Run to return and checks it returned nil.
func (l *loop) ended(t *testing.T) {
	t.Helper()
	select {
	case err, ok := <-l.done:
		if ok && err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
		if ok {
			close(l.done)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
}

// pass waits for the next pass and checks the fake time it ran at.
func (l *loop) pass(t *testing.T, at time.Duration) {
	t.Helper()
	select {
	case got := <-l.ran:
		if want := t0.Add(at); !got.Equal(want) {
			t.Fatalf("pass ran at t0+%v, want t0+%v", got.Sub(t0), at)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no pass at t0+%v", at)
	}
}

// noPass checks that no pass has run since the last one received.
func (l *loop) noPass(t *testing.T) {
	t.Helper()
	select {
	case got := <-l.ran:
		t.Fatalf("an extra pass ran at t0+%v", got.Sub(t0))
	default:
	}
}

// waiters waits until the loop has n timers and tickers on the fake clock.
func (l *loop) waiters(t *testing.T, n int) {
	t.Helper()
	testutil.Eventually(t, 5*time.Second, "the loop to wait on the clock", func() bool { return l.clk.Waiters() == n })
}

// after waits until the loop has n timers, advances the clock by d in two
// steps and checks that the timer it waits on fires at d exactly.
func (l *loop) after(t *testing.T, n int, d time.Duration) {
	t.Helper()
	l.waiters(t, n)
	l.clk.Advance(d - time.Millisecond)
	if got := l.clk.Waiters(); got != n {
		t.Fatalf("a timer fired before %v (waiters %d, want %d)", d, got, n)
	}
	l.clk.Advance(time.Millisecond)
}

func taskEvent(id string) store.Event {
	return store.Event{Action: store.ActionCreate, Task: &types.Task{ID: id}}
}

func TestRunPassesAtStartAndOncePerBurst(t *testing.T) {
	l := newLoop()
	l.gate = make(chan struct{})
	l.start(t, Config{Resync: time.Minute})
	l.pass(t, 0) // the first pass, held
	if n := l.src.subscriptions(); n != 1 {
		t.Fatalf("subscriptions = %d, want 1", n)
	}
	// Events that queue while a pass runs make one pass after it.
	l.src.send(t, taskEvent("a"), taskEvent("b"), taskEvent("c"))
	l.gate <- struct{}{}
	l.pass(t, 0)
	close(l.gate)
	l.after(t, 1, time.Minute) // the resync is the next pass
	l.pass(t, time.Minute)
	l.noPass(t)
}

func TestRunFilter(t *testing.T) {
	l := newLoop()
	l.start(t, Config{Resync: time.Minute, Filter: func(ev store.Event) bool { return ev.Task != nil && ev.Task.ID == "mine" }})
	l.pass(t, 0)
	l.src.send(t, taskEvent("other"))
	if n := l.src.pending(); n != 0 {
		t.Fatalf("a filtered-out event was queued (%d)", n)
	}
	l.src.send(t, taskEvent("mine"))
	l.pass(t, 0)
}

func TestRunDebounce(t *testing.T) {
	const debounce = 50 * time.Millisecond
	l := newLoop()
	l.start(t, Config{Resync: time.Hour, Debounce: debounce})
	l.pass(t, 0)

	// The first event of a burst starts the wait; the rest join it.
	l.src.send(t, taskEvent("a"))
	l.waiters(t, 2) // the resync ticker and the debounce timer
	l.clk.Advance(20 * time.Millisecond)
	l.src.send(t, taskEvent("b"), taskEvent("c"))
	testutil.Eventually(t, 5*time.Second, "the loop to take the burst", func() bool { return l.src.pending() == 0 })
	l.noPass(t)
	l.after(t, 2, debounce-20*time.Millisecond)
	l.pass(t, debounce)

	// The next event after a quiet spell waits Debounce too.
	l.clk.Advance(time.Second)
	l.src.send(t, taskEvent("d"))
	l.after(t, 2, debounce)
	l.pass(t, time.Second+2*debounce)
	l.noPass(t)
}

func TestRunResync(t *testing.T) {
	t.Run("every period", func(t *testing.T) {
		l := newLoop()
		l.start(t, Config{Resync: time.Minute})
		l.pass(t, 0)
		l.after(t, 1, time.Minute)
		l.pass(t, time.Minute)
		l.after(t, 1, time.Minute)
		l.pass(t, 2*time.Minute)
	})
	t.Run("none when zero", func(t *testing.T) {
		l := newLoop()
		l.start(t, Config{})
		l.pass(t, 0)
		if n := l.clk.Waiters(); n != 0 {
			t.Fatalf("waiters = %d without a resync, want 0", n)
		}
	})
}

func TestRunWakesWhenThePassAsks(t *testing.T) {
	l := newLoop()
	l.result = func(n int) (time.Time, error) {
		switch n {
		case 1:
			return t0.Add(10 * time.Second), nil
		case 2:
			return t0.Add(time.Second), nil // in the past: at once
		}
		return time.Time{}, nil
	}
	l.start(t, Config{Resync: time.Hour})
	l.pass(t, 0)
	l.after(t, 2, 10*time.Second)
	l.pass(t, 10*time.Second)
	l.pass(t, 10*time.Second)
	l.waiters(t, 1) // the resync ticker only: no wake asked
	l.noPass(t)
}

func TestRunBacksOffAfterFailedPasses(t *testing.T) {
	l := newLoop()
	fail := errors.New("boom")
	l.result = func(n int) (time.Time, error) {
		if n == 4 {
			return time.Time{}, nil
		}
		return time.Time{}, fail
	}
	l.start(t, Config{Resync: time.Hour})
	l.pass(t, 0)
	at := time.Duration(0)
	for _, wait := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond} {
		l.after(t, 2, wait)
		at += wait
		l.pass(t, at)
	}
	// Pass 4 succeeded: the next failure waits the least again.
	l.src.send(t, taskEvent("a"))
	l.pass(t, at)
	for _, wait := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
		800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond, 5 * time.Second, 5 * time.Second} {
		l.after(t, 2, wait)
		at += wait
		l.pass(t, at)
	}
}

func TestRunResubscribes(t *testing.T) {
	t.Run("at once after an overflow", func(t *testing.T) {
		l := newLoop()
		filter := func(ev store.Event) bool { return ev.Task != nil && ev.Task.ID == "mine" }
		l.start(t, Config{Resync: time.Hour, Filter: filter})
		l.pass(t, 0)
		l.src.overflow(false)
		l.pass(t, 0)
		if n := l.src.subscriptions(); n != 2 {
			t.Fatalf("subscriptions = %d after an overflow, want 2", n)
		}
		// The new subscription has the filter and delivers.
		l.src.send(t, taskEvent("other"))
		if n := l.src.pending(); n != 0 {
			t.Fatalf("the new subscription lost its filter: %d queued", n)
		}
		l.src.send(t, taskEvent("mine"))
		l.pass(t, 0)
	})
	t.Run("with back-off while the channel closes at once", func(t *testing.T) {
		l := newLoop()
		l.start(t, Config{Resync: time.Hour})
		l.pass(t, 0)
		l.src.overflow(true) // from now on every subscription comes closed
		l.pass(t, 0)         // after the overflow, subscribing again at once
		at := time.Duration(0)
		for i, wait := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond} {
			l.after(t, 2, wait)
			at += wait
			l.pass(t, at)
			testutil.Eventually(t, 5*time.Second, "a new subscription", func() bool { return l.src.subscriptions() == 3+i })
		}
		l.src.setClosed(false)
		l.after(t, 2, 800*time.Millisecond)
		at += 800 * time.Millisecond
		l.pass(t, at)
		l.waiters(t, 1) // subscribed: only the resync ticker waits
		l.src.send(t, taskEvent("a"))
		l.pass(t, at)
	})
}

func TestRunPassesOnReset(t *testing.T) {
	l := newLoop()
	l.start(t, Config{Resync: time.Hour, Filter: func(store.Event) bool { return false }})
	l.pass(t, 0)
	l.src.send(t, store.Event{Action: store.ActionReset})
	l.pass(t, 0)
	if n := l.src.subscriptions(); n != 1 {
		t.Fatalf("subscriptions = %d after a reset on an open channel, want 1", n)
	}
}

func TestRunStops(t *testing.T) {
	t.Run("when ctx is done", func(t *testing.T) {
		l := newLoop()
		l.start(t, Config{Resync: time.Hour})
		l.pass(t, 0)
		l.stop()
		l.ended(t)
	})
	t.Run("when ctx is done during a pass", func(t *testing.T) {
		l := newLoop()
		l.gate = make(chan struct{}) // never opened
		l.start(t, Config{Resync: time.Hour})
		l.stop()
		l.ended(t)
	})
	t.Run("when the source closes", func(t *testing.T) {
		l := newLoop()
		l.start(t, Config{Resync: time.Hour})
		l.pass(t, 0)
		close(l.src.done)
		l.ended(t)
	})
}

// TestRunOnAMemoryStore runs the loop on the real store: a change makes a
// pass, and closing the store ends the loop.
func TestRunOnAMemoryStore(t *testing.T) {
	clk := clock.NewFake(t0)
	st := store.NewMemory(clk)
	ran := make(chan int, 10)
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), Config{
			Name: "test", Source: st, Resync: time.Hour, Clock: clk, Logger: testutil.Logger(t),
			Filter: func(ev store.Event) bool { return ev.Service != nil },
			Pass: func(context.Context) (time.Time, error) {
				var n int
				st.View(func(tx store.ReadTx) { n = len(tx.Services()) })
				ran <- n
				return time.Time{}, nil
			},
		})
	}()
	want := func(n int) {
		t.Helper()
		select {
		case got := <-ran:
			if got != n {
				t.Fatalf("pass saw %d services, want %d", got, n)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no pass")
		}
	}
	want(0)
	if err := st.Update(context.Background(), func(tx store.Tx) error {
		return tx.CreateService(&types.Service{ID: "s1", Spec: types.ServiceSpec{Name: "web"}})
	}); err != nil {
		t.Fatal(err)
	}
	want(1)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	testutil.Returns(t, done, 5*time.Second, "Run, after the store closed,")
}
