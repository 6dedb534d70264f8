package dispatcher

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hiveorch/hive/core/mesh"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// DefaultRouteDelay is Dispatcher.RouteDelay's default.
const DefaultRouteDelay = 50 * time.Millisecond

// routeFeed computes the cluster's routing table once for every session
// and publishes each new one. It runs while at least one session holds
// it: the first acquire computes the table and starts following the store,
// the last release stops.
type routeFeed struct {
	d *Dispatcher

	mu   sync.Mutex
	refs int
	// gen tells the current follower from one a release stopped.
	gen  uint64
	stop context.CancelFunc
	// table is the latest table, version counts the tables published, and
	// changed is closed (and replaced) at each publication.
	table   map[mesh.PortKey]mesh.Route
	version uint64
	changed chan struct{}
}

// acquire starts the feed for one more session.
func (f *routeFeed) acquire() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refs++
	if f.refs > 1 {
		return
	}
	f.gen++
	ctx, cancel := context.WithCancel(context.Background())
	f.stop = cancel
	var table map[mesh.PortKey]mesh.Route
	events, unwatch := f.d.store.ViewAndWatch(func(tx store.ReadTx) { table = routesOf(tx) }, routeEvent)
	f.publishLocked(table)
	go f.follow(ctx, f.gen, events, unwatch)
}

// release ends one session's use of the feed.
func (f *routeFeed) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refs--
	if f.refs == 0 {
		f.stop()
		f.stop = nil
	}
}

// current returns the latest table, its version, and a channel closed when
// a newer one is published.
func (f *routeFeed) current() (map[mesh.PortKey]mesh.Route, uint64, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.changed == nil {
		f.changed = make(chan struct{})
	}
	return f.table, f.version, f.changed
}

// publishLocked makes table the latest when it differs from it.
func (f *routeFeed) publishLocked(table map[mesh.PortKey]mesh.Route) {
	if f.version > 0 && maps.EqualFunc(f.table, table, equalRoute) {
		return
	}
	f.table = table
	f.version++
	if f.changed != nil {
		close(f.changed)
	}
	f.changed = make(chan struct{})
}

// follow recomputes the table after each burst of relevant events until
// ctx ends.
func (f *routeFeed) follow(ctx context.Context, gen uint64, events <-chan store.Event, unwatch func()) {
	defer func() { unwatch() }()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-events:
			if !ok {
				select {
				case <-f.d.store.Done():
					return
				default:
				}
				// Dropped for falling behind: subscribe again and
				// recompute.
				unwatch()
				events, unwatch = f.d.store.ViewAndWatch(nil, routeEvent)
			}
			if delay := f.d.RouteDelay; delay > 0 {
				select {
				case <-ctx.Done():
					return
				case <-f.d.clock.After(delay):
				}
			}
			drain(events)
			var table map[mesh.PortKey]mesh.Route
			f.d.store.View(func(tx store.ReadTx) { table = routesOf(tx) })
			f.mu.Lock()
			if f.gen == gen {
				f.publishLocked(table)
			}
			f.mu.Unlock()
		}
	}
}

func routesOf(tx store.ReadTx) map[mesh.PortKey]mesh.Route {
	return mesh.ClusterRoutes(tx.Services(), tx.Tasks(), tx.Nodes())
}

// routeEvent picks the events that can change the routing table: any
// service change, a node's address changing, and task changes that touch a
// running task.
func routeEvent(ev store.Event) bool {
	if ev.Service != nil || ev.Action == store.ActionReset {
		return true
	}
	if ev.Node != nil {
		return ev.OldNode == nil || ev.Node.Status.Addr != ev.OldNode.Status.Addr
	}
	if ev.Task == nil {
		return false
	}
	return maybeRoutable(ev.Task) || (ev.OldTask != nil && maybeRoutable(ev.OldTask))
}

// maybeRoutable is true of a task mesh.ClusterRoutes may route to.
func maybeRoutable(t *types.Task) bool {
	return t.DesiredState == types.TaskStateRunning && t.Status.State == types.TaskStateRunning
}

func equalRoute(a, b mesh.Route) bool {
	return a.ServiceID == b.ServiceID && a.ServiceName == b.ServiceName && slices.Equal(a.Backends, b.Backends)
}
