package daemon

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hiveorch/hive/core/controller"
	"github.com/hiveorch/hive/core/leader"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// leadership runs the leader-only controllers while this manager leads:
// they start when it becomes leader (the store reports leadership once it
// has applied every committed entry) and stop when it loses leadership.
// current is called once the leader's state is known to be current.
func (d *daemon) leadership(ctx context.Context, current func()) error {
	leaderCh := d.store.LeaderCh()
	var term *leaderTerm
	defer func() { term.end() }()
	for {
		var done <-chan error
		if term != nil {
			done = term.done
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-done:
			term = nil
			if err != nil {
				return err
			}
		case leader, ok := <-leaderCh:
			switch {
			case !ok:
				return nil
			case !leader && term != nil:
				term.end()
				term = nil
				d.logger.Info("controllers stopped: no longer the leader")
			case leader && term == nil:
				term = d.startTerm(ctx, current)
			}
		}
	}
}

// leaderTerm is one period of leadership: the controllers run until end.
type leaderTerm struct {
	cancel context.CancelFunc
	done   chan error
}

func (d *daemon) startTerm(ctx context.Context, current func()) *leaderTerm {
	lctx, cancel := context.WithCancel(ctx)
	t := &leaderTerm{cancel: cancel, done: make(chan error, 1)}
	go func() { t.done <- d.lead(lctx, current) }()
	return t
}

// end stops the term's controllers and waits for them.
func (t *leaderTerm) end() {
	if t == nil {
		return
	}
	t.cancel()
	<-t.done
}

// lead makes the store current, prepares the cluster records and runs the
// leader's controllers (core/leader) and Raft membership until ctx is
// done.
func (d *daemon) lead(ctx context.Context, current func()) error {
	// The store reports leadership only after a Raft barrier, so every
	// entry committed by earlier leaders is applied by now.
	if err := d.ensureCluster(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("prepare cluster records: %w", err)
	}
	current()
	d.logger.Info("this manager is the leader; controllers started")
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range leader.Controllers(leader.Deps{Store: d.store, Clock: d.clock, Logger: d.logger,
		Scheduler: d.scheduler, Heartbeats: d.dispatcher}) {
		g.Go(func() error { return c.Run(gctx) })
	}
	g.Go(func() error { return d.membership(gctx) })
	return g.Wait()
}

// membership keeps the Raft group in step with the managers the cluster
// has: a manager that was demoted or removed leaves the group (when it is
// this leader, it first hands leadership over). Managers join the group by
// themselves once their Raft runs (ensureVoter).
func (d *daemon) membership(ctx context.Context) error {
	return controller.Run(ctx, controller.Config{
		Name: "membership", Source: d.store, Resync: 2 * time.Second, Clock: d.clock,
		Logger: d.logger.With("component", "membership"),
		Filter: func(ev store.Event) bool { return ev.Node != nil || ev.Action == store.ActionReset },
		Pass: func(ctx context.Context) (time.Time, error) {
			roles := map[string]types.NodeRole{}
			d.store.View(func(tx store.ReadTx) {
				for _, n := range tx.Nodes() {
					roles[n.ID] = n.Spec.Role
				}
			})
			for _, m := range d.store.Members() {
				if roles[m.ID] == types.RoleManager {
					continue
				}
				if m.ID == d.state.NodeID {
					d.logger.Info("this leader was demoted: handing leadership over")
					if err := d.store.Raft().LeadershipTransfer().Error(); err != nil {
						return time.Time{}, fmt.Errorf("hand leadership over: %w", err)
					}
					return time.Time{}, nil
				}
				if err := d.store.RemoveServer(ctx, m.ID); err != nil {
					return time.Time{}, fmt.Errorf("remove %s from the Raft group: %w", m.ID, err)
				}
				d.logger.Info("manager left the Raft group", "member_id", m.ID)
			}
			return time.Time{}, nil
		},
	})
}
