// Package controller runs hive's level-triggered controllers. Every
// controller (the orchestrators, the scheduler driver, the task reaper) is a
// Pass function that reads the whole state it cares about and writes what
// it wants changed; this package calls it once at start, again after every
// burst of relevant store events, on a periodic resync, and at the time the
// pass asked to be woken. A missed event can only delay convergence, never
// stop it.
package controller

import (
	"context"
	"log/slog"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/store"
)

// Source is the part of the store a controller watches.
type Source interface {
	ViewAndWatch(fn func(store.ReadTx), filter func(store.Event) bool) (<-chan store.Event, func())
}

// PassFunc reconciles everything once. It returns the time it wants to run
// again at the latest (zero: only on events and resync) or an error, after
// which it is retried with backoff.
type PassFunc func(ctx context.Context) (wake time.Time, err error)

// Config configures Run.
type Config struct {
	Name   string
	Source Source
	// Filter selects the events that make the controller run; nil means all.
	Filter func(store.Event) bool
	// Resync is the period of the full pass that runs without events.
	Resync time.Duration
	Clock  clock.Clock
	Logger *slog.Logger
	Pass   PassFunc
}

const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Run runs the controller until ctx is done, then returns nil.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger.With("controller", cfg.Name)
	filter := cfg.Filter
	if filter == nil {
		filter = func(store.Event) bool { return true }
	}
	events, cancel := cfg.Source.ViewAndWatch(func(store.ReadTx) {}, filter)
	defer func() { cancel() }()
	ticker := cfg.Clock.NewTicker(cfg.Resync)
	defer ticker.Stop()

	var wake <-chan time.Time
	backoff := minBackoff
	dirty := true
	for {
		if dirty {
			dirty = false
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
		case _, ok := <-events:
			if !ok {
				// Dropped by the store for falling behind: subscribe again
				// and do a full pass.
				cancel()
				events, cancel = cfg.Source.ViewAndWatch(func(store.ReadTx) {}, filter)
			}
			drain(events)
			dirty = true
		case <-ticker.C():
			dirty = true
		case <-wake:
			dirty = true
		}
	}
}

// drain takes every event already queued, so a burst causes one pass.
func drain(events <-chan store.Event) {
	for {
		select {
		case _, ok := <-events:
			if !ok {
				return
			}
		default:
			return
		}
	}
}
