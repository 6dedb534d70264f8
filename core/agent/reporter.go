package agent

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/session"
	"github.com/hiveorch/hive/core/types"
)

// reporter batches task statuses: the latest status of each task is kept
// and sent with the others at most every batchWindow. A failed send is
// retried with the statuses merged with newer ones.
type reporter struct {
	nodeID string
	mgr    session.Manager
	clock  clock.Clock
	logger *slog.Logger

	mu      sync.Mutex
	pending map[string]types.TaskStatus
	kick    chan struct{}
}

const batchWindow = 50 * time.Millisecond

func newReporter(nodeID string, mgr session.Manager, clk clock.Clock, logger *slog.Logger) *reporter {
	return &reporter{nodeID: nodeID, mgr: mgr, clock: clk, logger: logger,
		pending: map[string]types.TaskStatus{}, kick: make(chan struct{}, 1)}
}

// report queues a task's status.
func (r *reporter) report(taskID string, st types.TaskStatus) {
	r.mu.Lock()
	r.pending[taskID] = st
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *reporter) run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		}
		// Let a burst of reports gather into one batch.
		select {
		case <-ctx.Done():
			return
		case <-r.clock.After(batchWindow):
		}
		r.mu.Lock()
		batch := r.pending
		r.pending = map[string]types.TaskStatus{}
		r.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		updates := make([]session.StatusUpdate, 0, len(batch))
		for id, st := range batch {
			updates = append(updates, session.StatusUpdate{TaskID: id, Status: st})
		}
		if err := r.mgr.UpdateTaskStatus(ctx, r.nodeID, updates); err != nil {
			if ctx.Err() != nil {
				return
			}
			r.logger.Warn("report task status failed; retrying", "error", err, "tasks", len(updates))
			r.mu.Lock()
			for id, st := range batch {
				if _, newer := r.pending[id]; !newer {
					r.pending[id] = st
				}
			}
			r.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-r.clock.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			r.kickSelf()
			continue
		}
		backoff = 100 * time.Millisecond
	}
}

func (r *reporter) kickSelf() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}
