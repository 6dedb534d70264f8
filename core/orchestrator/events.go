package orchestrator

import "github.com/hiveorch/hive/core/store"

// TaskOrServiceChange selects the events an orchestrator reacts to: any
// service change, a task created or deleted, and a task update that moved
// its desired state or ended it. Progress of a starting task (preparing,
// starting, running) is not interesting to an orchestrator.
func TaskOrServiceChange(ev store.Event) bool {
	switch {
	case ev.Action == store.ActionReset, ev.Service != nil, ev.Cluster != nil:
		return true
	case ev.Task != nil:
		if ev.Action != store.ActionUpdate || ev.OldTask == nil {
			return true
		}
		return ev.Task.DesiredState != ev.OldTask.DesiredState ||
			ev.Task.Status.State.Terminal() != ev.OldTask.Status.State.Terminal()
	}
	return false
}
