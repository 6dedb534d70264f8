// Package controller runs hive's level-triggered controllers and feeds.
// Every controller (the orchestrators, the scheduler driver, the task
// reaper, nodehealth) and every feed (the dispatcher's routing table and
// assignment sets, the manager's key watch, a log follow) is a Pass
// function that reads the whole state it cares about and does what it
// implies; this package calls it once at start, again after every burst
// of relevant store events, on a periodic resync, and at the time the pass
// asked to be woken. A missed event can only delay convergence, never stop
// it: every pass is a full pass.
//
// Run is the only watch loop: it subscribes, resubscribes when the store
// drops a subscriber that fell behind, backs off when the store keeps
// closing the channel at once, and stops when ctx is done or the store
// closes. A loop that lives as long as a session or a request runs Run
// with that lifetime's ctx.
package controller

import (
	"context"
	"log/slog"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/store"
)

// Source is the part of the store a controller watches; *store.Store is
// one. Done is closed when the source closes for good.
type Source interface {
	ViewAndWatch(fn func(store.ReadTx), filter func(store.Event) bool) (<-chan store.Event, func())
	Done() <-chan struct{}
}

// PassFunc reconciles everything once. It returns the time it wants to run
// again at the latest (zero: only on events and resync) or an error, after
// which it is retried with backoff.
type PassFunc func(ctx context.Context) (wake time.Time, err error)

// Config configures Run.
type Config struct {
	Name   string
	Source Source
	// Filter selects the events that make the controller run; nil means
	// all. It runs on the store's goroutine: it must be quick and only look
	// at the event. ActionReset events always pass.
	Filter func(store.Event) bool
	// Resync is the period of the full pass that runs without events;
	// zero means none.
	Resync time.Duration
	// Debounce delays the pass that events cause until this long after
	// the first event of a burst, so that the whole burst makes one pass
	// at its end (and such passes are at least Debounce apart). Zero runs
	// the pass as soon as the queued events are read.
	Debounce time.Duration
	Clock    clock.Clock
	Logger   *slog.Logger
	Pass     PassFunc
	// Observe, when set, is given every event the loop reads (those the
	// filter passed, and ActionReset), in order, on the loop's goroutine,
	// before the pass they cause: for a feed that needs the changes
	// themselves (core/events), not only a wake-up.
	Observe func(store.Event)
}

// Backoff bounds, both after a failed pass and between subscriptions that
// the source closes without delivering anything.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Run runs the controller until ctx is done or the source closes, then
// returns nil.
//
// An ActionReset on an open channel (a snapshot replaced the state) is an
// event like any other: the pass it causes re-reads everything. When the
// event channel closes (the store dropped the subscriber for
// falling behind, after sending it an ActionReset), Run subscribes again
// and makes a full pass; when a new subscription closes before it has
// delivered anything, it waits (from minBackoff, doubling up to maxBackoff)
// before the next.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger.With("controller", cfg.Name)
	var events <-chan store.Event
	cancel := func() {}
	subscribe := func() {
		events, cancel = cfg.Source.ViewAndWatch(nil, cfg.Filter)
	}
	subscribe()
	defer func() { cancel() }()
	var resync <-chan time.Time
	if cfg.Resync > 0 {
		ticker := cfg.Clock.NewTicker(cfg.Resync)
		defer ticker.Stop()
		resync = ticker.C()
	}

	var (
		wake      <-chan time.Time // the pass's wake time, or its retry
		settled   <-chan time.Time // set while a burst waits for Debounce
		resubAt   <-chan time.Time // set while a subscription waits
		backoff   = minBackoff     // after a failed pass
		resub     time.Duration    // before subscribing again
		delivered bool             // the subscription delivered an event
	)
	dirty := true
	changed := func() {
		switch {
		case cfg.Debounce <= 0:
			dirty = true
		case settled == nil:
			settled = cfg.Clock.After(cfg.Debounce)
		}
	}
	for {
		if dirty {
			dirty, settled = false, nil
			next, err := cfg.Pass(ctx)
			switch {
			case ctx.Err() != nil:
				return nil
			case err != nil:
				log.Warn("reconcile pass failed; retrying", "error", err, "retry_in", backoff)
				wake = cfg.Clock.After(backoff)
				backoff = min(backoff*2, maxBackoff)
			case !next.IsZero():
				backoff = minBackoff
				wake = cfg.Clock.After(max(next.Sub(cfg.Clock.Now()), 0))
			default:
				backoff = minBackoff
				wake = nil
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-cfg.Source.Done():
			return nil
		case ev, ok := <-events:
			if ok {
				delivered = true
				observe(cfg.Observe, ev)
				ok = drain(events, cfg.Observe)
			}
			if ok {
				changed()
				break
			}
			cancel()
			if delivered {
				// Dropped for falling behind: subscribe again and do a
				// full pass.
				resub, delivered = 0, false
				subscribe()
				changed()
				break
			}
			resub = min(max(2*resub, minBackoff), maxBackoff)
			log.Debug("event stream closed at once; subscribing again", "retry_in", resub)
			events, resubAt = nil, cfg.Clock.After(resub)
		case <-resubAt:
			resubAt = nil
			subscribe()
			changed()
		case <-settled:
			dirty = true
		case <-resync:
			dirty = true
		case <-wake:
			dirty = true
		}
	}
}

// drain takes every event already queued (giving each to fn, if set), so
// that a burst causes one pass, and reports whether the channel is still
// open.
func drain(events <-chan store.Event, fn func(store.Event)) bool {
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return false
			}
			observe(fn, ev)
		default:
			return true
		}
	}
}

// observe gives ev to fn when fn is set.
func observe(fn func(store.Event), ev store.Event) {
	if fn != nil {
		fn(ev)
	}
}
