package daemon

import (
	"context"

	"github.com/hiveorch/hive/core/events"
	"github.com/hiveorch/hive/core/store"
)

// startEvents makes this manager's event ring (events.ring_size; none
// when 0) and runs what fills it for the manager's lifetime: the feed of
// the store's changes and the Raft leader watch. A manager that was
// locked records that it was unlocked.
func (d *daemon) startEvents() {
	d.events = events.NewRing(d.cfg.Events.RingSize, d.clock)
	if d.events == nil {
		d.logger.Info("events are off (events.ring_size is 0)")
		return
	}
	logger := d.logger.With("component", "events")
	d.run("events", func(ctx context.Context) error {
		return events.Feed(ctx, d.store, d.events, d.clock, logger)
	})
	d.run("events-leader", func(ctx context.Context) error {
		return events.WatchLeader(ctx, d.store.Raft(), d.events, events.Names(d.store))
	})
	if d.apiLn != nil {
		// The API socket kept from the locked API: this start followed
		// an unlock.
		d.events.Append(events.UnlockedEvent(d.state.NodeID, d.hostname()))
	}
}

// hostname is this node's hostname as the store records it.
func (d *daemon) hostname() (name string) {
	d.store.View(func(tx store.ReadTx) {
		if n := tx.Node(d.state.NodeID); n != nil {
			name = n.Description.Hostname
		}
	})
	return name
}

// Events streams this manager's event ring.
func (b *managerBackend) Events(ctx context.Context, q events.Query, sink func(events.Event) error) error {
	return b.d.events.Stream(ctx, q, sink)
}

// Events: a worker keeps no events; it names a manager to ask.
func (b *workerBackend) Events(context.Context, events.Query, func(events.Event) error) error {
	return b.notManager()
}
