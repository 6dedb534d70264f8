package sim

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/orchestrator"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// Image is the image the spec helpers use; every fake runtime knows it.
const Image = "hive-test/web:v1"

// ReplicatedSpec returns the spec of a replicated service running Image.
func ReplicatedSpec(name string, replicas uint64) types.ServiceSpec {
	return types.ServiceSpec{Name: name, Mode: types.ModeReplicated, Replicas: replicas,
		Task: types.TaskSpec{Container: types.ContainerSpec{Image: Image}}}
}

// GlobalSpec returns the spec of a global service running Image.
func GlobalSpec(name string) types.ServiceSpec {
	return types.ServiceSpec{Name: name, Mode: types.ModeGlobal,
		Task: types.TaskSpec{Container: types.ContainerSpec{Image: Image}}}
}

// CreateService creates a service through the control API, failing the
// test on error.
func (c *Cluster) CreateService(spec types.ServiceSpec) *types.Service {
	c.t.Helper()
	svc, err := c.control.CreateService(c.ctx, spec)
	if err != nil {
		c.t.Fatalf("sim: create service %s: %v", spec.Name, err)
	}
	return svc
}

// UpdateService reads a service, changes its spec with fn and writes it
// back through the control API.
func (c *Cluster) UpdateService(ref string, fn func(*types.ServiceSpec)) error {
	svc, err := c.control.GetService(c.ctx, ref)
	if err != nil {
		return fmt.Errorf("update service %s: %w", ref, err)
	}
	spec := svc.Spec.Copy()
	fn(&spec)
	if _, err := c.control.UpdateService(c.ctx, svc.ID, svc.Version, spec); err != nil {
		return fmt.Errorf("update service %s: %w", ref, err)
	}
	return nil
}

// ScaleService sets a replicated service's replicas, failing the test on
// error.
func (c *Cluster) ScaleService(ref string, replicas uint64) {
	c.t.Helper()
	if err := c.UpdateService(ref, func(s *types.ServiceSpec) { s.Replicas = replicas }); err != nil {
		c.t.Fatalf("sim: scale: %v", err)
	}
}

// RemoveService removes a service through the control API, failing the
// test on error.
func (c *Cluster) RemoveService(ref string) {
	c.t.Helper()
	if err := c.control.RemoveService(c.ctx, ref); err != nil {
		c.t.Fatalf("sim: remove service %s: %v", ref, err)
	}
}

// Tasks returns a service's tasks as `hive service ps` lists them (by
// slot or node, newest first); nil once the service is gone.
func (c *Cluster) Tasks(ref string) []*types.Task {
	ts, err := c.control.ListTasks(c.ctx, api.TaskFilter{Service: ref})
	if err != nil {
		return nil
	}
	return ts
}

// RunningTasks returns a service's tasks that are desired running and
// running.
func (c *Cluster) RunningTasks(ref string) []*types.Task {
	var out []*types.Task
	for _, t := range c.Tasks(ref) {
		if t.DesiredState == types.TaskStateRunning && t.Status.State == types.TaskStateRunning {
			out = append(out, t)
		}
	}
	return out
}

// Running returns a condition for Settle: the service has exactly n tasks
// desired running and running.
func (c *Cluster) Running(ref string, n int) func() bool {
	return func() bool { return len(c.RunningTasks(ref)) == n }
}

// CheckSafety checks the safety invariants on the current state: slots,
// global nodes, containers and the observed-state history.
func (c *Cluster) CheckSafety() error {
	containers := c.Containers()
	var err error
	c.store.View(func(tx store.ReadTx) {
		err = errors.Join(CheckSlots(tx), CheckGlobalNodes(tx), CheckContainers(tx, containers), CheckAddresses(tx))
	})
	return errors.Join(err, c.tracker.Err())
}

// CheckSettled checks the safety and the convergence invariants.
func (c *Cluster) CheckSettled() error {
	if err := c.CheckSafety(); err != nil {
		return err
	}
	containers := c.Containers()
	var err error
	c.store.View(func(tx store.ReadTx) { err = CheckConverged(tx, containers) })
	return err
}

// Converged is a condition for Settle: CheckConverged holds.
func (c *Cluster) Converged() bool {
	containers := c.Containers()
	var err error
	c.store.View(func(tx store.ReadTx) { err = CheckConverged(tx, containers) })
	return err == nil
}

// Describe returns a listing of every node and task, for failure messages.
func (c *Cluster) Describe() string {
	var b strings.Builder
	c.store.View(func(tx store.ReadTx) {
		fmt.Fprintf(&b, "store index %d, sim time %s\n", tx.Index(), c.Elapsed())
		for _, n := range tx.Nodes() {
			running := 0
			if i := c.NodeIndex(n.ID); i >= 0 {
				for _, ct := range c.nodes[i].Runtime.Containers() {
					if ct.Running() {
						running++
					}
				}
			}
			fmt.Fprintf(&b, "node %s %s %s %s, %d running containers\n", n.ID, n.Spec.Role, n.Spec.Availability, n.Status.State, running)
		}
		tasks := slices.Clone(tx.Tasks())
		sortTasks(tasks)
		const maxLines = 200
		for i, t := range tasks {
			if i == maxLines {
				fmt.Fprintf(&b, "… and %d more tasks\n", len(tasks)-maxLines)
				break
			}
			fmt.Fprintf(&b, "task %s node %q desired %s state %s", taskName(t), t.NodeID, t.DesiredState, t.Status.State)
			if t.Status.Err != "" {
				fmt.Fprintf(&b, " err %q", t.Status.Err)
			}
			b.WriteByte('\n')
		}
	})
	return b.String()
}

// sortTasks orders tasks by service, then slot or node, newest first.
func sortTasks(tasks []*types.Task) {
	slices.SortFunc(tasks, func(a, b *types.Task) int {
		return cmp.Or(strings.Compare(a.ServiceName, b.ServiceName), cmp.Compare(a.Slot, b.Slot),
			strings.Compare(a.NodeID, b.NodeID), orchestrator.Newest(a, b))
	})
}
