// Package scheduler drives the scheduler plugin: on the leader it gathers
// the tasks that need a node (state new or pending), sends them in batches
// with a snapshot of the nodes to the plugin, and writes the plugin's
// decisions through the store: a node and state "assigned", or state
// "pending" with the reason no node fits (shown by `hive service ps`).
//
// It is also where depends_on is applied (the rules are
// core/orchestrator/depends's): a task whose service's dependencies are
// unmet is not sent to the plugin but written pending, with the message
// "waiting for dependencies" and the reason as its error, and placed by a
// later pass once they are met. Only tasks waiting for a node wait for
// dependencies; a task placed or running is never stopped for them.
package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/controller"
	"github.com/hiveorch/hive/core/mesh"
	"github.com/hiveorch/hive/core/orchestrator"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
	sdksched "github.com/hiveorch/hive/plugins/sdk/scheduler"
)

// BatchSize is the most tasks sent to the plugin in one call.
const BatchSize = 500

// Driver calls the scheduler plugin for unassigned tasks.
type Driver struct {
	store  *store.Store
	plugin sdksched.Scheduler
	clock  clock.Clock
	logger *slog.Logger
	Resync time.Duration
}

// New returns a driver over s that asks plugin.
func New(s *store.Store, plugin sdksched.Scheduler, clk clock.Clock, logger *slog.Logger) *Driver {
	return &Driver{store: s, plugin: plugin, clock: clk, logger: logger, Resync: 5 * time.Second}
}

// Run schedules until ctx is done.
func (d *Driver) Run(ctx context.Context) error {
	return controller.Run(ctx, controller.Config{
		Name: "scheduler", Source: d.store, Filter: relevant,
		Resync: d.Resync, Clock: d.clock, Logger: d.logger, Pass: d.pass,
	})
}

// relevant selects the events that can let a task be placed. Any service
// change may meet or unmeet a dependency (one created, removed or scaled,
// a depends_on changed).
func relevant(ev store.Event) bool {
	switch {
	case ev.Action == store.ActionReset, ev.Node != nil, ev.Service != nil:
		return true
	case ev.Task != nil:
		// New tasks need a node; a task that ended frees resources and
		// ports, so pending tasks may now fit, and may have completed a
		// dependency; a task that starts or stops running may meet or
		// unmeet one.
		return ev.Action != store.ActionUpdate || ev.OldTask == nil ||
			needsNode(ev.Task) || ev.Task.Status.State.Terminal() != ev.OldTask.Status.State.Terminal() ||
			ev.Task.DesiredState != ev.OldTask.DesiredState ||
			mesh.Serving(ev.Task) != mesh.Serving(ev.OldTask)
	}
	return false
}

// needsNode reports whether t waits for the scheduler. A task waiting
// for its network addresses (core/allocator) waits for them first.
func needsNode(t *types.Task) bool {
	return t.Status.State <= types.TaskStatePending && orchestrator.Occupies(t) && !t.AwaitsAddresses()
}

// holdsResources reports whether t counts against its node's capacity.
func holdsResources(t *types.Task) bool {
	return t.NodeID != "" && t.Status.State >= types.TaskStateAssigned && !t.Status.State.Terminal() &&
		t.DesiredState <= types.TaskStateRunning
}

func (d *Driver) pass(ctx context.Context) (time.Time, error) {
	var req sdksched.Request
	var held []Held
	d.store.View(func(tx store.ReadTx) {
		req, held = Snapshot(tx.Nodes(), tx.Tasks(), DependsGate(tx))
	})
	if err := d.hold(ctx, held); err != nil {
		return time.Time{}, err
	}
	if len(req.Tasks) == 0 {
		return time.Time{}, nil
	}
	nodes := req.Nodes
	var decisions []sdksched.Decision
	for batch := range slices.Chunk(req.Tasks, BatchSize) {
		resp, err := d.plugin.Schedule(ctx, &sdksched.Request{Nodes: nodes, Tasks: batch})
		if err != nil {
			return time.Time{}, fmt.Errorf("scheduler plugin: %w", err)
		}
		if len(resp.Decisions) != len(batch) {
			return time.Time{}, fmt.Errorf("scheduler plugin returned %d decisions for %d tasks", len(resp.Decisions), len(batch))
		}
		decisions = append(decisions, resp.Decisions...)
		nodes = withPlacements(nodes, batch, resp.Decisions)
	}
	return time.Time{}, d.write(ctx, decisions)
}

// Snapshot builds the plugin's request: every node with the tasks that
// hold its resources, and every task waiting for a node that gate lets
// through, oldest first. The tasks gate holds back are returned apart,
// with their reasons, in the order of tasks.
func Snapshot(nodes []*types.Node, tasks []*types.Task, gate Gate) (sdksched.Request, []Held) {
	var req sdksched.Request
	var held []Held
	index := map[string]int{}
	for _, n := range nodes {
		index[n.ID] = len(req.Nodes)
		req.Nodes = append(req.Nodes, orchestrator.SchedulerNode(n))
	}
	var pending []*types.Task
	for _, t := range tasks {
		switch {
		case needsNode(t):
			if reason, hold := gate(t); hold {
				held = append(held, Held{TaskID: t.ID, Reason: reason})
				continue
			}
			pending = append(pending, t)
		case holdsResources(t):
			if i, ok := index[t.NodeID]; ok {
				req.Nodes[i].Tasks = append(req.Nodes[i].Tasks, sdksched.NodeTask{
					ServiceID:    t.ServiceID,
					Reservations: reservations(t),
					HostPorts:    hostPorts(t),
				})
			}
		}
	}
	slices.SortFunc(pending, func(a, b *types.Task) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		if a.Slot != b.Slot {
			return int(a.Slot) - int(b.Slot)
		}
		return cmpString(a.ID, b.ID)
	})
	for _, t := range pending {
		req.Tasks = append(req.Tasks, sdksched.Task{
			ID:           t.ID,
			ServiceID:    t.ServiceID,
			Constraints:  t.Spec.Placement.Constraints,
			Reservations: reservations(t),
			HostPorts:    hostPorts(t),
			NodeID:       t.NodeID,
		})
	}
	return req, held
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func reservations(t *types.Task) sdksched.Resources {
	r := t.Spec.Resources.Reservations
	return sdksched.Resources{NanoCPUs: r.NanoCPUs, MemoryBytes: r.MemoryBytes}
}

func hostPorts(t *types.Task) []sdksched.HostPort {
	var out []sdksched.HostPort
	for _, p := range t.Ports {
		if p.PublishMode == types.PublishHost && p.PublishedPort != 0 {
			out = append(out, sdksched.HostPort{Protocol: string(p.Protocol), Port: p.PublishedPort})
		}
	}
	return out
}

// withPlacements returns nodes with the batch's placed tasks added, so the
// next batch counts them.
func withPlacements(nodes []sdksched.Node, batch []sdksched.Task, decisions []sdksched.Decision) []sdksched.Node {
	out := slices.Clone(nodes)
	index := map[string]int{}
	for i, n := range out {
		index[n.ID] = i
	}
	for i, dec := range decisions {
		j, ok := index[dec.NodeID]
		if dec.NodeID == "" || !ok {
			continue
		}
		out[j].Tasks = append(slices.Clone(out[j].Tasks), sdksched.NodeTask{
			ServiceID: batch[i].ServiceID, Reservations: batch[i].Reservations, HostPorts: batch[i].HostPorts})
	}
	return out
}

// write records decisions. A task that changed meanwhile (no longer waiting
// for a node) is left alone.
func (d *Driver) write(ctx context.Context, decisions []sdksched.Decision) error {
	now := d.clock.Now()
	for batch := range slices.Chunk(decisions, BatchSize) {
		err := d.store.Update(ctx, func(tx store.Tx) error {
			gate := DependsGate(tx)
			notes := unreadyNotes(tx.Nodes())
			for _, dec := range batch {
				cur := tx.Task(dec.TaskID)
				if cur == nil || !needsNode(cur) {
					continue
				}
				if _, hold := gate(cur); hold {
					continue // a dependency stopped meanwhile: the next pass holds it
				}
				t := cur.Copy()
				if dec.NodeID != "" {
					if tx.Node(dec.NodeID) == nil {
						continue
					}
					t.NodeID = dec.NodeID
					t.Status = types.TaskStatus{State: types.TaskStateAssigned, Timestamp: now, Message: "scheduler assigned task to node"}
				} else {
					reason := pendingReason(dec.Reason, notes)
					if t.Status.State == types.TaskStatePending && t.Status.Err == reason {
						continue
					}
					t.Status = types.TaskStatus{State: types.TaskStatePending, Timestamp: now, Message: "pending task scheduling", Err: reason}
				}
				if err := tx.UpdateTask(t); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("record scheduling decisions: %w", err)
		}
	}
	for _, dec := range decisions {
		if dec.NodeID != "" {
			d.logger.Debug("task assigned", "task_id", dec.TaskID, "node_id", dec.NodeID)
		}
	}
	return nil
}

// maxUnreadyNotes is how many not-ready nodes a pending task's reason
// names.
const maxUnreadyNotes = 3

// unreadyNotes says, for the nodes that are not ready and whose status
// says why (a runtime that does not answer, no heartbeat), "HOST: why",
// sorted by hostname.
func unreadyNotes(nodes []*types.Node) []string {
	var notes []string
	for _, n := range nodes {
		if n.Status.State != types.NodeStateReady && n.Status.Message != "" {
			host := n.Description.Hostname
			if host == "" {
				host = n.ID
			}
			notes = append(notes, host+": "+n.Status.Message)
		}
	}
	slices.Sort(notes)
	return notes
}

// pendingReason is the reason a task waits for a node: the scheduler's,
// then why the nodes that are not ready are not (at most
// maxUnreadyNotes), so that the reason names, say, the runtime that does
// not answer.
func pendingReason(reason string, notes []string) string {
	if len(notes) == 0 {
		return reason
	}
	shown := notes[:min(len(notes), maxUnreadyNotes)]
	out := reason + "; not ready: " + strings.Join(shown, "; ")
	if more := len(notes) - len(shown); more > 0 {
		out += fmt.Sprintf("; and %d more", more)
	}
	return out
}
