package dispatcher

import (
	"context"
	"maps"
	"sync"
	"time"

	"github.com/hiveorch/hive/core/controller"
	"github.com/hiveorch/hive/core/mesh"
	"github.com/hiveorch/hive/core/store"
)

// DefaultRouteDelay is Dispatcher.RouteDelay's default.
const DefaultRouteDelay = 50 * time.Millisecond

// routeFeed computes the cluster's routing table once for every session
// and publishes each new one: it is the one place the table is computed.
// It runs while at least one session holds it: the first acquire computes
// the table and starts following the store, the last release stops.
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
	gen := f.gen
	ctx, cancel := context.WithCancel(context.Background())
	f.stop = cancel
	f.publishLocked(f.compute())
	go controller.Run(ctx, controller.Config{
		Name: "routes", Source: f.d.store, Filter: mesh.RouteEvent, Debounce: f.d.RouteDelay,
		Clock: f.d.clock, Logger: f.d.logger,
		Pass: func(context.Context) (time.Time, error) {
			table := f.compute()
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.gen == gen {
				f.publishLocked(table)
			}
			return time.Time{}, nil
		},
	})
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
	if f.version > 0 && maps.EqualFunc(f.table, table, mesh.Route.Equal) {
		return
	}
	f.table = table
	f.version++
	if f.changed != nil {
		close(f.changed)
	}
	f.changed = make(chan struct{})
}

// compute reads the routing table from the store.
func (f *routeFeed) compute() map[mesh.PortKey]mesh.Route {
	var table map[mesh.PortKey]mesh.Route
	f.d.store.View(func(tx store.ReadTx) { table = mesh.ClusterRoutes(tx.Services(), tx.Tasks(), tx.Nodes()) })
	return table
}
