package controlapi

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/taskstats"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// StatsSource samples tasks of a node, wherever it is (the daemon: its own
// runtime, or another node's through the Agent RPC service).
type StatsSource interface {
	TaskStats(ctx context.Context, nodeID string, req taskstats.Request, sink func(taskstats.Sample) error) error
}

type statsSource struct{ StatsSource }

// SetStatsSource gives Stats the way to sample the nodes' tasks; without
// one, Stats is unavailable.
func (s *Server) SetStatsSource(src StatsSource) { s.stats.Store(&statsSource{src}) }

// statsSlack is how much longer than its samples take a node has to
// answer a one-frame Stats before its tasks show it as not answering.
const statsSlack = 5 * time.Second

// statsTask is a task Stats samples, and its last two samples.
type statsTask struct {
	t         *types.Task
	host      string
	prev, cur *runtime.Stats
	err       string
}

// Stats samples the running tasks of opts.Services (every running task
// when none is given) on their nodes, all at once, and sends frames of
// rows to sink: one, from two samples of each task a second apart, or,
// with opts.Stream, one every second until ctx is done. A node that is
// down is not asked; one that fails or does not answer shows in its
// tasks' rows as an Error, and the frames go on.
func (s *Server) Stats(ctx context.Context, opts api.StatsOptions, sink func(api.StatsFrame) error) error {
	src := s.stats.Load()
	if src == nil {
		return fmt.Errorf("%w: stats: this node cannot sample tasks", errdefs.ErrUnavailable)
	}
	tasks, err := s.statsTasks(ctx, opts.Services)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	byID := map[string]*statsTask{}
	byNode := map[string][]*types.Task{}
	for _, x := range tasks {
		byID[x.t.ID] = x
		if x.err == "" {
			byNode[x.t.NodeID] = append(byNode[x.t.NodeID], x.t)
		}
	}
	count := 0
	if !opts.Stream {
		count = 2
	}
	var wg sync.WaitGroup
	for nodeID, nts := range byNode {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nctx, ncancel := ctx, context.CancelFunc(func() {})
			if !opts.Stream {
				nctx, ncancel = clock.WithTimeout(ctx, s.clock, time.Duration(count)*taskstats.Interval+statsSlack)
			}
			defer ncancel()
			req := taskstats.Request{Tasks: nts, Interval: taskstats.Interval, Count: count}
			err := src.TaskStats(nctx, nodeID, req, func(x taskstats.Sample) error {
				mu.Lock()
				defer mu.Unlock()
				if st := byID[x.TaskID]; st != nil {
					st.err = x.Error
					if x.Stats != nil {
						st.prev, st.cur = st.cur, x.Stats
					}
				}
				return nil
			})
			if err != nil && ctx.Err() == nil {
				mu.Lock()
				defer mu.Unlock()
				for _, t := range nts {
					byID[t.ID].err = fmt.Sprintf("node %s: %v", byID[t.ID].host, err)
				}
			}
		}()
	}
	frame := func() api.StatsFrame {
		mu.Lock()
		defer mu.Unlock()
		f := api.StatsFrame{Time: s.clock.Now(), Tasks: make([]api.TaskStats, 0, len(tasks))}
		for _, x := range tasks {
			r := taskstats.Row(x.t, x.host, x.prev, x.cur)
			r.Error = x.err
			f.Tasks = append(f.Tasks, r)
		}
		return f
	}
	if !opts.Stream {
		wg.Wait()
		return sink(frame())
	}
	defer wg.Wait()
	tick := s.clock.NewTicker(taskstats.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C():
			if err := sink(frame()); err != nil {
				return err
			}
		}
	}
}

// statsTasks returns the running tasks of the services named (of every
// service when none is), by service name and slot, each with its node's
// hostname, and the trouble of those whose node is down.
func (s *Server) statsTasks(ctx context.Context, refs []string) ([]*statsTask, error) {
	var ids map[string]bool
	if len(refs) > 0 {
		ids = map[string]bool{}
		for _, ref := range refs {
			svc, err := s.GetService(ctx, ref)
			if err != nil {
				return nil, fmt.Errorf("stats: %w", err)
			}
			ids[svc.ID] = true
		}
	}
	var out []*statsTask
	s.view(ctx, func(tx store.ReadTx) {
		for _, t := range tx.Tasks() {
			if ids != nil && !ids[t.ServiceID] || t.DesiredState != types.TaskStateRunning ||
				t.Status.State != types.TaskStateRunning || t.Status.ContainerID == "" {
				continue
			}
			x := &statsTask{t: t.Copy(), host: t.NodeID}
			if n := tx.Node(t.NodeID); n == nil {
				x.err = fmt.Sprintf("node %s is no longer in the cluster", t.NodeID)
			} else {
				x.host = n.Description.Hostname
				if n.Status.State == types.NodeStateDown {
					x.err = fmt.Sprintf("node %s is down", x.host)
				}
			}
			out = append(out, x)
		}
	})
	slices.SortFunc(out, func(a, b *statsTask) int {
		if c := strings.Compare(a.t.ServiceName, b.t.ServiceName); c != 0 {
			return c
		}
		return compareTasks(a.t, b.t)
	})
	return out, nil
}
