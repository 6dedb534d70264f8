// Package global is the orchestrator of global services: one task on every
// eligible node. A node is eligible when it is ready, active and meets the
// service's constraints; a task stays on a paused or unreachable node but
// is shut down on a drained node, a removed node, or a node that no longer
// meets the constraints. The restart policy applies per node. Leader only.
package global

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/controller"
	"github.com/hiveorch/hive/core/identity"
	"github.com/hiveorch/hive/core/orchestrator"
	"github.com/hiveorch/hive/core/orchestrator/restart"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/scheduler"
)

// Orchestrator reconciles every global service.
type Orchestrator struct {
	store  *store.Store
	clock  clock.Clock
	logger *slog.Logger
	// NewID makes task IDs: identity.NewID unless replaced (core/leader
	// gives it the cluster's generator).
	NewID  func() string
	Resync time.Duration
}

// New returns an orchestrator over s.
func New(s *store.Store, clk clock.Clock, logger *slog.Logger) *Orchestrator {
	return &Orchestrator{store: s, clock: clk, logger: logger, NewID: identity.NewID, Resync: 10 * time.Second}
}

// Run reconciles until ctx is done.
func (o *Orchestrator) Run(ctx context.Context) error {
	return controller.Run(ctx, controller.Config{
		Name: "global", Source: o.store, Filter: relevant,
		Resync: o.Resync, Clock: o.clock, Logger: o.logger, Pass: o.pass,
	})
}

func relevant(ev store.Event) bool {
	if ev.Node != nil {
		if ev.Action != store.ActionUpdate || ev.OldNode == nil {
			return true
		}
		return ev.Node.Status.State != ev.OldNode.Status.State ||
			ev.Node.Spec.Availability != ev.OldNode.Spec.Availability ||
			!maps.Equal(ev.Node.Spec.Labels, ev.OldNode.Spec.Labels) ||
			ev.Node.Spec.Role != ev.OldNode.Spec.Role
	}
	return orchestrator.TaskOrServiceChange(ev)
}

func (o *Orchestrator) pass(ctx context.Context) (time.Time, error) {
	now := o.clock.Now()
	var plan orchestrator.Plan
	var wake time.Time
	o.store.View(func(tx store.ReadTx) {
		nodes := tx.Nodes()
		for _, svc := range tx.Services() {
			if svc.Spec.Mode != types.ModeGlobal {
				continue
			}
			p, w := Reconcile(svc, tx.TasksByService(svc.ID), nodes, now, o.NewID)
			plan.Merge(p)
			wake = orchestrator.Earliest(wake, w)
		}
	})
	if plan.Empty() {
		return wake, nil
	}
	return wake, orchestrator.Apply(ctx, o.store, now, plan)
}

// Reconcile returns what must change for svc to run one task on every
// eligible node, and the earliest time a delayed restart is due. It visits
// nodes in ID order and takes every ID from newID: the same input gives
// the same plan.
func Reconcile(svc *types.Service, tasks []*types.Task, nodes []*types.Node, now time.Time, newID func() string) (orchestrator.Plan, time.Time) {
	var plan orchestrator.Plan
	var wake time.Time
	constraints, err := scheduler.ParseConstraints(svc.Spec.Task.Placement.Constraints)
	if err != nil {
		// Specs are validated on the way in; a spec that does not parse
		// runs nowhere rather than everywhere.
		constraints = []scheduler.Constraint{{Key: "node.id", Equal: true, Value: "\x00invalid"}}
	}
	byID := map[string]*types.Node{}
	for _, n := range nodes {
		byID[n.ID] = n
	}
	occupying := map[string][]*types.Task{}
	others := map[string][]*types.Task{}
	for _, t := range tasks {
		switch {
		case t.Slot != 0:
		case orchestrator.Occupies(t):
			occupying[t.NodeID] = append(occupying[t.NodeID], t)
		default:
			others[t.NodeID] = append(others[t.NodeID], t)
		}
	}
	for _, nodeID := range slices.Sorted(maps.Keys(occupying)) {
		ts := occupying[nodeID]
		n := byID[nodeID]
		if n == nil || n.Spec.Availability == types.AvailabilityDrain || !orchestrator.NodeMatches(constraints, n) {
			for _, t := range ts {
				plan.Desired = append(plan.Desired, orchestrator.DesiredChange{
					TaskID: t.ID, State: types.TaskStateShutdown, Message: "node no longer eligible"})
			}
			continue
		}
		p, w := restart.Slot(svc, ts, others[nodeID], now, newID)
		plan.Merge(p)
		wake = orchestrator.Earliest(wake, w)
	}
	for _, n := range nodes {
		if len(occupying[n.ID]) > 0 || n.Status.State != types.NodeStateReady ||
			n.Spec.Availability != types.AvailabilityActive || !orchestrator.NodeMatches(constraints, n) {
			continue
		}
		plan.Create = append(plan.Create, orchestrator.NewTask(newID(), svc, 0, n.ID, now))
	}
	return plan, wake
}
