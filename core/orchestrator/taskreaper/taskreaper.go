// Package taskreaper bounds the task history: each slot (or node of a
// global service) keeps at most the cluster's task history limit of tasks,
// the current one included, and tasks marked for removal (scale down,
// service removal) are deleted once they have stopped. Deleting a task is
// what tells its node to remove the container. Leader only.
package taskreaper

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/controller"
	"github.com/hiveorch/hive/core/orchestrator"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// Reaper deletes old tasks.
type Reaper struct {
	store  *store.Store
	clock  clock.Clock
	logger *slog.Logger
	Resync time.Duration
}

// New returns a reaper over s.
func New(s *store.Store, clk clock.Clock, logger *slog.Logger) *Reaper {
	return &Reaper{store: s, clock: clk, logger: logger, Resync: 30 * time.Second}
}

// Run reaps until ctx is done.
func (r *Reaper) Run(ctx context.Context) error {
	return controller.Run(ctx, controller.Config{
		Name: "taskreaper", Source: r.store, Filter: orchestrator.TaskOrServiceChange,
		Resync: r.Resync, Clock: r.clock, Logger: r.logger, Pass: r.pass,
	})
}

func (r *Reaper) pass(ctx context.Context) (time.Time, error) {
	var plan orchestrator.Plan
	r.store.View(func(tx store.ReadTx) {
		limit := types.DefaultTaskHistoryLimit
		if c := tx.Cluster(); c != nil && c.Spec.TaskHistoryLimit > 0 {
			limit = c.Spec.TaskHistoryLimit
		}
		services := map[string]bool{}
		for _, s := range tx.Services() {
			services[s.ID] = true
		}
		nodes := map[string]bool{}
		for _, n := range tx.Nodes() {
			nodes[n.ID] = true
		}
		plan = Reconcile(tx.Tasks(), services, nodes, limit)
	})
	if plan.Empty() {
		return time.Time{}, nil
	}
	return time.Time{}, orchestrator.Apply(ctx, r.store, r.clock.Now(), plan)
}

// Reconcile returns the deletions (and, for tasks whose service is gone,
// the removals) that bring the history within limit:
//   - a task desired "remove" is deleted once it stopped, or at once if it
//     never reached a node;
//   - a task no longer meant to run whose node was removed from the
//     cluster is deleted: no node will ever report it stopped;
//   - a task whose service no longer exists is marked for removal;
//   - in each slot, the oldest stopped tasks beyond limit are deleted.
func Reconcile(tasks []*types.Task, services, nodes map[string]bool, limit int) orchestrator.Plan {
	var plan orchestrator.Plan
	groups := map[slotKey][]*types.Task{}
	var keys []slotKey // in order of first appearance, for a stable plan
	for _, t := range tasks {
		switch {
		case t.NodeID != "" && !nodes[t.NodeID] && !orchestrator.Occupies(t):
			plan.Delete = append(plan.Delete, t.ID)
		case t.DesiredState == types.TaskStateRemove:
			if t.Status.State.Terminal() || t.Status.State < types.TaskStateAssigned {
				plan.Delete = append(plan.Delete, t.ID)
			}
		case !services[t.ServiceID]:
			plan.Desired = append(plan.Desired, orchestrator.DesiredChange{TaskID: t.ID, State: types.TaskStateRemove})
		default:
			k := slotKey{t.ServiceID, t.Slot, ""}
			if t.Slot == 0 {
				k.node = t.NodeID
			}
			if groups[k] == nil {
				keys = append(keys, k)
			}
			groups[k] = append(groups[k], t)
		}
	}
	for _, k := range keys {
		ts := groups[k]
		if len(ts) <= limit {
			continue
		}
		slices.SortFunc(ts, orchestrator.Newest)
		excess := len(ts) - limit
		for i := len(ts) - 1; i >= 0 && excess > 0; i-- {
			t := ts[i]
			if orchestrator.Occupies(t) || !t.Status.State.Terminal() {
				continue
			}
			plan.Delete = append(plan.Delete, t.ID)
			excess--
		}
	}
	return plan
}

type slotKey struct {
	service string
	slot    uint64
	node    string
}
