package sim

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/store"
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

// runningContainers counts the running containers of every node.
func runningContainers(c *Cluster) int {
	n := 0
	for _, cs := range c.Containers() {
		for _, ct := range cs {
			if ct.Running() {
				n++
			}
		}
	}
	return n
}

// slotTasks returns every task of a service in a slot, newest first.
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

func TestThreeReplicasOnThreeNodesSpreadOnePerNodeAndRun(t *testing.T) {
	c := startCluster(t, 3)
	c.CreateService(ReplicatedSpec("web", 3))
	settled(t, c, 10*time.Second)
	perNode := map[string]int{}
	for _, tk := range c.RunningTasks("web") {
		perNode[tk.NodeID]++
	}
	for i := range c.Nodes() {
		if got := perNode[c.Node(i).ID]; got != 1 {
			t.Errorf("node %s runs %d tasks of web, want 1 (spread %v)", c.Node(i).ID, got, perNode)
		}
	}
	if got := runningContainers(c); got != 3 {
		t.Errorf("%d containers run, want 3", got)
	}
}

func TestScaleUpThenDownKeepsTheLowestSlots(t *testing.T) {
	c := startCluster(t, 3)
	c.CreateService(ReplicatedSpec("web", 3))
	settled(t, c, 10*time.Second)
	c.ScaleService("web", 10)
	settled(t, c, 10*time.Second)
	before := runningBySlot(c, "web")
	if len(before) != 10 {
		t.Fatalf("running slots after scaling to 10: %v", before)
	}
	c.ScaleService("web", 2)
	settled(t, c, 30*time.Second)
	after := runningBySlot(c, "web")
	if len(after) != 2 || after[1] != before[1] || after[2] != before[2] {
		t.Fatalf("after scaling to 2 the running slots are %v, want slots 1 and 2 kept as %s and %s", after, before[1], before[2])
	}
	if got := runningContainers(c); got != 2 {
		t.Errorf("%d containers run, want 2", got)
	}
	for _, tk := range c.Tasks("web") {
		if tk.Slot > 2 {
			t.Errorf("task %s of a removed slot is still in the store (desired %s, %s)", tk.Name(), tk.DesiredState, tk.Status.State)
		}
	}
}

func TestExitedContainerIsReplacedInItsSlotAfterTheRestartDelay(t *testing.T) {
	c := startCluster(t, 2)
	c.CreateService(ReplicatedSpec("web", 2)) // default policy: any, 5s delay
	settled(t, c, 10*time.Second)
	old := killSlot(t, c, "web", 2, 1)
	killedAt := c.Elapsed()

	if err := c.Advance(4 * time.Second); err != nil {
		t.Fatal(err)
	}
	if id, ok := runningBySlot(c, "web")[2]; ok {
		t.Fatalf("slot 2 runs %s 4s after the crash, before the 5s restart delay\n%s", id, c.Describe())
	}
	ts := slotTasks(c, "web", 2)
	if len(ts) != 2 || ts[0].DesiredState != types.TaskStateReady || ts[1].ID != old.ID || ts[1].Status.State != types.TaskStateFailed {
		t.Fatalf("at 4s slot 2 should hold the failed task and a replacement waiting in desired state ready\n%s", c.Describe())
	}
	if got := runningContainers(c); got != 1 {
		t.Fatalf("%d containers run at 4s, want 1 (slot 1 only)", got)
	}

	c.MustSettle(replacedIn(c, "web", 2, old.ID), 2*time.Second)
	took := c.Elapsed() - killedAt
	if took < 5*time.Second || took > 6*time.Second {
		t.Fatalf("the replacement ran %s after the crash, want between 5s and 6s", took)
	}
	if old := slotTasks(c, "web", 2)[1]; old.DesiredState != types.TaskStateShutdown {
		t.Errorf("the crashed task is desired %s, want shutdown", old.DesiredState)
	}
	settled(t, c, time.Second)
}

func TestRestartConditionDecidesWhetherAnEndedTaskIsReplaced(t *testing.T) {
	tests := []struct {
		condition   types.RestartCondition
		exitCode    int
		wantReplace bool
	}{
		{types.RestartNone, 0, false},
		{types.RestartNone, 1, false},
		{types.RestartOnFailure, 0, false},
		{types.RestartOnFailure, 1, true},
		{types.RestartAny, 0, true},
		{types.RestartAny, 1, true},
	}
	for _, tt := range tests {
		name := string(tt.condition) + "/exit " + map[bool]string{true: "1", false: "0"}[tt.exitCode != 0]
		t.Run(name, func(t *testing.T) {
			c := startCluster(t, 2)
			spec := ReplicatedSpec("web", 1)
			spec.Task.RestartPolicy = types.RestartPolicy{Condition: tt.condition, Delay: dur(time.Second)}
			c.CreateService(spec)
			settled(t, c, 10*time.Second)
			old := killSlot(t, c, "web", 1, tt.exitCode)
			if err := c.Advance(3 * time.Second); err != nil {
				t.Fatal(err)
			}
			ts := slotTasks(c, "web", 1)
			_, running := runningBySlot(c, "web")[1]
			if tt.wantReplace {
				if len(ts) != 2 || !running || ts[0].ID == old.ID {
					t.Fatalf("want the task replaced and running\n%s", c.Describe())
				}
				settled(t, c, time.Second)
				return
			}
			want := types.TaskStateFailed
			if tt.exitCode == 0 {
				want = types.TaskStateComplete
			}
			if len(ts) != 1 || running || ts[0].Status.State != want || ts[0].DesiredState != types.TaskStateRunning {
				t.Fatalf("want only the ended task (%s, still holding its slot)\n%s", want, c.Describe())
			}
			if err := c.CheckSafety(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestMaxAttemptsStopsReplacingAfterThatManyRestarts(t *testing.T) {
	c := startCluster(t, 2)
	spec := ReplicatedSpec("web", 1)
	spec.Task.RestartPolicy = types.RestartPolicy{Condition: types.RestartOnFailure, Delay: dur(time.Second), MaxAttempts: 2}
	c.CreateService(spec)
	settled(t, c, 10*time.Second)
	for attempt := 1; attempt <= 2; attempt++ {
		old := killSlot(t, c, "web", 1, 1)
		c.MustSettle(replacedIn(c, "web", 1, old.ID), 3*time.Second)
		if got := runningBySlot(c, "web")[1]; slotTasks(c, "web", 1)[0].ID != got || slotTasks(c, "web", 1)[0].Restart.Attempts != uint64(attempt) {
			t.Fatalf("restart %d: the running task should count %d attempts\n%s", attempt, attempt, c.Describe())
		}
	}
	killSlot(t, c, "web", 1, 1)
	if err := c.Advance(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	ts := slotTasks(c, "web", 1)
	if len(ts) != 3 || ts[0].Status.State != types.TaskStateFailed || ts[0].DesiredState != types.TaskStateRunning {
		t.Fatalf("after 2 restarts the third failure must not be replaced\n%s", c.Describe())
	}
	if got := runningContainers(c); got != 0 {
		t.Fatalf("%d containers run, want 0", got)
	}
}

func TestGlobalServiceRunsOneTaskOnEveryNode(t *testing.T) {
	c := startCluster(t, 5)
	c.CreateService(GlobalSpec("agentd"))
	settled(t, c, 10*time.Second)
	perNode := map[string]int{}
	for _, tk := range c.RunningTasks("agentd") {
		perNode[tk.NodeID]++
	}
	for i := range c.Nodes() {
		if got := perNode[c.Node(i).ID]; got != 1 {
			t.Errorf("node %s runs %d tasks of the global service, want 1", c.Node(i).ID, got)
		}
	}

	// A drained node's task is shut down and not replaced there.
	if err := c.SetAvailability(4, types.AvailabilityDrain); err != nil {
		t.Fatal(err)
	}
	settled(t, c, 10*time.Second)
	if got := len(c.RunningTasks("agentd")); got != 4 {
		t.Fatalf("%d tasks run after draining one of 5 nodes, want 4", got)
	}
}

func TestConstraintNoNodeMeetsLeavesTasksPendingWithTheReason(t *testing.T) {
	c := startCluster(t, 3)
	spec := ReplicatedSpec("web", 2)
	spec.Task.Placement.Constraints = []string{"node.labels.zone==mars"}
	c.CreateService(spec)
	pendingWithReason := func() bool {
		ts := c.Tasks("web")
		for _, tk := range ts {
			if tk.Status.State != types.TaskStatePending || tk.Status.Err == "" {
				return false
			}
		}
		return len(ts) == 2
	}
	c.MustSettle(pendingWithReason, 10*time.Second)
	if err := c.Advance(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	ts := c.Tasks("web")
	if len(ts) != 2 {
		t.Fatalf("want 2 tasks, got\n%s", c.Describe())
	}
	for _, tk := range ts {
		if tk.Status.State != types.TaskStatePending || tk.NodeID != "" || !strings.Contains(tk.Status.Err, "constraints not satisfied on 3 nodes") {
			t.Errorf("task %s is %s on %q with reason %q, want pending, unassigned, with the reason naming the 3 nodes failing the constraint",
				tk.Name(), tk.Status.State, tk.NodeID, tk.Status.Err)
		}
	}
	if got := runningContainers(c); got != 0 {
		t.Errorf("%d containers run, want 0", got)
	}
}

func TestRemovingAServiceRemovesItsContainersAndTasks(t *testing.T) {
	c := startCluster(t, 3)
	c.CreateService(ReplicatedSpec("web", 3))
	c.CreateService(ReplicatedSpec("db", 1))
	settled(t, c, 10*time.Second)
	old := killSlot(t, c, "web", 1, 1) // leave some history behind
	c.MustSettle(replacedIn(c, "web", 1, old.ID), 10*time.Second)

	c.RemoveService("web")
	settled(t, c, 30*time.Second)
	var left []string
	c.Store().View(func(tx store.ReadTx) {
		for _, tk := range tx.Tasks() {
			if tk.ServiceName == "web" {
				left = append(left, tk.Name())
			}
		}
	})
	if len(left) > 0 {
		t.Fatalf("tasks of the removed service are still in the store: %v", left)
	}
	for node, cs := range c.Containers() {
		for _, ct := range cs {
			if !strings.HasPrefix(ct.Name, "db.") {
				t.Errorf("node %s keeps container %s (%s) of the removed service", node, ct.Name, ct.State)
			}
		}
	}
	if got := len(c.RunningTasks("db")); got != 1 {
		t.Fatalf("the other service runs %d tasks, want 1", got)
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
	if after := runningBySlot(c, "web"); !mapsEqual(before, after) {
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

func TestDrainingANodeMovesItsReplicatedTasksAway(t *testing.T) {
	c := startCluster(t, 3)
	c.CreateService(ReplicatedSpec("web", 6))
	settled(t, c, 10*time.Second)
	if err := c.SetAvailability(2, types.AvailabilityDrain); err != nil {
		t.Fatal(err)
	}
	settled(t, c, 10*time.Second)
	for _, tk := range c.RunningTasks("web") {
		if tk.NodeID == c.Node(2).ID {
			t.Errorf("task %s still runs on the drained node", tk.Name())
		}
	}
	if got := len(c.RunningTasks("web")); got != 6 {
		t.Fatalf("%d tasks run, want 6", got)
	}
	for _, ct := range c.Node(2).Runtime.Containers() {
		if ct.Running() {
			t.Errorf("container %s still runs on the drained node", ct.Name)
		}
	}
}

func mapsEqual(a, b map[uint64]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func names(cs []*runtime.Container) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name+"("+string(c.State)+")")
	}
	slices.Sort(out)
	return out
}

func TestChangesMadeWhileANodeIsDownApplyWhenItReturns(t *testing.T) {
	c := startCluster(t, 3)
	c.CreateService(ReplicatedSpec("web", 6))
	c.CreateService(ReplicatedSpec("db", 3))
	settled(t, c, 10*time.Second)

	c.StopNode(2)
	c.RemoveService("db")
	c.ScaleService("web", 2)
	if err := c.Advance(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	// Without its agent the node cannot stop its containers, so their
	// tasks stay in the store until it returns.
	running := 0
	for _, ct := range c.Node(2).Runtime.Containers() {
		if ct.Running() {
			running++
		}
	}
	if running == 0 {
		t.Fatalf("the stopped node's containers stopped without an agent\n%s", c.Describe())
	}

	c.StartNode(2)
	settled(t, c, 10*time.Second)
	if got := len(c.RunningTasks("web")); got != 2 {
		t.Fatalf("%d tasks of web run, want 2", got)
	}
	for _, ct := range c.Node(2).Runtime.Containers() {
		if ct.Running() && !strings.HasPrefix(ct.Name, "web.1.") && !strings.HasPrefix(ct.Name, "web.2.") {
			t.Errorf("container %s still runs on the returned node", ct.Name)
		}
	}
}
