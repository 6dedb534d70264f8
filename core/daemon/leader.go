package daemon

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/hiveorch/hive/core/orchestrator/global"
	"github.com/hiveorch/hive/core/orchestrator/replicated"
	"github.com/hiveorch/hive/core/orchestrator/taskreaper"
	"github.com/hiveorch/hive/core/scheduler"
)

// leadership runs the leader-only controllers while this manager leads:
// they start when it becomes leader (the store reports leadership once it
// has applied every committed entry) and stop when it loses leadership. caughtUp is closed
// the first time the store is known to be current, which is when the local
// agent may trust the assignments it is sent.
func (d *daemon) leadership(ctx context.Context, caughtUp chan<- struct{}) error {
	var once sync.Once
	current := func() { once.Do(func() { close(caughtUp) }) }
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
// controllers until ctx is done.
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
	log := d.logger.With("component", "orchestrator")
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return replicated.New(d.store, d.clock, log).Run(gctx) })
	g.Go(func() error { return global.New(d.store, d.clock, log).Run(gctx) })
	g.Go(func() error { return taskreaper.New(d.store, d.clock, log).Run(gctx) })
	g.Go(func() error {
		return scheduler.New(d.store, d.scheduler, d.clock, d.logger.With("component", "scheduler")).Run(gctx)
	})
	return g.Wait()
}
