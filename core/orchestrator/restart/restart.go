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

// Slot reconciles the tasks occupying one slot (or one node of a global
// service): it keeps one, shuts the others down, replaces the kept one if
// it ended and the policy allows, and starts it when its restart delay has
// passed. It returns the plan and the earliest time it needs to look again.
func Slot(svc *types.Service, occupying []*types.Task, now time.Time, newID func() string) (orchestrator.Plan, time.Time) {
	var plan orchestrator.Plan
	if len(occupying) == 0 {
		return plan, time.Time{}
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
	change, wake := Promote(keep, now)
	if change != nil {
		plan.Desired = append(plan.Desired, *change)
	}
	return plan, wake
}
