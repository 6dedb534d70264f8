// Package leader is the one list of the controllers that run on the
// leader only: the replicated and global orchestrators, the task reaper,
// the update controller, the network address allocator, the scheduler
// driver and node health. The daemon
// (core/daemon, leader.go) runs them for each term of leadership, beside
// what only a real manager has (Raft membership); the simulator
// (core/sim) runs the same list, so a scenario exercises what the daemon
// runs.
package leader

import (
	"context"
	"log/slog"

	"github.com/hiveorch/hive/core/allocator"
	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/identity"
	"github.com/hiveorch/hive/core/nodehealth"
	"github.com/hiveorch/hive/core/orchestrator/global"
	"github.com/hiveorch/hive/core/orchestrator/replicated"
	"github.com/hiveorch/hive/core/orchestrator/taskreaper"
	"github.com/hiveorch/hive/core/orchestrator/update"
	"github.com/hiveorch/hive/core/scheduler"
	"github.com/hiveorch/hive/core/store"
	sdksched "github.com/hiveorch/hive/plugins/sdk/scheduler"
)

// Deps is what the controllers need.
type Deps struct {
	Store  *store.Store
	Clock  clock.Clock
	Logger *slog.Logger
	// Scheduler is the scheduler plugin.
	Scheduler sdksched.Scheduler
	// Heartbeats says when each node was last heard from (the
	// dispatcher).
	Heartbeats nodehealth.Heartbeats
	// IDs returns the generator of the task IDs a controller mints, by
	// the controller's name; nil means identity.Random for all.
	IDs func(controller string) identity.Generator
}

// Controller is one leader-only controller: Run returns when ctx is done.
type Controller struct {
	Name string
	Run  func(ctx context.Context) error
}

// Controllers returns the leader's controllers, each new, with nothing in
// memory: call it at the start of every term.
func Controllers(d Deps) []Controller {
	ids := func(name string) func() string {
		if d.IDs == nil {
			return identity.NewID
		}
		return d.IDs(name).NewID
	}
	orch := d.Logger.With("component", "orchestrator")
	r := replicated.New(d.Store, d.Clock, orch)
	r.NewID = ids("replicated")
	g := global.New(d.Store, d.Clock, orch)
	g.NewID = ids("global")
	u := update.New(d.Store, d.Clock, orch)
	u.NewID = ids("update")
	return []Controller{
		{"replicated", r.Run},
		{"global", g.Run},
		{"taskreaper", taskreaper.New(d.Store, d.Clock, orch).Run},
		{"update", u.Run},
		{"allocator", allocator.New(d.Store, d.Clock, d.Logger.With("component", "allocator")).Run},
		{"scheduler", scheduler.New(d.Store, d.Scheduler, d.Clock, d.Logger.With("component", "scheduler")).Run},
		{"nodehealth", nodehealth.New(d.Store, d.Heartbeats, d.Clock, d.Logger.With("component", "nodehealth")).Run},
	}
}
