// Package depends is the one computation of a service's depends_on
// (types.ServiceSpec.DependsOn, compose's depends_on): whether, in a
// consistent read of the services and tasks, every service a service
// depends on meets its condition, and if not, a short reason for people.
// It is pure; the scheduler driver (core/scheduler) is its only applier:
// it holds back, pending, the tasks of a service whose dependencies are
// unmet, and writes the reason as their error (`hive service ps`).
//
// # Conditions
//
// A dependency names a service by its name. Its "desired tasks" are one
// per slot 1…Replicas of a replicated service, and one per node holding
// a task of a global service that occupies it (desired ready or running;
// the global orchestrator creates one for every eligible node).
//
//   - service_started: every desired task runs: desired and observed
//     state running (mesh.Serving, the rule the routing mesh uses).
//   - service_healthy: the same test. In hive a task whose container has
//     a health check (the spec's Healthcheck, or, when the spec sets none,
//     the image's HEALTHCHECK) is held in state starting by its agent until
//     the check passes, and fails when it turns unhealthy (core/agent), so
//     a running task with a check is a healthy one. TaskStatus carries no
//     health of its own, so nothing in the state tells a running task
//     whose container has no check at all (no HEALTHCHECK in the image,
//     or a spec test of NONE) from a healthy one: such a task counts as
//     healthy once it runs. Compose refuses service_healthy on a service
//     without a health check; hive cannot see the image's, so it does not.
//   - service_completed_successfully: every desired slot (or node) has
//     ended: the tasks occupying it are all in a terminal state, and the
//     newest of them completed (state complete) with exit code 0. A slot
//     with a task still pending, running or waiting for its restart delay
//     is not done. Give such a service restart condition none or
//     on-failure: with any, the restart policy starts it again at once.
//
// A replicated dependency scaled to 0 asks nothing and is met; a global
// one with no task (no eligible node, or its tasks not created yet) is
// not. A dependency on a service that does not exist is unmet, and says
// so: it may be created later (a stack deploys its services one by one).
//
// # What waits, and what does not
//
// The gate applies to a task when it is about to be placed: every new task
// of the service waits (its first start, a replacement after a failure, a
// scale-up, a rolling update's replacement), pending, until every
// dependency is met. A task already placed or running is never stopped
// because a dependency later stops running: depends_on is a start order,
// as compose and Swarm users expect, not a coupling of lives, and stopping
// the running tasks of every dependant on a blip of a database would turn
// one outage into a cascade of them. A cycle of dependencies never starts
// (each waits for the other); stacks refuse one at deploy with Cycle.
package depends

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hiveorch/hive/core/mesh"
	"github.com/hiveorch/hive/core/orchestrator"
	"github.com/hiveorch/hive/core/types"
)

// State is the read Check needs; a store.ReadTx is one. It must be one
// consistent read: services and tasks of the same index.
type State interface {
	ServiceByName(name string) *types.Service
	TasksByService(serviceID string) []*types.Task
}

// Check reports whether every dependency of spec is met in st. When one
// is not, reason says which and why, one clause per unmet dependency in
// the order of DependsOn, such as "waiting for service db: service_healthy
// (1 of 2 tasks healthy)". An empty Condition counts as service_started.
func Check(st State, spec *types.ServiceSpec) (ok bool, reason string) {
	var unmet []string
	for _, d := range spec.DependsOn {
		if why := check(st, d); why != "" {
			unmet = append(unmet, "waiting for service "+d.Service+": "+why)
		}
	}
	return len(unmet) == 0, strings.Join(unmet, "; ")
}

// check returns why dependency d is unmet, or "" when it is met.
func check(st State, d types.ServiceDependency) string {
	svc := st.ServiceByName(d.Service)
	if svc == nil {
		return "it does not exist"
	}
	places := desired(svc, st.TasksByService(svc.ID))
	cond := d.Condition
	if cond == "" {
		cond = types.DependencyStarted
	}
	met, what := 0, ""
	switch cond {
	case types.DependencyStarted, types.DependencyHealthy:
		what = "running"
		if cond == types.DependencyHealthy {
			what = "healthy"
		}
		for _, ts := range places {
			if slices.ContainsFunc(ts, mesh.Serving) {
				met++
			}
		}
	case types.DependencyCompleted:
		what = "completed with exit code 0"
		for _, ts := range places {
			if completed(ts) {
				met++
			}
		}
	default:
		return fmt.Sprintf("unknown condition %q", cond)
	}
	if svc.Spec.Mode == types.ModeGlobal && len(places) == 0 {
		return string(cond) + " (no tasks yet)"
	}
	if met == len(places) {
		return ""
	}
	return fmt.Sprintf("%s (%d of %d tasks %s)", cond, met, len(places), what)
}

// desired returns the tasks occupying each desired place of svc: its
// slots 1…Replicas (a slot with no task yet has an empty list), or the
// nodes holding an occupying task of a global service.
func desired(svc *types.Service, tasks []*types.Task) [][]*types.Task {
	if svc.Spec.Mode == types.ModeGlobal {
		byNode := map[string][]*types.Task{}
		var nodes []string
		for _, t := range tasks {
			if t.Slot != 0 || !orchestrator.Occupies(t) {
				continue
			}
			if byNode[t.NodeID] == nil {
				nodes = append(nodes, t.NodeID)
			}
			byNode[t.NodeID] = append(byNode[t.NodeID], t)
		}
		slices.Sort(nodes)
		out := make([][]*types.Task, len(nodes))
		for i, n := range nodes {
			out[i] = byNode[n]
		}
		return out
	}
	out := make([][]*types.Task, svc.Spec.Replicas)
	for _, t := range tasks {
		if t.Slot >= 1 && t.Slot <= svc.Spec.Replicas && orchestrator.Occupies(t) {
			out[t.Slot-1] = append(out[t.Slot-1], t)
		}
	}
	return out
}

// completed reports whether the tasks occupying a place have all ended
// and the newest of them completed with exit code 0.
func completed(occupying []*types.Task) bool {
	if len(occupying) == 0 || slices.ContainsFunc(occupying, func(t *types.Task) bool { return !t.Status.State.Terminal() }) {
		return false
	}
	newest := slices.MinFunc(occupying, orchestrator.Newest)
	return newest.Status.State == types.TaskStateComplete && newest.Status.ExitCode == 0
}

// Cycle returns a cycle of dependencies among specs as the names along
// it, the first one repeated at the end ("web", "api", "web": print it
// joined by " -> "), or nil when there is none. Dependencies on services
// not among specs are ignored. It visits specs in name order and each
// spec's DependsOn in order, so the same specs give the same cycle. A
// stack refuses a cycle at deploy: its services would wait for each other
// forever.
func Cycle(specs []types.ServiceSpec) []string {
	deps := map[string][]string{}
	for _, s := range specs {
		for _, d := range s.DependsOn {
			deps[s.Name] = append(deps[s.Name], d.Service)
		}
		if _, ok := deps[s.Name]; !ok {
			deps[s.Name] = nil
		}
	}
	const (
		unseen = iota
		onPath
		done
	)
	mark := map[string]int{}
	var path []string
	var visit func(name string) []string
	visit = func(name string) []string {
		mark[name] = onPath
		path = append(path, name)
		for _, next := range deps[name] {
			if _, known := deps[next]; !known {
				continue
			}
			switch mark[next] {
			case onPath:
				start := slices.Index(path, next)
				return append(slices.Clone(path[start:]), next)
			case unseen:
				if c := visit(next); c != nil {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		mark[name] = done
		return nil
	}
	names := make([]string, 0, len(deps))
	for n := range deps {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if mark[n] == unseen {
			if c := visit(n); c != nil {
				return c
			}
		}
	}
	return nil
}
