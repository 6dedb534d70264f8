// Package nodehealth is the leader-only controller that decides whether a
// node is alive. Nodes send heartbeats to the leader's dispatcher; a node
// whose last heartbeat is older than the grace period is marked down, and
// the orchestrators then replace its tasks elsewhere. A node that registers
// again is marked ready by the dispatcher.
//
// The heartbeat period grows with the cluster as Nomad's does (the leader
// must not drown in heartbeats): one second up to 50 nodes, then nodes/50
// seconds. The grace period is three periods, so a network blip shorter
// than that moves nothing, and on a small cluster a dead host is noticed
// within about three seconds.
package nodehealth

import (
	"context"
	"log/slog"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/controller"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// Tuning of the heartbeat period.
const (
	MinPeriod            = time.Second
	MaxHeartbeatsPerSec  = 50
	GracePeriods         = 3
	DownMessage          = "heartbeat failure: the node stopped answering"
	defaultResyncDivider = 2
)

// Period is the heartbeat period for a cluster of n nodes.
func Period(n int) time.Duration {
	p := time.Duration(n) * time.Second / MaxHeartbeatsPerSec
	return max(p, MinPeriod)
}

// Grace is how long a node may stay silent before it is marked down.
func Grace(n int) time.Duration { return GracePeriods * Period(n) }

// Heartbeats tells when each node was last heard from.
type Heartbeats interface {
	LastSeen(nodeID string) time.Time
}

// Controller marks silent nodes down.
type Controller struct {
	store  *store.Store
	beats  Heartbeats
	clock  clock.Clock
	logger *slog.Logger
	// since is when this leadership term started: a node not heard from
	// since then gets its full grace period from that moment.
	since time.Time
}

// New returns a controller; it is meant to run for one leadership term.
func New(s *store.Store, beats Heartbeats, clk clock.Clock, logger *slog.Logger) *Controller {
	return &Controller{store: s, beats: beats, clock: clk, logger: logger}
}

// Run checks the nodes until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	c.since = c.clock.Now()
	return controller.Run(ctx, controller.Config{
		Name: "nodehealth", Source: c.store,
		Filter: func(ev store.Event) bool { return ev.Node != nil || ev.Action == store.ActionReset },
		Resync: MinPeriod / defaultResyncDivider, Clock: c.clock, Logger: c.logger, Pass: c.pass,
	})
}

func (c *Controller) pass(ctx context.Context) (time.Time, error) {
	now := c.clock.Now()
	var nodes []*types.Node
	c.store.View(func(tx store.ReadTx) { nodes = tx.Nodes() })
	down, wake := Reconcile(nodes, c.beats, c.since, now)
	if len(down) == 0 {
		return wake, nil
	}
	err := c.store.Update(ctx, func(tx store.Tx) error {
		for _, id := range down {
			cur := tx.Node(id)
			if cur == nil || cur.Status.State != types.NodeStateReady {
				continue
			}
			n := cur.Copy()
			n.Status.State = types.NodeStateDown
			n.Status.Message = DownMessage
			if err := tx.UpdateNode(n); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		for _, id := range down {
			c.logger.Warn("node marked down: no heartbeat within the grace period", "node_id", id, "grace", Grace(len(nodes)))
		}
	}
	return wake, err
}

// Reconcile returns the ready nodes that have been silent for longer than
// the grace period, and when to look again.
func Reconcile(nodes []*types.Node, beats Heartbeats, since, now time.Time) (down []string, wake time.Time) {
	grace := Grace(len(nodes))
	for _, n := range nodes {
		if n.Status.State != types.NodeStateReady {
			continue
		}
		last := beats.LastSeen(n.ID)
		if last.Before(since) {
			last = since
		}
		deadline := last.Add(grace)
		if !now.Before(deadline) {
			down = append(down, n.ID)
			continue
		}
		if wake.IsZero() || deadline.Before(wake) {
			wake = deadline
		}
	}
	return down, wake
}
