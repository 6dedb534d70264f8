// Package replicated is the orchestrator of replicated services: it keeps
// exactly Replicas tasks in slots 1…N (web.1 … web.N), creates a task for
// an empty slot, removes the highest slots first when scaled down, and
// applies the restart policy to tasks that end. Leader only.
package replicated

import (
	"context"
	"log/slog"
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
	// NewID makes task IDs; tests replace it to get stable IDs.
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
		Name: "replicated", Source: o.store, Filter: orchestrator.TaskOrServiceChange,
		Resync: o.Resync, Clock: o.clock, Logger: o.logger, Pass: o.pass,
	})
}

func (o *Orchestrator) pass(ctx context.Context) (time.Time, error) {
	now := o.clock.Now()
	var plan orchestrator.Plan
	var wake time.Time
	o.store.View(func(tx store.ReadTx) {
		for _, svc := range tx.Services() {
			if svc.Spec.Mode != types.ModeReplicated {
				continue
			}
			p, w := Reconcile(svc, tx.TasksByService(svc.ID), now, o.NewID)
			plan.Merge(p)
			wake = orchestrator.Earliest(wake, w)
		}
	})
	if plan.Empty() {
		return wake, nil
	}
	return wake, orchestrator.Apply(ctx, o.store, now, plan)
}

// Reconcile returns what must change for svc's tasks to match its spec:
// a new task for every empty slot up to Replicas, removal of the tasks in
// slots above it, and the restart policy applied within each slot. It also
// returns the earliest time a delayed restart is due (zero if none).
func Reconcile(svc *types.Service, tasks []*types.Task, now time.Time, newID func() string) (orchestrator.Plan, time.Time) {
	var plan orchestrator.Plan
	var wake time.Time
	occupying := map[uint64][]*types.Task{}
	for _, t := range tasks {
		if orchestrator.Occupies(t) && t.Slot > 0 {
			occupying[t.Slot] = append(occupying[t.Slot], t)
		}
	}
	for slot, ts := range occupying {
		if slot > svc.Spec.Replicas {
			for _, t := range ts {
				plan.Desired = append(plan.Desired, orchestrator.DesiredChange{
					TaskID: t.ID, State: types.TaskStateRemove, Message: "removed by scale down"})
			}
			continue
		}
		p, w := restart.Slot(svc, ts, now, newID)
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
