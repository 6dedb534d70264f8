package sim

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/hiveorch/hive/core/agent"
	"github.com/hiveorch/hive/core/allocator"
	"github.com/hiveorch/hive/core/orchestrator"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
	sdksched "github.com/hiveorch/hive/plugins/sdk/scheduler"
)

// The invariants come in two kinds. Safety invariants hold in every state
// the cluster passes through, so Settle checks them at every step:
// CheckSlots, CheckGlobalNodes, CheckContainers, CheckAddresses and the
// StateTracker.
// Convergence invariants hold once a scenario has settled: CheckDrained
// and CheckConverged.
//
// Each check returns nil or an error joining one line per violation, in a
// stable order.

// taskName names a task in an error: "web.2 (k3x9a1b2)".
func taskName(t *types.Task) string {
	id := t.ID
	if len(id) > 8 {
		id = id[:8]
	}
	return fmt.Sprintf("%s (%s)", t.Name(), id)
}

func joinSorted(msgs []string) error {
	if len(msgs) == 0 {
		return nil
	}
	sort.Strings(msgs)
	errs := make([]error, len(msgs))
	for i, m := range msgs {
		errs[i] = errors.New(m)
	}
	return errors.Join(errs...)
}

func describeTasks(ts []*types.Task) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = fmt.Sprintf("%s desired %s, %s", taskName(t), t.DesiredState, t.Status.State)
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// CheckAddresses checks that no address of a network is held twice: by
// two services' virtual IPs, two tasks that hold their addresses
// (allocator.HoldsAddresses), or a virtual IP and a task, and that none is
// the network's gateway.
func CheckAddresses(tx store.ReadTx) error {
	holder := map[string]string{} // network ID + address → who holds it
	var msgs []string
	hold := func(networkID string, addr netip.Prefix, who string) {
		n := tx.Network(networkID)
		if n != nil && addr.Addr() == n.Gateway {
			msgs = append(msgs, fmt.Sprintf("%s holds the gateway %s of network %s", who, addr.Addr(), n.Spec.Name))
		}
		k := networkID + " " + addr.Addr().String()
		if prev, ok := holder[k]; ok {
			msgs = append(msgs, fmt.Sprintf("address %s of network %s is held by %s and by %s", addr.Addr(), networkID, prev, who))
			return
		}
		holder[k] = who
	}
	for _, svc := range tx.Services() {
		for _, v := range svc.Endpoint.VirtualIPs {
			hold(v.NetworkID, v.Addr, "the virtual IP of service "+svc.Spec.Name)
		}
	}
	for _, t := range tx.Tasks() {
		if !allocator.HoldsAddresses(t) {
			continue
		}
		for _, a := range t.Networks {
			for _, addr := range a.Addresses {
				hold(a.NetworkID, addr, "task "+taskName(t))
			}
		}
	}
	return joinSorted(msgs)
}

// CheckSlots checks that no slot of a replicated service has more than one
// task occupying it (desired ready or running): a replacement always
// retires the task it replaces in the same transaction. The one exception
// is a start-first update: while a service's update is active, a slot may
// hold a task of the current spec beside one of an older spec, in at most
// as many slots as the update's (or rollback's) parallelism.
func CheckSlots(tx store.ReadTx) error {
	var msgs []string
	for _, svc := range tx.Services() {
		if svc.Spec.Mode != types.ModeReplicated {
			continue
		}
		bySlot := map[string][]*types.Task{}
		for _, t := range tx.TasksByService(svc.ID) {
			if t.Slot > 0 && orchestrator.Occupies(t) {
				k := fmt.Sprint(t.Slot)
				bySlot[k] = append(bySlot[k], t)
			}
		}
		msgs = append(msgs, checkOccupying(svc, bySlot, leaving(tx), func(slot string, n int) string {
			return fmt.Sprintf("service %s slot %s has %d tasks desired to run", svc.Spec.Name, slot, n)
		})...)
	}
	return joinSorted(msgs)
}

// leaving reports the nodes whose tasks are moving away (drained), where
// a slot's task keeps running next to its replacement until that runs.
func leaving(tx store.ReadTx) map[string]bool {
	out := map[string]bool{}
	for _, n := range tx.Nodes() {
		if n.Spec.Availability == types.AvailabilityDrain {
			out[n.ID] = true
		}
	}
	return out
}

// CheckGlobalNodes checks that no node has more than one task of a global
// service occupying it, but for a start-first update, as CheckSlots.
func CheckGlobalNodes(tx store.ReadTx) error {
	var msgs []string
	for _, svc := range tx.Services() {
		if svc.Spec.Mode != types.ModeGlobal {
			continue
		}
		byNode := map[string][]*types.Task{}
		for _, t := range tx.TasksByService(svc.ID) {
			if t.Slot == 0 && orchestrator.Occupies(t) {
				byNode[t.NodeID] = append(byNode[t.NodeID], t)
			}
		}
		msgs = append(msgs, checkOccupying(svc, byNode, nil, func(node string, n int) string {
			return fmt.Sprintf("global service %s has %d tasks desired to run on node %s", svc.Spec.Name, n, node)
		})...)
	}
	return joinSorted(msgs)
}

// checkOccupying checks the tasks occupying each slot (or node) of svc;
// violation describes a slot holding too many. Two tasks in a slot are
// allowed during a start-first update (an old and a new one), and while a
// task on a drained node (in leaving) hands over to its replacement.
func checkOccupying(svc *types.Service, bySlot map[string][]*types.Task, leaving map[string]bool, violation func(slot string, n int) string) []string {
	var msgs []string
	pairs := 0
	for slot, ts := range bySlot {
		if len(ts) <= 1 {
			continue
		}
		fresh := 0
		for _, t := range ts {
			if orchestrator.UpToDate(svc, t) {
				fresh++
			}
		}
		if len(ts) == 2 && fresh == 1 && svc.UpdateStatus.Active() {
			pairs++
			continue
		}
		if len(ts) == 2 && leaving[ts[0].NodeID] != leaving[ts[1].NodeID] {
			continue
		}
		msgs = append(msgs, fmt.Sprintf("%s: %s (update %s)", violation(slot, len(ts)), describeTasks(ts), updateState(svc)))
	}
	if limit := maxParallelism(svc); limit > 0 && pairs > limit {
		msgs = append(msgs, fmt.Sprintf("service %s: %d slots hold an old and a new task, more than the update's parallelism %d",
			svc.Spec.Name, pairs, limit))
	}
	return msgs
}

func updateState(svc *types.Service) string {
	if svc.UpdateStatus == nil {
		return "none"
	}
	return string(svc.UpdateStatus.State)
}

// maxParallelism is the largest parallelism an update or rollback of svc
// may use, 0 for no limit.
func maxParallelism(svc *types.Service) int {
	limit := 0
	for _, spec := range []*types.ServiceSpec{&svc.Spec, svc.PreviousSpec} {
		if spec == nil {
			continue
		}
		for _, c := range []*types.UpdateConfig{spec.Update, spec.Rollback} {
			p := types.DefaultUpdateParallelism
			if c != nil {
				p = int(c.Parallelism)
			}
			if p == 0 {
				return 0
			}
			limit = max(limit, p)
		}
	}
	return limit
}

// CheckContainers checks every running container of every node (by node
// ID) against the store: it is labelled with that node, and its task
// exists, is assigned to that node, and has not reached a terminal state
// (the agent stops a container before it reports a terminal state, so a
// terminal task with a running container is one hive lost track of).
func CheckContainers(tx store.ReadTx, containers map[string][]*runtime.Container) error {
	var msgs []string
	for node, cs := range containers {
		for _, ct := range cs {
			if !ct.Running() {
				continue
			}
			taskID := ct.Labels[agent.LabelTask]
			if l := ct.Labels[agent.LabelNode]; l != node {
				msgs = append(msgs, fmt.Sprintf("node %s runs container %s labelled for node %q", node, ct.Name, l))
				continue
			}
			t := tx.Task(taskID)
			switch {
			case t == nil:
				msgs = append(msgs, fmt.Sprintf("node %s runs container %s of task %s, which is not in the store", node, ct.Name, taskID))
			case t.NodeID != node || t.Status.State < types.TaskStateAssigned:
				msgs = append(msgs, fmt.Sprintf("node %s runs container %s of task %s, which is not assigned to it (node %q, state %s)",
					node, ct.Name, taskName(t), t.NodeID, t.Status.State))
			case t.Status.State.Terminal():
				msgs = append(msgs, fmt.Sprintf("node %s runs container %s of task %s, which the store says is %s (desired %s)",
					node, ct.Name, taskName(t), t.Status.State, t.DesiredState))
			}
		}
	}
	return joinSorted(msgs)
}

// CheckDrained checks that no task on a drained node is still desired to
// run.
func CheckDrained(tx store.ReadTx) error {
	var msgs []string
	for _, n := range tx.Nodes() {
		if n.Spec.Availability != types.AvailabilityDrain {
			continue
		}
		for _, t := range tx.TasksByNode(n.ID) {
			if orchestrator.Occupies(t) {
				msgs = append(msgs, fmt.Sprintf("drained node %s still has task %s desired %s", n.ID, taskName(t), t.DesiredState))
			}
		}
	}
	return joinSorted(msgs)
}

// CheckConverged checks that the cluster has done everything its spec
// asks and nothing else:
//   - every replicated service runs exactly Replicas tasks, in slots 1…N,
//     each desired running and observed running;
//   - every global service runs one such task on every node that is ready,
//     active and meets its constraints, and none on a node that is drained,
//     gone or fails the constraints (on a paused or unready node, a task
//     may wait unassigned for the node to take new tasks);
//   - nothing is desired to run on a drained node (CheckDrained);
//   - no task of a removed service is left, and every task desired to stop
//     that reached a node has stopped;
//   - every running task has its running container on its node, and every
//     container, running or not, belongs to a task of its node in the store.
//
// It holds only for services whose tasks can run: a service whose restart
// policy gave up, or that no node fits, never converges.
func CheckConverged(tx store.ReadTx, containers map[string][]*runtime.Container) error {
	var msgs []string
	add := func(format string, args ...any) { msgs = append(msgs, fmt.Sprintf(format, args...)) }
	nodes := tx.Nodes()
	services := map[string]bool{}
	for _, svc := range tx.Services() {
		services[svc.ID] = true
		var occupying []*types.Task
		for _, t := range tx.TasksByService(svc.ID) {
			if orchestrator.Occupies(t) {
				occupying = append(occupying, t)
			}
		}
		switch svc.Spec.Mode {
		case types.ModeReplicated:
			msgs = append(msgs, replicatedConverged(svc, occupying)...)
		case types.ModeGlobal:
			msgs = append(msgs, globalConverged(svc, occupying, nodes)...)
		}
	}
	for _, t := range tx.Tasks() {
		switch {
		case !services[t.ServiceID]:
			add("task %s of removed service %s is still in the store (desired %s, %s)", taskName(t), t.ServiceName, t.DesiredState, t.Status.State)
		case !orchestrator.Occupies(t) && t.Status.State >= types.TaskStateAssigned && !t.Status.State.Terminal():
			add("task %s is desired %s but still %s", taskName(t), t.DesiredState, t.Status.State)
		}
	}
	msgs = append(msgs, containersConverged(tx, containers)...)
	if err := CheckDrained(tx); err != nil {
		msgs = append(msgs, err.Error())
	}
	return joinSorted(msgs)
}

func notRunning(svc *types.Service, t *types.Task) string {
	return fmt.Sprintf("task %s of service %s is desired %s and %s, not running", taskName(t), svc.Spec.Name, t.DesiredState, t.Status.State)
}

func isRunning(t *types.Task) bool {
	return t.DesiredState == types.TaskStateRunning && t.Status.State == types.TaskStateRunning
}

func replicatedConverged(svc *types.Service, occupying []*types.Task) []string {
	var msgs []string
	for _, t := range occupying {
		if !isRunning(t) {
			msgs = append(msgs, notRunning(svc, t))
		}
	}
	if uint64(len(occupying)) != svc.Spec.Replicas {
		msgs = append(msgs, fmt.Sprintf("service %s has %d tasks desired to run, want %d replicas",
			svc.Spec.Name, len(occupying), svc.Spec.Replicas))
	}
	for _, t := range occupying {
		if t.Slot < 1 || t.Slot > svc.Spec.Replicas {
			msgs = append(msgs, fmt.Sprintf("task %s of service %s is in slot %d, outside 1…%d",
				taskName(t), svc.Spec.Name, t.Slot, svc.Spec.Replicas))
		}
	}
	return msgs
}

func globalConverged(svc *types.Service, occupying []*types.Task, nodes []*types.Node) []string {
	var msgs []string
	constraints, err := sdksched.ParseConstraints(svc.Spec.Task.Placement.Constraints)
	if err != nil {
		return []string{fmt.Sprintf("global service %s has invalid constraints: %v", svc.Spec.Name, err)}
	}
	byNode := map[string][]*types.Task{}
	for _, t := range occupying {
		byNode[t.NodeID] = append(byNode[t.NodeID], t)
	}
	known := map[string]bool{}
	for _, n := range nodes {
		known[n.ID] = true
		matches := orchestrator.NodeMatches(constraints, n)
		wanted := n.Status.State == types.NodeStateReady && n.Spec.Availability == types.AvailabilityActive && matches
		allowed := n.Spec.Availability != types.AvailabilityDrain && matches
		for _, t := range byNode[n.ID] {
			// A task replaced on a paused or unready node waits there,
			// unassigned, until the node takes new tasks again.
			waits := !wanted && t.Status.State <= types.TaskStatePending
			if !isRunning(t) && !waits {
				msgs = append(msgs, notRunning(svc, t))
			}
		}
		switch got := len(byNode[n.ID]); {
		case wanted && got != 1:
			msgs = append(msgs, fmt.Sprintf("global service %s has %d tasks desired to run on eligible node %s, want 1", svc.Spec.Name, got, n.ID))
		case !allowed && got > 0:
			msgs = append(msgs, fmt.Sprintf("global service %s still has a task desired to run on ineligible node %s", svc.Spec.Name, n.ID))
		}
	}
	for node := range byNode {
		if !known[node] {
			msgs = append(msgs, fmt.Sprintf("global service %s still has a task desired to run on unknown node %s", svc.Spec.Name, node))
		}
	}
	return msgs
}

func containersConverged(tx store.ReadTx, containers map[string][]*runtime.Container) []string {
	var msgs []string
	running := map[string]bool{} // task IDs with a running container on their node
	for node, cs := range containers {
		for _, ct := range cs {
			taskID := ct.Labels[agent.LabelTask]
			t := tx.Task(taskID)
			switch {
			case t == nil || t.NodeID != node:
				msgs = append(msgs, fmt.Sprintf("node %s keeps container %s (%s) of task %s, which is not a task of that node in the store",
					node, ct.Name, ct.State, taskID))
			case ct.Running() && (t.DesiredState != types.TaskStateRunning || t.Status.State != types.TaskStateRunning):
				msgs = append(msgs, fmt.Sprintf("node %s runs container %s of task %s, which is desired %s and %s",
					node, ct.Name, taskName(t), t.DesiredState, t.Status.State))
			case ct.Running():
				running[taskID] = true
			}
		}
	}
	for _, t := range tx.Tasks() {
		if t.Status.State == types.TaskStateRunning && !running[t.ID] {
			msgs = append(msgs, fmt.Sprintf("task %s is running in the store but has no running container on node %s", taskName(t), t.NodeID))
		}
	}
	return msgs
}

// StateTracker follows every task's observed state across store events and
// records each time one goes backwards (types.TaskState's order is the
// order a task moves through). Observe is quick and safe to call from a
// store watch filter; the methods are safe for concurrent use.
type StateTracker struct {
	mu         sync.Mutex
	last       map[string]types.TaskState
	violations []string
}

// NewStateTracker returns a tracker that has seen nothing.
func NewStateTracker() *StateTracker {
	return &StateTracker{last: map[string]types.TaskState{}}
}

// maxViolations bounds what a tracker keeps.
const maxViolations = 20

// Observe records ev. A deleted task's last state is kept, so that a task
// created again with the same ID could not restart from an earlier state
// unnoticed. ActionReset (the state was replaced) forgets everything.
func (s *StateTracker) Observe(ev store.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ev.Action == store.ActionReset {
		clear(s.last)
		return
	}
	t := ev.Task
	if t == nil {
		return
	}
	prev, seen := s.last[t.ID]
	if seen && t.Status.State < prev && len(s.violations) < maxViolations {
		s.violations = append(s.violations, fmt.Sprintf("task %s went back from %s to %s at index %d (%s)",
			taskName(t), prev, t.Status.State, ev.Index, ev.Action))
	}
	if !seen || t.Status.State > prev {
		s.last[t.ID] = t.Status.State
	}
}

// Err returns the violations seen so far, or nil.
func (s *StateTracker) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return joinSorted(slices.Clone(s.violations))
}
