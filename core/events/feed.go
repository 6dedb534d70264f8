package events

import (
	"context"
	"log/slog"
	"time"

	"github.com/hashicorp/raft"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/controller"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// Source is the part of the store the feed reads; *store.Store is one.
type Source interface {
	controller.Source
	View(fn func(store.ReadTx))
}

// Names resolves node IDs to hostnames from src's current state.
func Names(src interface{ View(fn func(store.ReadTx)) }) NodeNames {
	return func(id string) (name string) {
		src.View(func(tx store.ReadTx) {
			if n := tx.Node(id); n != nil {
				name = n.Description.Hostname
			}
		})
		return name
	}
}

// Feed appends the events of every change src applies to ring, from now
// until ctx ends or src closes: the manager's event loop, on
// core/controller's Run (which subscribes again when the store drops it;
// the changes of such a gap are lost to the ring, and the feed logs it).
// A nil ring (events off) returns at once.
func Feed(ctx context.Context, src Source, ring *Ring, clk clock.Clock, logger *slog.Logger) error {
	if ring == nil {
		return nil
	}
	names := Names(src)
	return controller.Run(ctx, controller.Config{
		Name: "events", Source: src, Clock: clk, Logger: logger,
		Pass: func(context.Context) (time.Time, error) { return time.Time{}, nil },
		Observe: func(ev store.Event) {
			if ev.Action == store.ActionReset {
				logger.Warn("event feed restarted after a store reset; changes in between are not in the event ring", "index", ev.Index)
				return
			}
			ring.Append(FromStore(ev, names)...)
		},
	})
}

// LeaderEvent is the local event of a new Raft leader.
func LeaderEvent(id string, names NodeNames) Event {
	attrs := map[string]string{"leader_id": id}
	if names != nil {
		if h := names(id); h != "" {
			attrs["leader"] = h
		}
	}
	return Event{Type: TypeCluster, Action: ActionLeader, Actor: Actor{ID: types.ClusterID, Attributes: attrs}}
}

// UnlockedEvent is the local event of a manager unlocked with the
// cluster's unlock key.
func UnlockedEvent(nodeID, hostname string) Event {
	return Event{Type: TypeCluster, Action: ActionUnlocked, Actor: Actor{ID: types.ClusterID,
		Attributes: map[string]string{"node_id": nodeID, "node": hostname}}}
}

// WatchLeader appends a LeaderEvent to ring each time r reports a new
// leader, until ctx ends. A nil r (a memory store) or ring does nothing.
func WatchLeader(ctx context.Context, r *raft.Raft, ring *Ring, names NodeNames) error {
	if r == nil || ring == nil {
		return nil
	}
	ch := make(chan raft.Observation, 16)
	obs := raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	r.RegisterObserver(obs)
	defer r.DeregisterObserver(obs)
	last := ""
	if _, id := r.LeaderWithID(); id != "" {
		last = string(id)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case o := <-ch:
			id := string(o.Data.(raft.LeaderObservation).LeaderID)
			if id == last {
				continue
			}
			last = id
			if id != "" {
				ring.Append(LeaderEvent(id, names))
			}
		}
	}
}
