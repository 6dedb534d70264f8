package sim

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/agent"
	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// Tests of the harness itself.

func TestSettleReportsTheStateWhenTheConditionIsNotMet(t *testing.T) {
	c := startCluster(t, 1)
	c.CreateService(ReplicatedSpec("web", 1))
	before := c.Elapsed()
	err := c.Settle(func() bool { return false }, 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "condition not met after 200ms") || !strings.Contains(err.Error(), "task web.1") {
		t.Fatalf("Settle = %v, want an error describing the tasks", err)
	}
	if got := c.Elapsed() - before; got != 200*time.Millisecond {
		t.Fatalf("Settle moved the clock by %s, want exactly the 200ms allowed", got)
	}
}

func TestSafetyCheckCatchesASecondTaskInASlotAndTheOrchestratorRepairsIt(t *testing.T) {
	c := startCluster(t, 1)
	svc := c.CreateService(ReplicatedSpec("web", 1))
	settled(t, c, 10*time.Second)
	// Break the one-task-per-slot rule behind the orchestrator's back.
	err := c.Store().Update(context.Background(), func(tx store.Tx) error {
		return tx.CreateTask(&types.Task{ID: "intruder", ServiceID: svc.ID, ServiceName: "web", Slot: 1, Spec: svc.Spec.Task,
			DesiredState: types.TaskStateRunning, Status: types.TaskStatus{State: types.TaskStateNew}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckSafety(); err == nil || !strings.Contains(err.Error(), "service web slot 1 has 2 tasks desired to run") {
		t.Fatalf("CheckSafety = %v, want the slot violation", err)
	}
	settled(t, c, 10*time.Second)
	if got := len(c.RunningTasks("web")); got != 1 {
		t.Fatalf("%d tasks run, want 1", got)
	}
}

func TestSettleStopsAtTheFirstSafetyViolation(t *testing.T) {
	c := startCluster(t, 1)
	// A container hive does not know of, as if started by hand with
	// hive's labels.
	rt := c.Node(0).Runtime
	if err := rt.EnsureImage(c.Context(), Image, nil, nil); err != nil {
		t.Fatal(err)
	}
	id, err := rt.Create(c.Context(), &runtime.ContainerSpec{Name: "rogue", Image: Image,
		Labels: map[string]string{agent.LabelNode: c.Node(0).ID, agent.LabelTask: "rogue"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(c.Context(), id); err != nil {
		t.Fatal(err)
	}
	err = c.Settle(func() bool { return false }, time.Second)
	if err == nil || !strings.Contains(err.Error(), "runs container rogue of task rogue, which is not in the store") {
		t.Fatalf("Settle = %v, want the rogue container reported", err)
	}
}

func TestServiceLogsComeFromTheNodesFakeRuntimes(t *testing.T) {
	c := startCluster(t, 2)
	c.CreateService(ReplicatedSpec("web", 2))
	settled(t, c, 10*time.Second)
	var lines []api.LogLine
	err := c.Control().ServiceLogs(c.Context(), "web", api.LogOptions{Tail: -1}, func(l api.LogLine) error {
		lines = append(lines, l)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || !strings.HasPrefix(lines[0].Line, "serving") || lines[0].NodeHostname == "" {
		t.Fatalf("service logs = %+v, want one \"serving\" line from each task, with its node's hostname", lines)
	}
}

func TestEveryNodeRegistersAndNodeOneIsTheManager(t *testing.T) {
	c := startCluster(t, 4)
	nodes, err := c.Control().ListNodes(c.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 4 {
		t.Fatalf("%d nodes registered, want 4", len(nodes))
	}
	for _, n := range nodes {
		want := types.RoleWorker
		if n.ID == c.Node(0).ID {
			want = types.RoleManager
		}
		if n.Spec.Role != want || n.Status.State != types.NodeStateReady || n.Description.Hostname == "" {
			t.Errorf("node %s is %s %s %q, want %s ready with a hostname", n.ID, n.Spec.Role, n.Status.State, n.Description.Hostname, want)
		}
	}
}

// A node whose runtime does not answer when it starts registers down with
// the runtime's error; a task that only that node could run waits with a
// reason naming it; once the runtime answers, the node is ready and the
// task runs.
func TestANodeWhoseRuntimeDoesNotAnswerShowsWhy(t *testing.T) {
	c := startCluster(t, 2)
	c.StopNode(1)
	c.Node(1).Runtime.SetDown(true)
	c.StartNode(1)
	node := func() *types.Node {
		var n *types.Node
		c.Store().View(func(tx store.ReadTx) { n = tx.Node(c.Node(1).ID) })
		return n
	}
	c.MustSettle(func() bool {
		return node().Status.State == types.NodeStateDown && strings.HasPrefix(node().Status.Message, "the runtime does not answer: ")
	}, 30*time.Second)
	msg := node().Status.Message
	if !strings.Contains(msg, "fake runtime is down") {
		t.Fatalf("down node's message %q, want the runtime's error", msg)
	}

	spec := ReplicatedSpec("web", 1)
	spec.Task.Placement.Constraints = []string{"node.hostname==host-2"}
	c.CreateService(spec)
	pendingWhy := func() string {
		for _, x := range c.Tasks("web") {
			if x.Status.State == types.TaskStatePending {
				return x.Status.Err
			}
		}
		return ""
	}
	c.MustSettle(func() bool { return strings.Contains(pendingWhy(), "not ready: host-2: "+msg) }, 30*time.Second)

	c.Node(1).Runtime.SetDown(false)
	c.MustSettle(c.Running("web", 1), 60*time.Second)
	if n := node(); n.Status.State != types.NodeStateReady || n.Status.Message != "" {
		t.Errorf("node once its runtime answers: %+v", n.Status)
	}
}
