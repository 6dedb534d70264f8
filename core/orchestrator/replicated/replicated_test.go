package replicated

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func ids() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("t%d", n) }
}

func service(replicas uint64, policy types.RestartPolicy) *types.Service {
	return &types.Service{ID: "svc", Spec: types.ServiceSpec{Name: "web", Mode: types.ModeReplicated, Replicas: replicas,
		Task: types.TaskSpec{Container: types.ContainerSpec{Image: "img"}, RestartPolicy: policy}}}
}

func task(id string, slot uint64, desired, state types.TaskState) *types.Task {
	return &types.Task{ID: id, ServiceID: "svc", ServiceName: "web", Slot: slot, DesiredState: desired,
		Status: types.TaskStatus{State: state}, Meta: types.Meta{CreatedAt: t0}}
}

func slots(ts []*types.Task) []uint64 {
	var out []uint64
	for _, t := range ts {
		out = append(out, t.Slot)
	}
	return out
}

func dur(d time.Duration) *types.Duration { v := types.Duration(d); return &v }

func TestReconcileFillsEmptySlotsOneToN(t *testing.T) {
	svc := service(3, types.RestartPolicy{Condition: types.RestartAny})
	plan, _ := Reconcile(svc, []*types.Task{task("a", 2, types.TaskStateRunning, types.TaskStateRunning)}, nil, t0, ids())
	if got := slots(plan.Create); fmt.Sprint(got) != "[1 3]" {
		t.Fatalf("created slots %v, want [1 3]", got)
	}
	for _, c := range plan.Create {
		if c.Name() != fmt.Sprintf("web.%d", c.Slot) || c.DesiredState != types.TaskStateRunning || c.Status.State != types.TaskStateNew {
			t.Errorf("new task %s desired %v state %v", c.Name(), c.DesiredState, c.Status.State)
		}
	}
}

func TestReconcileScaleDownRemovesTheHighestSlots(t *testing.T) {
	svc := service(2, types.RestartPolicy{Condition: types.RestartAny})
	var tasks []*types.Task
	for i := uint64(1); i <= 5; i++ {
		tasks = append(tasks, task(fmt.Sprint("t", i), i, types.TaskStateRunning, types.TaskStateRunning))
	}
	plan, _ := Reconcile(svc, tasks, nil, t0, ids())
	if len(plan.Create) != 0 || len(plan.Replace) != 0 {
		t.Fatalf("scale down created or replaced tasks: %+v", plan)
	}
	removed := map[string]bool{}
	for _, d := range plan.Desired {
		if d.State != types.TaskStateRemove {
			t.Errorf("task %s set to %v, want remove", d.TaskID, d.State)
		}
		removed[d.TaskID] = true
	}
	if len(removed) != 3 || !removed["t3"] || !removed["t4"] || !removed["t5"] {
		t.Fatalf("removed %v, want t3 t4 t5", removed)
	}
}

func TestReconcileRestartPolicy(t *testing.T) {
	tests := []struct {
		name        string
		policy      types.RestartPolicy
		state       types.TaskState
		restart     types.RestartCount
		wantReplace bool
	}{
		{"any restarts a completed task", types.RestartPolicy{Condition: types.RestartAny}, types.TaskStateComplete, types.RestartCount{}, true},
		{"any restarts a failed task", types.RestartPolicy{Condition: types.RestartAny}, types.TaskStateFailed, types.RestartCount{}, true},
		{"none never restarts", types.RestartPolicy{Condition: types.RestartNone}, types.TaskStateFailed, types.RestartCount{}, false},
		{"on-failure skips a clean exit", types.RestartPolicy{Condition: types.RestartOnFailure}, types.TaskStateComplete, types.RestartCount{}, false},
		{"on-failure restarts a failure", types.RestartPolicy{Condition: types.RestartOnFailure}, types.TaskStateFailed, types.RestartCount{}, true},
		{"on-failure restarts a rejection", types.RestartPolicy{Condition: types.RestartOnFailure}, types.TaskStateRejected, types.RestartCount{}, true},
		{"max attempts reached", types.RestartPolicy{Condition: types.RestartAny, MaxAttempts: 2}, types.TaskStateFailed,
			types.RestartCount{Attempts: 2, WindowStart: t0.Add(-time.Minute)}, false},
		{"max attempts not reached", types.RestartPolicy{Condition: types.RestartAny, MaxAttempts: 2}, types.TaskStateFailed,
			types.RestartCount{Attempts: 1, WindowStart: t0.Add(-time.Minute)}, true},
		{"window expired resets attempts", types.RestartPolicy{Condition: types.RestartAny, MaxAttempts: 2, Window: dur(30 * time.Second)}, types.TaskStateFailed,
			types.RestartCount{Attempts: 2, WindowStart: t0.Add(-time.Minute)}, true},
		{"within window counts attempts", types.RestartPolicy{Condition: types.RestartAny, MaxAttempts: 2, Window: dur(5 * time.Minute)}, types.TaskStateFailed,
			types.RestartCount{Attempts: 2, WindowStart: t0.Add(-time.Minute)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := service(1, tt.policy)
			old := task("old", 1, types.TaskStateRunning, tt.state)
			old.Restart = tt.restart
			plan, _ := Reconcile(svc, []*types.Task{old}, nil, t0, ids())
			if len(plan.Create) != 0 {
				t.Fatalf("an ended task's slot must not be refilled by a plain create: %+v", plan.Create)
			}
			if got := len(plan.Replace) == 1; got != tt.wantReplace {
				t.Fatalf("replaced = %v, want %v", got, tt.wantReplace)
			}
			if tt.wantReplace && plan.Replace[0].Old != "old" {
				t.Fatalf("replaced %s, want old", plan.Replace[0].Old)
			}
		})
	}
}

func TestReplacementWaitsForTheRestartDelay(t *testing.T) {
	svc := service(1, types.RestartPolicy{Condition: types.RestartAny, Delay: dur(5 * time.Second)})
	old := task("old", 1, types.TaskStateRunning, types.TaskStateFailed)
	plan, _ := Reconcile(svc, []*types.Task{old}, nil, t0, ids())
	if len(plan.Replace) != 1 {
		t.Fatalf("want one replacement, got %+v", plan)
	}
	repl := plan.Replace[0].New
	if repl.DesiredState != types.TaskStateReady || !repl.NotBefore.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("replacement desired %v not before %v, want ready until +5s", repl.DesiredState, repl.NotBefore)
	}
	if repl.Slot != 1 || repl.Restart.Attempts != 1 {
		t.Fatalf("replacement slot %d attempts %d", repl.Slot, repl.Restart.Attempts)
	}

	// The old task is now shut down; the replacement waits, then starts.
	old.DesiredState = types.TaskStateShutdown
	repl.Status.State = types.TaskStateReady
	plan, wake := Reconcile(svc, []*types.Task{old, repl}, nil, t0.Add(2*time.Second), ids())
	if !plan.Empty() || !wake.Equal(repl.NotBefore) {
		t.Fatalf("before the delay: plan %+v wake %v, want nothing until %v", plan, wake, repl.NotBefore)
	}
	plan, _ = Reconcile(svc, []*types.Task{old, repl}, nil, t0.Add(5*time.Second), ids())
	if len(plan.Desired) != 1 || plan.Desired[0].TaskID != repl.ID || plan.Desired[0].State != types.TaskStateRunning {
		t.Fatalf("after the delay: %+v, want the replacement promoted to running", plan)
	}
}

func TestReconcileKeepsOneTaskPerSlot(t *testing.T) {
	svc := service(1, types.RestartPolicy{Condition: types.RestartAny})
	a := task("a", 1, types.TaskStateRunning, types.TaskStateRunning)
	b := task("b", 1, types.TaskStateRunning, types.TaskStateStarting)
	plan, _ := Reconcile(svc, []*types.Task{a, b}, nil, t0, ids())
	if len(plan.Desired) != 1 || plan.Desired[0].TaskID != "b" || plan.Desired[0].State != types.TaskStateShutdown {
		t.Fatalf("plan %+v, want b shut down and the running a kept", plan)
	}
}

func TestReconcileIgnoresHistory(t *testing.T) {
	svc := service(1, types.RestartPolicy{Condition: types.RestartAny})
	done := task("old", 1, types.TaskStateShutdown, types.TaskStateFailed)
	cur := task("cur", 1, types.TaskStateRunning, types.TaskStateRunning)
	if plan, _ := Reconcile(svc, []*types.Task{done, cur}, nil, t0, ids()); !plan.Empty() {
		t.Fatalf("a converged service produced %+v", plan)
	}
}

func TestReconcileMovesTasksOffDrainedOrMissingNodes(t *testing.T) {
	nodes := map[string]*types.Node{
		"active":  {ID: "active", Spec: types.NodeSpec{Availability: types.AvailabilityActive}},
		"paused":  {ID: "paused", Spec: types.NodeSpec{Availability: types.AvailabilityPause}},
		"drained": {ID: "drained", Spec: types.NodeSpec{Availability: types.AvailabilityDrain}},
		"down":    {ID: "down", Spec: types.NodeSpec{Availability: types.AvailabilityActive}, Status: types.NodeStatus{State: types.NodeStateDown}},
	}
	notBefore := t0.Add(3 * time.Second)
	tests := []struct {
		name        string
		node        string
		desired     types.TaskState
		state       types.TaskState
		wantMove    bool
		wantDesired types.TaskState
		// startFirst: the old task keeps running next to its replacement.
		startFirst bool
	}{
		{"running on an active node stays", "active", types.TaskStateRunning, types.TaskStateRunning, false, 0, false},
		{"running on a paused node stays", "paused", types.TaskStateRunning, types.TaskStateRunning, false, 0, false},
		{"running on a drained node gets a replacement first", "drained", types.TaskStateRunning, types.TaskStateRunning, true, types.TaskStateRunning, true},
		{"running on a gone node moves at once", "gone", types.TaskStateRunning, types.TaskStateRunning, true, types.TaskStateRunning, false},
		{"running on a down node moves at once", "down", types.TaskStateRunning, types.TaskStateRunning, true, types.TaskStateRunning, false},
		{"a delayed restart on a drained node keeps its delay", "drained", types.TaskStateReady, types.TaskStateReady, true, types.TaskStateReady, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := service(1, types.RestartPolicy{Condition: types.RestartAny, Delay: dur(5 * time.Second)})
			cur := task("cur", 1, tt.desired, tt.state)
			cur.NodeID = tt.node
			cur.Restart = types.RestartCount{Attempts: 2, WindowStart: t0}
			if tt.desired == types.TaskStateReady {
				cur.NotBefore = notBefore
			}
			plan, _ := Reconcile(svc, []*types.Task{cur}, nodes, t0, ids())
			if !tt.wantMove {
				if len(plan.Replace) != 0 || len(plan.Create) != 0 {
					t.Fatalf("plan %+v, want the task kept", plan)
				}
				return
			}
			moves := plan.Replace
			if tt.startFirst {
				moves = plan.Move
				if len(plan.Replace) != 0 || len(plan.Desired) != 0 {
					t.Fatalf("plan %+v, want the old task left running", plan)
				}
			}
			if len(moves) != 1 || moves[0].Old != "cur" || len(plan.Create) != 0 {
				t.Fatalf("plan %+v, want cur replaced (start first: %v)", plan, tt.startFirst)
			}
			n := moves[0].New
			if n.Slot != 1 || n.NodeID != "" || n.DesiredState != tt.wantDesired {
				t.Fatalf("replacement slot %d node %q desired %v, want slot 1, unassigned, desired %v", n.Slot, n.NodeID, n.DesiredState, tt.wantDesired)
			}
			if n.Restart.Attempts != 2 {
				t.Errorf("replacement counts %d restart attempts, want the 2 it had: moving is not a restart", n.Restart.Attempts)
			}
			if tt.wantDesired == types.TaskStateReady && !n.NotBefore.Equal(notBefore) {
				t.Errorf("replacement waits until %v, want the remaining delay until %v", n.NotBefore, notBefore)
			}
			if tt.wantDesired == types.TaskStateRunning && !n.NotBefore.IsZero() {
				t.Errorf("replacement waits until %v, want no delay", n.NotBefore)
			}
		})
	}
}

func TestReconcileLeavesAnEndedTaskOnADrainedNodeToTheRestartPolicy(t *testing.T) {
	nodes := map[string]*types.Node{"drained": {ID: "drained", Spec: types.NodeSpec{Availability: types.AvailabilityDrain}}}
	svc := service(1, types.RestartPolicy{Condition: types.RestartNone})
	ended := task("ended", 1, types.TaskStateRunning, types.TaskStateFailed)
	ended.NodeID = "drained"
	if plan, _ := Reconcile(svc, []*types.Task{ended}, nodes, t0, ids()); !plan.Empty() {
		t.Fatalf("plan %+v, want nothing: restart condition none keeps the ended task", plan)
	}
}

func TestNodeAvailabilityOrStateChangeWakesTheOrchestrator(t *testing.T) {
	active := &types.Node{ID: "n", Spec: types.NodeSpec{Availability: types.AvailabilityActive}, Status: types.NodeStatus{State: types.NodeStateReady}}
	down := active.Copy()
	down.Status.State = types.NodeStateDown
	drained := active.Copy()
	drained.Spec.Availability = types.AvailabilityDrain
	relabelled := active.Copy()
	relabelled.Spec.Labels = map[string]string{"zone": "a"}
	tests := []struct {
		name string
		ev   store.Event
		want bool
	}{
		{"drained", store.Event{Action: store.ActionUpdate, Node: drained, OldNode: active}, true},
		{"went down", store.Event{Action: store.ActionUpdate, Node: down, OldNode: active}, true},
		{"relabelled", store.Event{Action: store.ActionUpdate, Node: relabelled, OldNode: active}, false},
		{"deleted", store.Event{Action: store.ActionDelete, Node: active}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := relevant(tt.ev); got != tt.want {
				t.Fatalf("relevant = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDrainHandsOverOnlyOnceTheReplacementRuns(t *testing.T) {
	nodes := map[string]*types.Node{
		"a":       {ID: "a", Spec: types.NodeSpec{Availability: types.AvailabilityActive}},
		"drained": {ID: "drained", Spec: types.NodeSpec{Availability: types.AvailabilityDrain}},
	}
	svc := service(1, types.RestartPolicy{Condition: types.RestartAny})
	old := task("old", 1, types.TaskStateRunning, types.TaskStateRunning)
	old.NodeID = "drained"
	repl := task("new", 1, types.TaskStateRunning, types.TaskStateStarting)
	repl.NodeID = "a"
	repl.CreatedAt = t0.Add(time.Second)

	if plan, _ := Reconcile(svc, []*types.Task{old, repl}, nodes, t0, ids()); !plan.Empty() {
		t.Fatalf("while the replacement starts: %+v, want nothing (the old task keeps serving)", plan)
	}
	repl.Status.State = types.TaskStateRunning
	plan, _ := Reconcile(svc, []*types.Task{old, repl}, nodes, t0, ids())
	if len(plan.Desired) != 1 || plan.Desired[0].TaskID != "old" || plan.Desired[0].State != types.TaskStateShutdown {
		t.Fatalf("once the replacement runs: %+v, want the old task shut down", plan)
	}
}

func TestReconcileGivesTheSamePlanForTheSameInput(t *testing.T) {
	svc := service(3, types.RestartPolicy{Condition: types.RestartAny})
	var tasks []*types.Task
	for i := uint64(1); i <= 6; i++ { // slots 1-3 ended, 4-6 above the replicas
		tasks = append(tasks, task(fmt.Sprint("old", i), i, types.TaskStateRunning, types.TaskStateFailed))
	}
	first, _ := Reconcile(svc, tasks, nil, t0, ids())
	for range 20 {
		if again, _ := Reconcile(svc, tasks, nil, t0, ids()); !reflect.DeepEqual(again, first) {
			t.Fatalf("two passes over the same input planned\n%+v\nand\n%+v", first, again)
		}
	}
}
