package update

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/hiveorch/hive/core/orchestrator"
	"github.com/hiveorch/hive/core/types"
)

// Messages of the update status.
const (
	MsgUpdating         = "update in progress"
	MsgCompleted        = "update completed"
	MsgManualRollback   = "manually requested rollback"
	MsgRollbackComplete = "rollback completed"
)

// Plan is what one pass wants done for one service.
type Plan struct {
	// ServiceID, SpecVersion and State are the service as it was read
	// (State is "" for a service without an update status): the status
	// change applies only if the service still has them.
	ServiceID   string
	SpecVersion uint64
	State       types.UpdateState
	// Status, when set, becomes the service's update status.
	Status *types.UpdateStatus
	// Rollback, with Status, puts the service back on its previous spec
	// (which becomes the previous one in turn).
	Rollback bool
	// Tasks are the task changes: stop-first replacements, start-first
	// additions, and old tasks retired once their replacement runs. They
	// apply only after the status change, when there is one, applied.
	Tasks orchestrator.Plan
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return p.Status == nil && p.Tasks.Empty() }

// Config returns the policy the service's update follows: its update
// policy, or while rolling back the rollback policy of the spec rolled
// away from (its previous spec, after the swap), else the defaults.
func Config(svc *types.Service) *types.UpdateConfig {
	var c *types.UpdateConfig
	switch {
	case svc.UpdateStatus.RollingBack() && svc.PreviousSpec != nil && svc.PreviousSpec.Rollback != nil:
		c = svc.PreviousSpec.Rollback
	case svc.UpdateStatus.RollingBack():
		c = svc.Spec.Rollback
	default:
		c = svc.Spec.Update
	}
	if c == nil {
		return types.DefaultUpdateConfig()
	}
	return c
}

// slot is one place a task runs: a slot of a replicated service or a node
// of a global one.
type slot struct {
	num    uint64 // replicated
	nodeID string // global
	// fresh and stale are the tasks occupying the slot (desired ready or
	// running) that run the current spec and an older one.
	fresh, stale []*types.Task
	// ours are the slot's tasks of this update, in any state: up to date
	// and created from the update's SpecVersion on.
	ours []*types.Task
}

// released reports whether one of the update's tasks in the slot got as
// far as running (it may have ended since), and when the first did: the
// slot's part of the update is then done, as in Swarm.
func (s *slot) released() (time.Time, bool) {
	var at time.Time
	ok := false
	for _, t := range s.ours {
		if t.Status.State >= types.TaskStateRunning && (!ok || t.Status.Timestamp.Before(at)) {
			at, ok = t.Status.Timestamp, true
		}
	}
	return at, ok
}

// upToDate returns orchestrator.UpToDate for svc, comparing specs once per
// task SpecVersion: tasks created from the same version have the same
// spec.
func upToDate(svc *types.Service) func(*types.Task) bool {
	memo := map[uint64]bool{}
	return func(t *types.Task) bool {
		v, ok := memo[t.SpecVersion]
		if !ok {
			v = orchestrator.UpToDate(svc, t)
			memo[t.SpecVersion] = v
		}
		return v
	}
}

// slots groups the tasks that occupy a slot (slots 1…Replicas of a
// replicated service, nodes of a global one), in slot or node order, with
// the update's tasks (created from base on) of each.
func slots(svc *types.Service, tasks []*types.Task, base uint64, current func(*types.Task) bool) []*slot {
	global := svc.Spec.Mode == types.ModeGlobal
	byKey := map[string]*slot{}
	key := func(t *types.Task) (string, bool) {
		switch {
		case global && t.Slot == 0 && t.NodeID != "":
			return t.NodeID, true
		case !global && t.Slot > 0 && t.Slot <= svc.Spec.Replicas:
			return fmt.Sprintf("%020d", t.Slot), true
		}
		return "", false
	}
	for _, t := range tasks {
		k, ok := key(t)
		if !ok || !orchestrator.Occupies(t) {
			continue
		}
		s := byKey[k]
		if s == nil {
			s = &slot{num: t.Slot, nodeID: t.NodeID}
			byKey[k] = s
		}
		if current(t) {
			s.fresh = append(s.fresh, t)
		} else {
			s.stale = append(s.stale, t)
		}
	}
	for _, t := range tasks {
		if k, ok := key(t); ok && byKey[k] != nil && t.SpecVersion >= base && current(t) {
			byKey[k].ours = append(byKey[k].ours, t)
		}
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]*slot, len(keys))
	for i, k := range keys {
		out[i] = byKey[k]
	}
	return out
}

// Reconcile returns what must change for svc's tasks to move its rolling
// update (or rollback) on, and the earliest time it needs to look again
// (zero: only on events). It is pure: everything it needs is in svc (its
// UpdateStatus) and tasks, so a new leader carries an update on from
// where the last one left it.
//
// While the update runs, every slot whose occupying task runs an older
// spec is replaced, Parallelism slots at a time (0: all at once):
// stop-first replaces the old task at once with a new one that waits,
// desired ready, for the old one to stop (restart.Slot starts it);
// start-first adds the new task beside the old one and retires the old
// one once the new one runs (healthy, when it has a health check). A slot
// stays busy until one of its new tasks got to running, then for Monitor
// (so that a batch that fails is seen to fail before the next one
// starts), then for Delay. A new task that fails, or ends, before it ran
// or within Monitor of its start counts as a failure; when failures
// exceed MaxFailureRatio of the slots, the update pauses or rolls back (a
// rollback pauses). Once no slot runs an old spec and Monitor has passed
// since the last slot ran, the update is completed. A paused update waits for a change of the
// service. A service with no update under way whose tasks run an old spec
// starts one.
func Reconcile(svc *types.Service, tasks []*types.Task, now time.Time, newID func() string) (Plan, time.Time) {
	plan := Plan{ServiceID: svc.ID, SpecVersion: svc.SpecVersion}
	st := svc.UpdateStatus
	if st != nil {
		plan.State = st.State
	}
	if st.Active() && !st.Running() {
		return plan, time.Time{}
	}
	current := upToDate(svc)
	if !st.Running() {
		if !slices.ContainsFunc(tasks, func(t *types.Task) bool { return orchestrator.Occupies(t) && !current(t) }) {
			return plan, time.Time{}
		}
		st = &types.UpdateStatus{State: types.UpdateUpdating, StartedAt: now, SpecVersion: svc.SpecVersion, Message: MsgUpdating}
		plan.Status = st
	}
	cfg := Config(svc)
	all := slots(svc, tasks, st.SpecVersion, current)

	if cfg.FailureAction != types.FailureContinue {
		failures, first := countFailures(st, all, cfg.MonitorPeriod())
		if first != nil {
			if float64(len(failures)) > cfg.MaxFailureRatio*float64(max(len(all), 1)) {
				plan.Status, plan.Rollback = onFailure(svc, st, cfg, first, failures, now)
				plan.Tasks = orchestrator.Plan{}
				return plan, time.Time{}
			}
			next := *st
			next.Failures = failures
			st = &next
			plan.Status = st
		}
	}

	var (
		pending     []*slot
		busy        int
		inProgress  int
		allReleased = true
		lastRelease time.Time
		freeAt      time.Time // when a busy slot is next free
		wake        time.Time
	)
	for _, s := range all {
		switch {
		case len(s.stale) > 0 && len(s.fresh) == 0:
			pending = append(pending, s)
			continue
		case len(s.stale) > 0:
			// A start-first slot (or one a rollback turned around): retire
			// the old tasks once a new one runs.
			inProgress++
			busy++
			if slices.ContainsFunc(s.fresh, func(t *types.Task) bool { return t.Status.State == types.TaskStateRunning }) {
				for _, t := range s.stale {
					plan.Tasks.Desired = append(plan.Tasks.Desired, orchestrator.DesiredChange{TaskID: t.ID, State: types.TaskStateShutdown})
				}
			}
			continue
		case len(s.ours) == 0:
			continue
		}
		at, ok := s.released()
		if !ok {
			busy++
			allReleased = false
			continue
		}
		if at.After(lastRelease) {
			lastRelease = at
		}
		if end := at.Add(cfg.MonitorPeriod() + cfg.Delay.D()); now.Before(end) {
			busy++
			freeAt = orchestrator.Earliest(freeAt, end)
		}
	}

	free := len(pending)
	if cfg.Parallelism > 0 {
		free = min(free, int(cfg.Parallelism)-busy)
	}
	if len(pending) > 0 && free < len(pending) {
		wake = freeAt
	}
	for _, s := range pending[:max(free, 0)] {
		startSlot(&plan.Tasks, svc, s, cfg.Order, now, newID)
	}

	if len(pending) == 0 && inProgress == 0 && allReleased {
		if end := lastRelease.Add(cfg.MonitorPeriod()); now.Before(end) {
			wake = orchestrator.Earliest(wake, end)
		} else {
			plan.Status = completed(st, now)
		}
	}
	return plan, wake
}

// startSlot replaces the old task of a slot with a task of the current
// spec, in the given order.
func startSlot(p *orchestrator.Plan, svc *types.Service, s *slot, order types.UpdateOrder, now time.Time, newID func() string) {
	old, extra := orchestrator.PickKeeper(s.stale)
	for _, t := range extra {
		p.Desired = append(p.Desired, orchestrator.DesiredChange{TaskID: t.ID, State: types.TaskStateShutdown})
	}
	nodeID := ""
	if svc.Spec.Mode == types.ModeGlobal {
		nodeID = s.nodeID
	}
	t := orchestrator.NewTask(newID(), svc, s.num, nodeID, now)
	t.Status.Message = "created by update"
	if order == types.OrderStartFirst {
		p.StartFirst = append(p.StartFirst, t)
		return
	}
	// Desired ready: it is prepared (image, container) while the old task
	// stops, and started once it has (restart.Slot).
	t.DesiredState = types.TaskStateReady
	p.Replace = append(p.Replace, orchestrator.Replacement{Old: old.ID, New: t})
}

// failed reports whether a task of the update failed or ended by itself
// before it ran, or within monitor of its start. A task hive stopped ends
// in shutdown and is not a failure.
func failed(t *types.Task, monitor time.Duration) bool {
	switch t.Status.State {
	case types.TaskStateFailed, types.TaskStateRejected, types.TaskStateOrphaned, types.TaskStateComplete:
	default:
		return false
	}
	return t.Status.StartedAt.IsZero() || t.Status.Timestamp.Sub(t.Status.StartedAt) <= monitor
}

// countFailures returns the update's failures (those recorded and the new
// ones) and the earliest new failure, or nil when there is none.
func countFailures(st *types.UpdateStatus, all []*slot, monitor time.Duration) ([]string, *types.Task) {
	known := map[string]bool{}
	for _, id := range st.Failures {
		known[id] = true
	}
	var fresh []*types.Task
	for _, s := range all {
		for _, t := range s.ours {
			if !known[t.ID] && failed(t, monitor) {
				fresh = append(fresh, t)
			}
		}
	}
	if len(fresh) == 0 {
		return st.Failures, nil
	}
	slices.SortFunc(fresh, func(a, b *types.Task) int {
		return cmp.Or(a.Status.Timestamp.Compare(b.Status.Timestamp), cmp.Compare(a.ID, b.ID))
	})
	out := slices.Clone(st.Failures)
	for _, t := range fresh {
		out = append(out, t.ID)
	}
	return out, fresh[0]
}

// onFailure is the status the update takes when its failures exceeded the
// ratio, and whether it rolls back.
func onFailure(svc *types.Service, st *types.UpdateStatus, cfg *types.UpdateConfig, t *types.Task, failures []string, now time.Time) (*types.UpdateStatus, bool) {
	why := fmt.Sprintf("due to failure or early termination of task %s (%s): %s", t.ID, t.Name(), reason(t))
	next := &types.UpdateStatus{StartedAt: st.StartedAt, SpecVersion: st.SpecVersion, Failures: failures}
	switch {
	case st.RollingBack():
		// A rollback is never rolled back.
		next.State, next.Message = types.UpdateRollbackPaused, "rollback paused "+why
	case cfg.FailureAction == types.FailureRollback && svc.PreviousSpec != nil:
		return &types.UpdateStatus{State: types.UpdateRollbackStarted, StartedAt: now, Message: "update rolled back " + why}, true
	case cfg.FailureAction == types.FailureRollback:
		next.State, next.Message = types.UpdatePaused, "update paused "+why+"; it cannot roll back: the service has no previous spec"
	default:
		next.State, next.Message = types.UpdatePaused, "update paused "+why
	}
	return next, false
}

// reason says how a task ended: its error, else its state and message.
func reason(t *types.Task) string {
	if t.Status.Err != "" {
		return t.Status.Err
	}
	if t.Status.Message != "" && t.Status.Message != t.Status.State.String() {
		return t.Status.State.String() + ": " + t.Status.Message
	}
	return t.Status.State.String()
}

// completed is the status of an update (or rollback) that is done. A
// rollback the update did on its own keeps its message, which says why.
func completed(st *types.UpdateStatus, now time.Time) *types.UpdateStatus {
	next := &types.UpdateStatus{State: types.UpdateCompleted, StartedAt: st.StartedAt, CompletedAt: now,
		SpecVersion: st.SpecVersion, Message: MsgCompleted}
	if st.RollingBack() {
		next.State, next.Message = types.UpdateRollbackCompleted, st.Message
		if next.Message == "" || next.Message == MsgManualRollback {
			next.Message = MsgRollbackComplete
		}
	}
	return next
}
