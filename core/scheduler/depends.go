package scheduler

import (
	"context"
	"fmt"
	"slices"

	"github.com/hiveorch/hive/core/orchestrator/depends"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// MsgWaitingForDependencies is the message of a task held pending because
// its service's dependencies are unmet; its error says which and why.
const MsgWaitingForDependencies = "waiting for dependencies"

// Gate decides whether a task waiting for a node is held back from the
// plugin, and why.
type Gate func(t *types.Task) (reason string, hold bool)

// Held is a task a Gate held back, with the reason.
type Held struct {
	TaskID string
	Reason string
}

// DependsGate returns the Gate of depends_on over one consistent read: it
// holds a task whose service's dependencies are unmet (depends.Check),
// with the reason. It checks each service once, so that a pass over many
// tasks of a service costs one check. A task whose service is gone is not
// held (its orchestrator removes it).
func DependsGate(tx store.ReadTx) Gate {
	type result struct {
		ok     bool
		reason string
	}
	checked := map[string]result{}
	return func(t *types.Task) (string, bool) {
		r, seen := checked[t.ServiceID]
		if !seen {
			r.ok = true
			if svc := tx.Service(t.ServiceID); svc != nil && len(svc.Spec.DependsOn) > 0 {
				r.ok, r.reason = depends.Check(tx, &svc.Spec)
			}
			checked[t.ServiceID] = r
		}
		return r.reason, !r.ok
	}
}

// hold writes the held tasks pending with their reasons. Each write is
// guarded in its transaction: a task no longer waiting for a node, or
// whose dependencies are met by now (the next pass places it), is left
// alone, and a task already pending with the current reason is not
// written again.
func (d *Driver) hold(ctx context.Context, held []Held) error {
	now := d.clock.Now()
	for batch := range slices.Chunk(held, BatchSize) {
		err := d.store.Update(ctx, func(tx store.Tx) error {
			gate := DependsGate(tx)
			for _, h := range batch {
				cur := tx.Task(h.TaskID)
				if cur == nil || !needsNode(cur) {
					continue
				}
				reason, still := gate(cur)
				if !still || (cur.Status.State == types.TaskStatePending && cur.Status.Err == reason &&
					cur.Status.Message == MsgWaitingForDependencies) {
					continue
				}
				t := cur.Copy()
				t.Status = types.TaskStatus{State: types.TaskStatePending, Timestamp: now, Message: MsgWaitingForDependencies, Err: reason}
				if err := tx.UpdateTask(t); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("record tasks waiting for dependencies: %w", err)
		}
	}
	return nil
}
