package apitest

import (
	"context"
	"log/slog"

	"github.com/hiveorch/hive/core/events"
	"github.com/hiveorch/hive/core/store"
)

// startEvents runs the managers' event feed over the backend's store
// until the store closes (Close), so that Events streams what the store's
// changes mean, as a manager's ring does.
func (b *Backend) startEvents() {
	b.ring = events.NewRing(10000, b.clock)
	ready := make(chan struct{})
	src := feedSource{Backend: b, ready: ready}
	go func() { _ = events.Feed(context.Background(), src, b.ring, b.clock, slog.New(slog.DiscardHandler)) }()
	<-ready
}

// feedSource is the store, telling startEvents when the feed subscribed,
// so that no change made after New is missed.
type feedSource struct {
	*Backend
	ready chan struct{}
}

func (f feedSource) ViewAndWatch(fn func(store.ReadTx), filter func(store.Event) bool) (<-chan store.Event, func()) {
	ch, cancel := f.store.ViewAndWatch(fn, filter)
	select {
	case <-f.ready:
	default:
		close(f.ready)
	}
	return ch, cancel
}

func (f feedSource) View(fn func(store.ReadTx)) { f.store.View(fn) }
func (f feedSource) Done() <-chan struct{}      { return f.store.Done() }

// Events streams the events of the store's changes from the backend's
// ring.
func (b *Backend) Events(ctx context.Context, q events.Query, sink func(events.Event) error) error {
	if err := b.enter("Events"); err != nil {
		return err
	}
	return b.ring.Stream(ctx, q, sink)
}
