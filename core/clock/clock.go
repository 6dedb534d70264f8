// Package clock gives core code its notion of time. Nothing in core calls
// time.Now, time.Sleep or context.WithTimeout: it is handed a Clock, the
// real one in the daemon and a Fake in tests, which moves only when the
// test says so, and bounds a call with WithTimeout on that clock.
package clock

import (
	"slices"
	"sync"
	"time"
)

// Clock tells the time and makes timers.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives the time once d has passed.
	After(d time.Duration) <-chan time.Time
	// NewTicker returns a ticker that fires every d.
	NewTicker(d time.Duration) Ticker
	// AfterFunc calls f once d has passed, unless stop is called first;
	// stop reports whether it prevented the call.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// Ticker is a time.Ticker behind an interface.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// After is time.After.
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }

// NewTicker wraps time.NewTicker.
func (Real) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

// AfterFunc is time.AfterFunc: f runs in its own goroutine.
func (Real) AfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

// Fake is a clock that moves only on Advance. It is safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	waiters []*waiter
}

type waiter struct {
	at     time.Time
	period time.Duration // 0 for a one-shot timer
	ch     chan time.Time
	fn     func() // instead of ch, for AfterFunc
	done   bool
}

// NewFake returns a fake clock set to start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// After fires once the fake time reaches now+d.
func (f *Fake) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	w := &waiter{at: f.now.Add(d), ch: make(chan time.Time, 1)}
	f.waiters = append(f.waiters, w)
	f.fireAndUnlock()
	return w.ch
}

// NewTicker fires every d of fake time. A tick that finds the channel full
// is dropped, as with time.Ticker.
func (f *Fake) NewTicker(d time.Duration) Ticker {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &waiter{at: f.now.Add(d), period: d, ch: make(chan time.Time, 1)}
	f.waiters = append(f.waiters, w)
	return &fakeTicker{f: f, w: w}
}

// AfterFunc calls fn once the fake time reaches now+d, in the goroutine
// that moves the clock there, before Advance returns. stop removes the
// timer at once.
func (f *Fake) AfterFunc(d time.Duration, fn func()) func() bool {
	f.mu.Lock()
	w := &waiter{at: f.now.Add(d), fn: fn}
	f.waiters = append(f.waiters, w)
	f.fireAndUnlock()
	return func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		if w.done {
			return false
		}
		w.done = true
		f.waiters = slices.DeleteFunc(f.waiters, func(o *waiter) bool { return o == w })
		return true
	}
}

// Advance moves the fake time forward by d and fires what is due.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.fireAndUnlock()
}

// fireAndUnlock fires what is due, unlocks f and then runs the AfterFunc
// functions that came due, so that they may use f.
func (f *Fake) fireAndUnlock() {
	fns := f.fireLocked()
	f.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// Waiters returns how many timers and tickers are pending; tests use it to
// wait until the code under test is blocked on the clock.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// fireLocked fires what is due and returns the AfterFunc functions to run.
func (f *Fake) fireLocked() (fns []func()) {
	kept := f.waiters[:0]
	for _, w := range f.waiters {
		if w.done {
			continue
		}
		for !w.at.After(f.now) {
			if w.fn != nil {
				fns = append(fns, w.fn)
				w.done = true
				break
			}
			select {
			case w.ch <- w.at:
			default:
			}
			if w.period == 0 {
				w.done = true
				break
			}
			w.at = w.at.Add(w.period)
		}
		if !w.done {
			kept = append(kept, w)
		}
	}
	f.waiters = kept
	return fns
}

type fakeTicker struct {
	f *Fake
	w *waiter
}

func (t *fakeTicker) C() <-chan time.Time { return t.w.ch }

func (t *fakeTicker) Stop() {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	t.w.done = true
}
