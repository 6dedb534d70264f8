// Package update is the update controller: it rolls a change of a
// service's task spec out to the service's tasks, slot by slot, without
// downtime, and rolls it back when it fails. Leader only.
//
// It is split as every controller is: the event plumbing here, a pure
// Reconcile over (service, tasks, now) that returns a Plan, and an applier
// (Apply) whose guards make a plan computed from a stale read harmless.
// It keeps no progress in memory: the service's UpdateStatus (state, the
// SpecVersion the update began at, the failures counted) and the tasks
// themselves say how far the update is, so a new leader, or hive after a
// kill -9, carries it on from where it was, and no slot ever runs two
// tasks but for the moment a start-first update needs.
//
// The control API starts an update (status "updating") when a spec change
// touches the task spec or the ports, resumes a paused one on any change,
// and starts a rollback (`hive service rollback`). The replicated and
// global orchestrators keep applying the restart policy meanwhile, made
// aware of updates in core/orchestrator/restart: they tolerate an old and
// a new task in one slot, and start a stop-first replacement only once
// the task it replaces has stopped.
package update

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/controller"
	"github.com/hiveorch/hive/core/identity"
	"github.com/hiveorch/hive/core/orchestrator"
	"github.com/hiveorch/hive/core/store"
)

// Controller moves the rolling updates of every service on.
type Controller struct {
	store  *store.Store
	clock  clock.Clock
	logger *slog.Logger
	// NewID makes task IDs: identity.NewID unless replaced (core/leader
	// gives it the cluster's generator).
	NewID func() string
	// Resync is the period of the full pass.
	Resync time.Duration
}

// New returns a controller over s.
func New(s *store.Store, clk clock.Clock, logger *slog.Logger) *Controller {
	return &Controller{store: s, clock: clk, logger: logger, NewID: identity.NewID, Resync: 10 * time.Second}
}

// Run moves updates on until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	return controller.Run(ctx, controller.Config{
		Name: "update", Source: c.store, Filter: relevant,
		Resync: c.Resync, Clock: c.clock, Logger: c.logger, Pass: c.pass,
	})
}

// relevant selects the events that can move an update: any service
// change, a task created or deleted, and a task whose desired or observed
// state changed (a new task running is what lets the next slot start).
func relevant(ev store.Event) bool {
	switch {
	case ev.Action == store.ActionReset, ev.Service != nil:
		return true
	case ev.Task != nil:
		if ev.Action != store.ActionUpdate || ev.OldTask == nil {
			return true
		}
		return ev.Task.DesiredState != ev.OldTask.DesiredState || ev.Task.Status.State != ev.OldTask.Status.State
	}
	return false
}

func (c *Controller) pass(ctx context.Context) (time.Time, error) {
	now := c.clock.Now()
	var plans []Plan
	var wake time.Time
	c.store.View(func(tx store.ReadTx) {
		for _, svc := range tx.Services() {
			p, w := Reconcile(svc, tx.TasksByService(svc.ID), now, c.NewID)
			if !p.Empty() {
				plans = append(plans, p)
			}
			wake = orchestrator.Earliest(wake, w)
		}
	})
	var errs []error
	for _, p := range plans {
		if p.Status != nil && p.Status.State != p.State {
			c.logger.Info("update status", "service_id", p.ServiceID, "state", p.Status.State, "message", p.Status.Message)
		}
		if err := Apply(ctx, c.store, now, p); err != nil {
			errs = append(errs, err)
		}
	}
	return wake, errors.Join(errs...)
}
