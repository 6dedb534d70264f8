package sim

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

func dur(d time.Duration) *types.Duration { v := types.Duration(d); return &v }

// startCluster starts a cluster of n nodes.
func startCluster(t *testing.T, n int, opts ...Option) *Cluster {
	t.Helper()
	c := New(t, n, opts...)
	c.Start()
	return c
}

// runningBySlot maps the slots of a service's running tasks to their IDs.
func runningBySlot(c *Cluster, service string) map[uint64]string {
	out := map[uint64]string{}
	for _, t := range c.RunningTasks(service) {
		out[t.Slot] = t.ID
	}
	return out
}

func slotTasks(c *Cluster, service string, slot uint64) []*types.Task {
	var out []*types.Task
	for _, t := range c.Tasks(service) {
		if t.Slot == slot {
			out = append(out, t)
		}
	}
	return out
}

// killSlot kills the running container of a service's task in slot and
// returns that task.
func killSlot(t *testing.T, c *Cluster, service string, slot uint64, code int) *types.Task {
	t.Helper()
	for _, tk := range c.RunningTasks(service) {
		if tk.Slot == slot {
			if err := c.KillContainer(c.NodeIndex(tk.NodeID), tk.ID, code); err != nil {
				t.Fatal(err)
			}
			return tk
		}
	}
	t.Fatalf("no running task of %s in slot %d\n%s", service, slot, c.Describe())
	return nil
}

// replacedIn is a Settle condition: slot runs a task other than old.
func replacedIn(c *Cluster, service string, slot uint64, old string) func() bool {
	return func() bool {
		id, ok := runningBySlot(c, service)[slot]
		return ok && id != old
	}
}

func settled(t *testing.T, c *Cluster, maxFake time.Duration) {
	t.Helper()
	c.MustSettle(c.Converged, maxFake)
	if err := c.CheckSettled(); err != nil {
		t.Fatalf("invariants after settling: %v\n%s", err, c.Describe())
	}
}

func TestTaskHistoryStaysWithinTheClusterLimitAfterManyCrashes(t *testing.T) {
	const limit = 3
	c := startCluster(t, 2, WithTaskHistoryLimit(limit))
	spec := ReplicatedSpec("web", 1)
	spec.Task.RestartPolicy = types.RestartPolicy{Condition: types.RestartAny, Delay: dur(100 * time.Millisecond)}
	c.CreateService(spec)
	settled(t, c, 10*time.Second)
	for range 12 {
		old := killSlot(t, c, "web", 1, 1)
		c.MustSettle(replacedIn(c, "web", 1, old.ID), 2*time.Second)
	}
	settled(t, c, 10*time.Second)
	if got := len(slotTasks(c, "web", 1)); got > limit {
		t.Fatalf("slot 1 keeps %d tasks, want at most %d\n%s", got, limit, c.Describe())
	}
	containers := 0
	for _, cs := range c.Containers() {
		containers += len(cs)
	}
	if containers > limit {
		t.Fatalf("the nodes keep %d containers, want at most %d (one per task kept)", containers, limit)
	}
}

func TestRestartedAgentAdoptsRunningContainers(t *testing.T) {
	c := startCluster(t, 3)
	c.CreateService(ReplicatedSpec("web", 3))
	settled(t, c, 10*time.Second)
	before := runningBySlot(c, "web")
	node := c.Node(1)
	containersBefore := node.Runtime.Containers()
	calls := len(node.Runtime.Calls())

	c.RestartNode(1)
	if err := c.Advance(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	settled(t, c, 10*time.Second)
	if after := runningBySlot(c, "web"); !maps.Equal(before, after) {
		t.Fatalf("running tasks changed across the agent restart: %v, then %v", before, after)
	}
	containersAfter := node.Runtime.Containers()
	if len(containersAfter) != len(containersBefore) || containersAfter[0].ID != containersBefore[0].ID || !containersAfter[0].Running() {
		t.Fatalf("node %s had containers %v, now %v", node.ID, names(containersBefore), names(containersAfter))
	}
	for _, call := range node.Runtime.Calls()[calls:] {
		if call == "Create" || call == "Start" || call == "Remove" || call == "Stop" {
			t.Errorf("the new agent called %s; it should only adopt", call)
		}
	}
}

func TestContainerThatExitedWhileTheAgentWasDownIsReplaced(t *testing.T) {
	c := startCluster(t, 3)
	c.CreateService(ReplicatedSpec("web", 3))
	settled(t, c, 10*time.Second)
	var victim string
	for _, tk := range c.RunningTasks("web") {
		if tk.NodeID == c.Node(2).ID {
			victim = tk.ID
		}
	}
	c.StopNode(2)
	if err := c.KillContainer(2, victim, 1); err != nil {
		t.Fatal(err)
	}
	c.StartNode(2)
	settled(t, c, 10*time.Second)
	for _, tk := range c.Tasks("web") {
		if tk.ID == victim && tk.Status.State != types.TaskStateFailed {
			t.Fatalf("the task whose container exited is %s, want failed", tk.Status.State)
		}
	}
}

func names(cs []*runtime.Container) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name+"("+string(c.State)+")")
	}
	slices.Sort(out)
	return out
}
