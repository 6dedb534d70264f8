package mesh

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// DefaultResync is the resync period RunController uses when given none.
const DefaultResync = 30 * time.Second

// ApplyInterval is the shortest time between two Applies caused by events:
// a burst of events within it is applied once, at its end.
const ApplyInterval = 20 * time.Millisecond

// Pacing of resubscriptions when the event channel keeps closing without
// delivering anything (for example while the store is closed).
const (
	minResubscribeDelay = 100 * time.Millisecond
	maxResubscribeDelay = 5 * time.Second
)

// StateSource is the store as the controller sees it: a consistent read of
// the state together with a subscription to the changes after it.
// ViewAndWatch calls fn with the snapshot, and returns a channel of the
// events that pass filter and the function that ends the subscription.
type StateSource interface {
	ViewAndWatch(fn func(store.ReadTx), filter func(store.Event) bool) (<-chan store.Event, func())
}

// RunController keeps m in step with src until ctx is done, then returns
// nil. It reads every service, task and node and applies the routes they
// give (ClusterRoutes); then it follows service, task and node events, applying at most once per
// ApplyInterval (a burst is coalesced into one Apply at its end). Every
// resync period (DefaultResync when resync <= 0) it takes a fresh snapshot
// and applies it, so a missed event only delays convergence; the same
// happens on an ActionReset event or when the event channel closes.
//
// It does not close m.
func RunController(ctx context.Context, src StateSource, m *Mesh, resync time.Duration, clk clock.Clock) error {
	if resync <= 0 {
		resync = DefaultResync
	}
	c := &controller{src: src, mesh: m, clk: clk}
	ticker := clk.NewTicker(resync)
	defer ticker.Stop()
	var delay time.Duration
	for {
		events, cancel := c.subscribe()
		out, delivered := c.follow(ctx, events, ticker.C())
		cancel()
		switch out {
		case outStopped:
			return nil
		case outClosed:
			if delivered {
				delay = 0
				break
			}
			delay = min(max(2*delay, minResubscribeDelay), maxResubscribeDelay)
			m.log.Debug("mesh controller: event stream closed, subscribing again", "retry_in", delay)
			select {
			case <-ctx.Done():
				return nil
			case <-clk.After(delay):
			}
		case outReset, outResync:
			delay = 0
		}
	}
}

// outcome is why follow returned.
type outcome int

const (
	outStopped outcome = iota // ctx is done
	outClosed                 // the event channel closed
	outReset                  // the store's state was replaced
	outResync                 // the resync period passed
)

// controller holds the part of the state that decides routes: every service,
// the tasks that may take connections and every node (for its address).
type controller struct {
	src       StateSource
	mesh      *Mesh
	clk       clock.Clock
	services  map[string]*types.Service
	tasks     map[string]*types.Task
	nodes     map[string]*types.Node
	lastApply time.Time
}

// subscribe reads the whole state, applies it and returns the events that
// follow the read.
func (c *controller) subscribe() (<-chan store.Event, func()) {
	events, cancel := c.src.ViewAndWatch(func(tx store.ReadTx) {
		c.services = make(map[string]*types.Service)
		c.tasks = make(map[string]*types.Task)
		c.nodes = make(map[string]*types.Node)
		for _, n := range tx.Nodes() {
			c.nodes[n.ID] = n
		}
		for _, s := range tx.Services() {
			c.services[s.ID] = s
		}
		for _, t := range tx.Tasks() {
			if routable(t) {
				c.tasks[t.ID] = t
			}
		}
	}, relevant)
	c.apply()
	return events, cancel
}

// relevant keeps the events that can change a route. It runs in the
// store's goroutine, so it only looks at the event.
func relevant(e store.Event) bool {
	switch {
	case e.Action == store.ActionReset || e.Service != nil:
		return true
	case e.Task != nil:
		return routable(e.Task) || (e.OldTask != nil && routable(e.OldTask)) ||
			(e.Action == store.ActionUpdate && e.OldTask == nil)
	case e.Node != nil:
		// Only a node's address is in the table.
		return e.Action != store.ActionUpdate || e.OldNode == nil || e.OldNode.Status.Addr != e.Node.Status.Addr
	}
	return false
}

// follow applies events until the subscription has to be renewed or ctx is
// done. delivered reports whether any event arrived.
func (c *controller) follow(ctx context.Context, events <-chan store.Event, tick <-chan time.Time) (out outcome, delivered bool) {
	var (
		timer <-chan time.Time // set while an Apply is deferred
		dirty bool
	)
	for {
		select {
		case <-ctx.Done():
			return outStopped, delivered
		case <-tick:
			return outResync, delivered
		case <-timer:
			timer = nil
			if dirty {
				dirty = false
				c.apply()
			}
		case ev, ok := <-events:
			if !ok {
				return outClosed, delivered
			}
			delivered = true
			if o, done := c.record(ev); done {
				return o, delivered
			}
			// Take whatever else is queued before deciding to apply.
			for drained := false; !drained; {
				select {
				case ev, ok := <-events:
					if !ok {
						return outClosed, delivered
					}
					if o, done := c.record(ev); done {
						return o, delivered
					}
				default:
					drained = true
				}
			}
			dirty = true
			if timer != nil {
				break
			}
			if wait := ApplyInterval - c.clk.Now().Sub(c.lastApply); wait > 0 {
				timer = c.clk.After(wait)
				break
			}
			dirty = false
			c.apply()
		}
	}
}

// record folds ev into the controller's state; done is true when the
// subscription has to be renewed instead.
func (c *controller) record(ev store.Event) (out outcome, done bool) {
	if ev.Action == store.ActionReset {
		return outReset, true
	}
	if s := ev.Service; s != nil {
		if ev.Action == store.ActionDelete {
			delete(c.services, s.ID)
		} else {
			c.services[s.ID] = s
		}
	}
	if t := ev.Task; t != nil {
		if ev.Action == store.ActionDelete || !routable(t) {
			delete(c.tasks, t.ID)
		} else {
			c.tasks[t.ID] = t
		}
	}
	if n := ev.Node; n != nil {
		if ev.Action == store.ActionDelete {
			delete(c.nodes, n.ID)
		} else {
			c.nodes[n.ID] = n
		}
	}
	return 0, false
}

// apply hands the routes of the current state to the mesh.
func (c *controller) apply() {
	services := slices.Collect(maps.Values(c.services))
	tasks := slices.Collect(maps.Values(c.tasks))
	nodes := slices.Collect(maps.Values(c.nodes))
	// Noted before the mesh changes, so that whoever sees the change also
	// sees when it was made.
	c.lastApply = c.clk.Now()
	c.mesh.Apply(ClusterRoutes(services, tasks, nodes))
}
