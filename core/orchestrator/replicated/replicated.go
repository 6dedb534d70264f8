// Package replicated is the orchestrator of replicated services: it keeps
// exactly Replicas tasks in slots 1…N (web.1 … web.N), creates a task for
// an empty slot, removes the highest slots first when scaled down, applies
// the restart policy to tasks that end, and moves tasks off nodes that are
// drained or gone. Leader only.
package replicated

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
)

// Orchestrator reconciles every replicated service.
type Orchestrator struct {
	store  *store.Store
	clock  clock.Clock
	logger *slog.Logger
	// NewID makes task IDs: identity.NewID unless replaced (core/leader
	// gives it the cluster's generator).
	NewID func() string
	// Resync is the period of the full pass.
	Resync time.Duration
}

// New returns an orchestrator over s.
func New(s *store.Store, clk clock.Clock, logger *slog.Logger) *Orchestrator {
	return &Orchestrator{store: s, clock: clk, logger: logger, NewID: identity.NewID, Resync: 10 * time.Second}
}

// Run reconciles until ctx is done.
func (o *Orchestrator) Run(ctx context.Context) error {
	return controller.Run(ctx, controller.Config{
		Name: "replicated", Source: o.store, Filter: relevant,
		Resync: o.Resync, Clock: o.clock, Logger: o.logger, Pass: o.pass,
	})
}

// relevant selects the events that make the orchestrator run: those of
// orchestrator.TaskOrServiceChange, and a node created, deleted, changing
// availability (a drained node's tasks move away) or going down or up (a
// down node's tasks are replaced elsewhere).
func relevant(ev store.Event) bool {
	if ev.Node != nil {
		return ev.Action != store.ActionUpdate || ev.OldNode == nil ||
			ev.Node.Spec.Availability != ev.OldNode.Spec.Availability ||
			ev.Node.Status.State != ev.OldNode.Status.State
	}
	return orchestrator.TaskOrServiceChange(ev)
}

func (o *Orchestrator) pass(ctx context.Context) (time.Time, error) {
	now := o.clock.Now()
	var plan orchestrator.Plan
	var wake time.Time
	o.store.View(func(tx store.ReadTx) {
		nodes := map[string]*types.Node{}
		for _, n := range tx.Nodes() {
			nodes[n.ID] = n
		}
		for _, svc := range tx.Services() {
			if svc.Spec.Mode != types.ModeReplicated {
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

// Reconcile returns what must change for svc's tasks to match its spec
// (the same plan for the same input: it visits slots in order and takes
// every ID from newID):
// a new task for every empty slot up to Replicas, removal of the tasks in
// slots above it, the restart policy applied within each slot, and the
// replacement of a task whose node (looked up in nodes by ID) is drained
// or gone; a nil nodes skips that check. It also returns the earliest
// time a delayed restart is due (zero if none). While the service's
// update is active, a slot may hold a task of the old spec and one of the
// new (see restart.Slot); replacing old tasks is the update controller's
// work, not this one's.
func Reconcile(svc *types.Service, tasks []*types.Task, nodes map[string]*types.Node, now time.Time, newID func() string) (orchestrator.Plan, time.Time) {
	var plan orchestrator.Plan
	var wake time.Time
	occupying := map[uint64][]*types.Task{}
	others := map[uint64][]*types.Task{}
	for _, t := range tasks {
		switch {
		case t.Slot == 0:
		case orchestrator.Occupies(t):
			occupying[t.Slot] = append(occupying[t.Slot], t)
		default:
			others[t.Slot] = append(others[t.Slot], t)
		}
	}
	for _, slot := range slices.Sorted(maps.Keys(occupying)) {
		ts := occupying[slot]
		if slot > svc.Spec.Replicas {
			for _, t := range ts {
				plan.Desired = append(plan.Desired, orchestrator.DesiredChange{
					TaskID: t.ID, State: types.TaskStateRemove, Message: "removed by scale down"})
			}
			continue
		}
		if p, ok := moveOffInvalidNode(svc, ts, nodes, now, newID); ok {
			plan.Merge(p)
			continue
		}
		p, w := restart.Slot(svc, ts, others[slot], now, newID)
		plan.Merge(p)
		wake = orchestrator.Earliest(wake, w)
	}
	for slot := uint64(1); slot <= svc.Spec.Replicas; slot++ {
		if len(occupying[slot]) == 0 {
			plan.Create = append(plan.Create, orchestrator.NewTask(newID(), svc, slot, "", now))
		}
	}
	return plan, wake
}

// moveOffInvalidNode moves the task kept in a slot off a node it may no
// longer run on, as Swarm does. The replacement goes to the scheduler at
// once (no restart delay and no restart attempt counted: the task did not
// fail), or, if the task was still waiting out a restart delay, waits for
// the rest of it.
//   - On a node that is down or gone, the task is replaced at once: its old
//     desired state becomes shutdown, which the node applies if it returns.
//   - On a drained node, the replacement starts next to it and the old task
//     keeps running until the replacement runs (then the slot has two
//     running tasks and restart.Slot shuts the old one down): no gap.
//
// It reports false when the slot is left to the restart policy.
func moveOffInvalidNode(svc *types.Service, occupying []*types.Task, nodes map[string]*types.Node, now time.Time, newID func() string) (orchestrator.Plan, bool) {
	var plan orchestrator.Plan
	keep, extra := orchestrator.PickKeeper(occupying)
	if nodes == nil || keep.NodeID == "" || restart.Ended(keep) {
		return plan, false
	}
	n := nodes[keep.NodeID]
	gone := n == nil || n.Status.State == types.NodeStateDown
	if !gone && n.Spec.Availability != types.AvailabilityDrain {
		return plan, false
	}
	t := orchestrator.NewTask(newID(), svc, keep.Slot, "", now)
	t.Restart = keep.Restart
	if keep.DesiredState == types.TaskStateReady {
		t.DesiredState, t.NotBefore, t.Status.Message = types.TaskStateReady, keep.NotBefore, keep.Status.Message
	}
	if gone || keep.Status.State != types.TaskStateRunning {
		for _, o := range extra {
			plan.Desired = append(plan.Desired, orchestrator.DesiredChange{TaskID: o.ID, State: types.TaskStateShutdown})
		}
		plan.Replace = append(plan.Replace, orchestrator.Replacement{Old: keep.ID, New: t})
		return plan, true
	}
	// Drained and running: a replacement on a usable node may be starting
	// already; if so, wait for it.
	for _, o := range extra {
		if on := nodes[o.NodeID]; o.NodeID == "" || (on != nil && on.Status.State != types.NodeStateDown && on.Spec.Availability != types.AvailabilityDrain) {
			if !restart.Ended(o) {
				return plan, true
			}
		}
	}
	plan.Move = append(plan.Move, orchestrator.Replacement{Old: keep.ID, New: t})
	return plan, true
}
