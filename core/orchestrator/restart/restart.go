// Package restart implements the restart policy: whether a task that ended
// is replaced, and how the replacement is delayed and counted. It is pure:
// the orchestrators call it from their Reconcile functions.
package restart

import (
	"time"

	"github.com/hiveorch/hive/core/orchestrator"
	"github.com/hiveorch/hive/core/types"
)

// Ended reports whether a task occupying its slot has stopped running and
// needs a restart decision.
func Ended(t *types.Task) bool {
	return orchestrator.Occupies(t) && t.Status.State.Terminal()
}

// ShouldRestart applies policy to a task that ended:
//   - condition none never restarts;
//   - on-failure restarts unless the task completed (exit code 0);
//   - any always restarts;
//
// and max attempts, when set, limits the replacements counted within the
// window (the whole life of the slot when the window is zero).
func ShouldRestart(policy types.RestartPolicy, t *types.Task, now time.Time) bool {
	switch policy.Condition {
	case types.RestartNone:
		return false
	case types.RestartOnFailure:
		if t.Status.State == types.TaskStateComplete {
			return false
		}
	}
	if policy.MaxAttempts == 0 {
		return true
	}
	return attemptsInWindow(policy, t, now) < policy.MaxAttempts
}

func attemptsInWindow(policy types.RestartPolicy, t *types.Task, now time.Time) uint64 {
	if windowExpired(policy, t, now) {
		return 0
	}
	return t.Restart.Attempts
}

func windowExpired(policy types.RestartPolicy, t *types.Task, now time.Time) bool {
	return policy.Window != nil && *policy.Window > 0 && !t.Restart.WindowStart.IsZero() &&
		now.Sub(t.Restart.WindowStart) > policy.Window.D()
}

// Replacement returns the task that replaces old: the service's current
// spec, the same slot and (for a global task) node, the restart counter
// advanced, and, when the policy has a delay, desired state ready until
// NotBefore.
func Replacement(id string, svc *types.Service, old *types.Task, now time.Time) *types.Task {
	t := orchestrator.NewTask(id, svc, old.Slot, "", now)
	if old.Slot == 0 {
		t.NodeID = old.NodeID
	}
	policy := svc.Spec.Task.RestartPolicy
	switch {
	case windowExpired(policy, old, now) || old.Restart.WindowStart.IsZero():
		t.Restart = types.RestartCount{Attempts: 1, WindowStart: now}
	default:
		t.Restart = types.RestartCount{Attempts: old.Restart.Attempts + 1, WindowStart: old.Restart.WindowStart}
	}
	if d := policy.RestartDelay().D(); d > 0 {
		t.DesiredState = types.TaskStateReady
		t.NotBefore = now.Add(d)
		t.Status.Message = "restart delayed by " + d.String()
	}
	return t
}

// Promote returns the desired-state change that starts a delayed
// replacement once its NotBefore has passed, or, when it is still waiting,
// the time to look again.
func Promote(t *types.Task, now time.Time) (change *orchestrator.DesiredChange, wake time.Time) {
	if t.DesiredState != types.TaskStateReady {
		return nil, time.Time{}
	}
	if now.Before(t.NotBefore) {
		return nil, t.NotBefore
	}
	return &orchestrator.DesiredChange{TaskID: t.ID, State: types.TaskStateRunning}, time.Time{}
}

// OldTaskTimeout bounds how long, during an update, a replacement waits
// for the task it replaces to stop before it starts anyway, as in Swarm:
// a node that went away never reports its task stopped.
const OldTaskTimeout = time.Minute

// Slot reconciles the tasks of one slot (or one node of a global service):
// occupying are those desired ready or running, others the rest. It keeps
// one occupying task, shuts the others down, replaces the kept one if it
// ended and the policy allows, and starts it when its restart delay has
// passed. It returns the plan and the earliest time it needs to look again.
//
// While the service's update is active (see types.UpdateStatus.Active),
// two things change, for the update controller (core/orchestrator/update):
//   - a slot may hold a task of the current spec beside one of an older
//     spec (a start-first update): the policy then applies to the current
//     ones only, and an old one that ends is shut down, not restarted; the
//     update controller retires the old one once a new one runs;
//   - a replacement desired ready (a stop-first update) starts only once
//     the others have stopped, or OldTaskTimeout after it was created.
func Slot(svc *types.Service, occupying, others []*types.Task, now time.Time, newID func() string) (orchestrator.Plan, time.Time) {
	var plan orchestrator.Plan
	if len(occupying) == 0 {
		return plan, time.Time{}
	}
	updating := svc.UpdateStatus.Active()
	if updating {
		var fresh, stale []*types.Task
		for _, t := range occupying {
			if orchestrator.UpToDate(svc, t) {
				fresh = append(fresh, t)
			} else {
				stale = append(stale, t)
			}
		}
		if len(fresh) > 0 && len(stale) > 0 {
			for _, t := range stale {
				if Ended(t) {
					plan.Desired = append(plan.Desired, orchestrator.DesiredChange{TaskID: t.ID, State: types.TaskStateShutdown})
				}
			}
			occupying = fresh
		}
	}
	keep, extra := orchestrator.PickKeeper(occupying)
	for _, t := range extra {
		plan.Desired = append(plan.Desired, orchestrator.DesiredChange{TaskID: t.ID, State: types.TaskStateShutdown})
	}
	if Ended(keep) {
		if ShouldRestart(svc.Spec.Task.RestartPolicy, keep, now) {
			plan.Replace = append(plan.Replace, orchestrator.Replacement{Old: keep.ID, New: Replacement(newID(), svc, keep, now)})
		}
		return plan, time.Time{}
	}
	if updating && keep.DesiredState == types.TaskStateReady {
		if until := waitForStop(keep, others, now); !until.IsZero() {
			return plan, until
		}
	}
	change, wake := Promote(keep, now)
	if change != nil {
		plan.Desired = append(plan.Desired, *change)
	}
	return plan, wake
}

// waitForStop returns until when t must wait for another task of its slot
// that is told to stop but has not yet, or zero when it need not wait.
func waitForStop(t *types.Task, others []*types.Task, now time.Time) time.Time {
	deadline := t.CreatedAt.Add(OldTaskTimeout)
	if !now.Before(deadline) {
		return time.Time{}
	}
	for _, o := range others {
		if o.ID != t.ID && o.DesiredState >= types.TaskStateShutdown &&
			o.Status.State >= types.TaskStateAssigned && !o.Status.State.Terminal() {
			return deadline
		}
	}
	return time.Time{}
}
