package events

import (
	"context"
	"sync"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/errdefs"
)

// subBuffer is how many events a live subscriber may lag behind before it
// is dropped.
const subBuffer = 1024

// ErrOff is what Stream returns on a manager whose events are off.
var ErrOff = errdefs.Newf(errdefs.ErrUnavailable, "events are off on this manager (events.ring_size is 0): set events.ring_size (HIVE_EVENTS_RING_SIZE) to a positive number, e.g. 10000, and restart it")

// Ring is a manager's bounded history of events: the last size appended,
// with live subscribers. A nil *Ring is events turned off. Its methods are
// safe for concurrent use.
type Ring struct {
	clock clock.Clock

	mu   sync.Mutex
	buf  []Event // circular: the oldest at start
	from int
	seq  uint64 // the last seq given
	subs map[*subscriber]struct{}
}

// subscriber is one live Stream. Its fields are guarded by Ring.mu; only
// Append (holding it) sends on ch.
type subscriber struct {
	ch     chan Event
	filter Filter
}

// NewRing returns a ring that keeps size events, stamped with clk's time;
// nil when size is 0 (events off).
func NewRing(size int, clk clock.Clock) *Ring {
	if size <= 0 {
		return nil
	}
	return &Ring{clock: clk, buf: make([]Event, 0, size), subs: map[*subscriber]struct{}{}}
}

// Append records events in order: each gets the next seq and the ring's
// time, the oldest kept event makes room when the ring is full, and every
// live subscriber whose filter matches gets it. It never blocks: a
// subscriber whose buffer is full is dropped (its Stream ends with an
// error saying so).
func (r *Ring) Append(evs ...Event) {
	if r == nil || len(evs) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now().UTC()
	for _, ev := range evs {
		r.seq++
		ev.Seq, ev.Time = r.seq, now
		if len(r.buf) < cap(r.buf) {
			r.buf = append(r.buf, ev)
		} else {
			r.buf[r.from] = ev
			r.from = (r.from + 1) % len(r.buf)
		}
		for s := range r.subs {
			if !s.filter.Match(ev) {
				continue
			}
			if len(s.ch) == cap(s.ch) {
				close(s.ch) // Stream reads it as falling behind
				delete(r.subs, s)
				continue
			}
			s.ch <- ev
		}
	}
}

// Query says which events Stream sends.
type Query struct {
	// Since: replay the kept events from this time on. Zero: replay none,
	// unless Until is set, then all kept ones.
	Since time.Time
	// Until: end the stream with the last event before this time (at once
	// when it has passed). Zero: follow until ctx ends.
	Until  time.Time
	Filter Filter
	// Open, when set, is called once the stream is set up, before its
	// first event: the API sends its response headers then, so that a
	// client knows the stream is open even when no event comes.
	Open func()
}

// Stream sends sink the kept events q asks for, then the new ones as they
// are appended, until q.Until passes, ctx ends (ctx's error), sink fails
// (its error) or the subscriber falls subBuffer events behind (an
// unavailable error saying so). The replay and the subscription are taken
// under one lock, so no event is lost or sent twice between them. A nil
// ring returns ErrOff.
func (r *Ring) Stream(ctx context.Context, q Query, sink func(Event) error) error {
	if r == nil {
		return ErrOff
	}
	replay, sub, ended := r.subscribe(q)
	if sub != nil {
		defer r.unsubscribe(sub)
	}
	if q.Open != nil {
		q.Open()
	}
	for _, ev := range replay {
		if err := sink(ev); err != nil {
			return err
		}
	}
	if ended {
		return nil
	}
	var until <-chan time.Time
	if !q.Until.IsZero() {
		until = r.clock.After(q.Until.Sub(r.clock.Now()))
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-until:
			return nil
		case ev, ok := <-sub.ch:
			if !ok {
				return errdefs.Newf(errdefs.ErrUnavailable, "event stream ended: this reader fell %d events behind; read faster, narrow --filter, or subscribe again with --since to resume", subBuffer)
			}
			if !q.Until.IsZero() && !ev.Time.Before(q.Until) {
				return nil
			}
			if err := sink(ev); err != nil {
				return err
			}
		}
	}
}

// subscribe takes the replay and, unless the query has ended already, a
// live subscription, together.
func (r *Ring) subscribe(q Query) (replay []Event, sub *subscriber, ended bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !q.Since.IsZero() || !q.Until.IsZero() {
		for i := range r.buf {
			ev := r.buf[(r.from+i)%len(r.buf)]
			if ev.Time.Before(q.Since) || (!q.Until.IsZero() && !ev.Time.Before(q.Until)) || !q.Filter.Match(ev) {
				continue
			}
			replay = append(replay, ev)
		}
	}
	if !q.Until.IsZero() && !r.clock.Now().Before(q.Until) {
		return replay, nil, true
	}
	sub = &subscriber{ch: make(chan Event, subBuffer), filter: q.Filter}
	r.subs[sub] = struct{}{}
	return replay, sub, false
}

// unsubscribe ends a live subscription.
func (r *Ring) unsubscribe(s *subscriber) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.subs[s]; ok {
		delete(r.subs, s)
		close(s.ch)
	}
}
