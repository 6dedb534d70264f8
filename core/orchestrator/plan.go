package orchestrator

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// Plan is what a reconcile pass wants changed. Applying a plan computed
// from a stale read is safe: every change carries a guard checked against
// the current state inside the transaction, and a change whose guard fails
// is dropped (the next pass sees the new state and decides again).
type Plan struct {
	// Create adds tasks. Guard: the service still exists and the task's
	// slot (replicated) or node (global) has no occupying task.
	Create []*types.Task
	// Replace ends a task and starts its replacement in one step. Guard:
	// the old task still occupies its slot.
	Replace []Replacement
	// StartFirst adds a task to a slot whose current task keeps running
	// until the new one runs (a start-first update). Guard: the service
	// still has the task's SpecVersion and no task occupying the slot is
	// up to date with it.
	StartFirst []*types.Task
	// Move starts a task's replacement next to it, on another node, while
	// the old task keeps running (a drained node's tasks leave without a
	// gap); the orchestrator shuts the old one down once the new one runs.
	// Guard: the old task still occupies its slot and is alone in it.
	Move []Replacement
	// Desired raises tasks' desired states. Guard: desired states only go
	// up (ready < running < shutdown < remove).
	Desired []DesiredChange
	// Delete removes tasks from the store. Guard: the task no longer
	// occupies a slot.
	Delete []string
}

// Replacement replaces the task Old with New.
type Replacement struct {
	Old string
	New *types.Task
}

// DesiredChange sets a task's desired state.
type DesiredChange struct {
	TaskID string
	State  types.TaskState
	// Message, when set, becomes the task's status message if the task has
	// not started yet (so `service ps` says why it will not run).
	Message string
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool {
	return len(p.Create) == 0 && len(p.Replace) == 0 && len(p.StartFirst) == 0 && len(p.Move) == 0 &&
		len(p.Desired) == 0 && len(p.Delete) == 0
}

// Merge appends o's changes to p.
func (p *Plan) Merge(o Plan) {
	p.Create = append(p.Create, o.Create...)
	p.Replace = append(p.Replace, o.Replace...)
	p.StartFirst = append(p.StartFirst, o.StartFirst...)
	p.Move = append(p.Move, o.Move...)
	p.Desired = append(p.Desired, o.Desired...)
	p.Delete = append(p.Delete, o.Delete...)
}

// Occupies reports whether t holds its slot: its desired state is ready or
// running, whatever it is doing. A task that ended and was not restarted
// (restart condition none) still holds its slot, as in Swarm.
func Occupies(t *types.Task) bool { return t.DesiredState <= types.TaskStateRunning }

// maxChangesPerCommand bounds one Raft command.
const maxChangesPerCommand = 200

// Apply writes the plan through s in commands of at most 200 changes each.
// It returns the first store error other than a failed guard.
func Apply(ctx context.Context, s *store.Store, now time.Time, p Plan) error {
	type change func(tx store.Tx) error
	var changes []change
	for _, t := range p.Create {
		changes = append(changes, func(tx store.Tx) error { return create(tx, t) })
	}
	for _, r := range p.Replace {
		changes = append(changes, func(tx store.Tx) error { return replace(tx, r) })
	}
	for _, t := range p.StartFirst {
		changes = append(changes, func(tx store.Tx) error { return startFirst(tx, t) })
	}
	for _, r := range p.Move {
		changes = append(changes, func(tx store.Tx) error { return move(tx, r) })
	}
	for _, d := range p.Desired {
		changes = append(changes, func(tx store.Tx) error { return setDesired(tx, d, now) })
	}
	for _, id := range p.Delete {
		changes = append(changes, func(tx store.Tx) error { return remove(tx, id) })
	}
	for batch := range slices.Chunk(changes, maxChangesPerCommand) {
		err := s.Update(ctx, func(tx store.Tx) error {
			for _, c := range batch {
				if err := c(tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("apply plan: %w", err)
		}
	}
	return nil
}

func create(tx store.Tx, t *types.Task) error {
	if tx.Service(t.ServiceID) == nil || slotTaken(tx, t) {
		return nil
	}
	return tx.CreateTask(t.Copy())
}

func slotTaken(tx store.Tx, t *types.Task) bool {
	return slices.ContainsFunc(slotTasks(tx, t), Occupies)
}

// slotTasks returns the tasks of t's slot: its slot of a replicated
// service, or its node of a global one.
func slotTasks(tx store.ReadTx, t *types.Task) []*types.Task {
	if t.Slot > 0 {
		return tx.TasksBySlot(t.ServiceID, t.Slot)
	}
	var out []*types.Task
	for _, o := range tx.TasksByService(t.ServiceID) {
		if o.Slot == 0 && o.NodeID == t.NodeID {
			out = append(out, o)
		}
	}
	return out
}

func startFirst(tx store.Tx, t *types.Task) error {
	svc := tx.Service(t.ServiceID)
	if svc == nil || svc.SpecVersion != t.SpecVersion {
		return nil
	}
	for _, o := range slotTasks(tx, t) {
		if Occupies(o) && UpToDate(svc, o) {
			return nil
		}
	}
	return tx.CreateTask(t.Copy())
}

func move(tx store.Tx, r Replacement) error {
	old := tx.Task(r.Old)
	if old == nil || !Occupies(old) || tx.Service(r.New.ServiceID) == nil {
		return nil
	}
	for _, o := range slotTasks(tx, old) {
		if o.ID != old.ID && Occupies(o) {
			return nil
		}
	}
	return tx.CreateTask(r.New.Copy())
}

func replace(tx store.Tx, r Replacement) error {
	old := tx.Task(r.Old)
	if old == nil || !Occupies(old) || tx.Service(r.New.ServiceID) == nil {
		return nil
	}
	o := old.Copy()
	o.DesiredState = types.TaskStateShutdown
	if err := tx.UpdateTask(o); err != nil {
		return err
	}
	return tx.CreateTask(r.New.Copy())
}

func setDesired(tx store.Tx, d DesiredChange, now time.Time) error {
	cur := tx.Task(d.TaskID)
	if cur == nil || cur.DesiredState >= d.State {
		return nil
	}
	t := cur.Copy()
	t.DesiredState = d.State
	if d.Message != "" && t.Status.State < types.TaskStateAssigned {
		t.Status.Message = d.Message
		t.Status.Timestamp = now
	}
	return tx.UpdateTask(t)
}

func remove(tx store.Tx, id string) error {
	cur := tx.Task(id)
	if cur == nil || Occupies(cur) {
		return nil
	}
	return tx.DeleteTask(id)
}
