package update

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/types"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func ids() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("new%d", n) }
}

const (
	running  = types.TaskStateRunning
	ready    = types.TaskStateReady
	shutdown = types.TaskStateShutdown
	failed_  = types.TaskStateFailed
)

// svc is a replicated service at SpecVersion 2 running image v2, whose
// update began at version 2, with policy cfg.
func svc(replicas uint64, cfg types.UpdateConfig) *types.Service {
	m := types.Duration(5 * time.Second)
	if cfg.Monitor == nil {
		cfg.Monitor = &m
	}
	if cfg.FailureAction == "" {
		cfg.FailureAction = types.FailurePause
	}
	if cfg.Order == "" {
		cfg.Order = types.OrderStopFirst
	}
	prev := types.ServiceSpec{Name: "web", Mode: types.ModeReplicated, Replicas: replicas, Task: spec("v1")}
	return &types.Service{ID: "svc", SpecVersion: 2, PreviousSpec: &prev,
		Spec:         types.ServiceSpec{Name: "web", Mode: types.ModeReplicated, Replicas: replicas, Task: spec("v2"), Update: &cfg},
		UpdateStatus: &types.UpdateStatus{State: types.UpdateUpdating, StartedAt: t0, SpecVersion: 2}}
}

func spec(image string) types.TaskSpec {
	return types.TaskSpec{Container: types.ContainerSpec{Image: image}}
}

// old is a task of v1 (version 1) in slot, running.
func old(id string, slot uint64) *types.Task {
	return &types.Task{ID: id, ServiceID: "svc", ServiceName: "web", Slot: slot, Spec: spec("v1"), SpecVersion: 1,
		DesiredState: running, Status: types.TaskStatus{State: running, Timestamp: t0.Add(-time.Hour)}, Meta: types.Meta{CreatedAt: t0.Add(-time.Hour)}}
}

// fresh is a task of v2 (version 2) in slot, desired and observed as
// given, its status stamped at.
func fresh(id string, slot uint64, desired, state types.TaskState, at time.Time) *types.Task {
	return &types.Task{ID: id, ServiceID: "svc", ServiceName: "web", Slot: slot, Spec: spec("v2"), SpecVersion: 2,
		DesiredState: desired, Status: types.TaskStatus{State: state, Timestamp: at}, Meta: types.Meta{CreatedAt: at}}
}

func stopped(t *types.Task) *types.Task {
	t.DesiredState, t.Status.State = shutdown, shutdown
	return t
}

func replacedSlots(p Plan) []uint64 {
	var out []uint64
	for _, r := range p.Tasks.Replace {
		out = append(out, r.New.Slot)
	}
	for _, t := range p.Tasks.StartFirst {
		out = append(out, t.Slot)
	}
	slices.Sort(out)
	return out
}

func desired(p Plan) string {
	var out []string
	for _, d := range p.Tasks.Desired {
		out = append(out, d.TaskID+"="+d.State.String())
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func TestReconcileStartsSlotsInBatchesOfParallelism(t *testing.T) {
	tests := []struct {
		name        string
		parallelism uint64
		tasks       []*types.Task
		want        []uint64
	}{
		{"one at a time", 1, []*types.Task{old("a", 1), old("b", 2), old("c", 3)}, []uint64{1}},
		{"two at a time", 2, []*types.Task{old("a", 1), old("b", 2), old("c", 3)}, []uint64{1, 2}},
		{"zero is all at once", 0, []*types.Task{old("a", 1), old("b", 2), old("c", 3)}, []uint64{1, 2, 3}},
		{"a slot still starting is busy", 1, []*types.Task{stopped(old("a", 1)), fresh("n1", 1, ready, types.TaskStatePreparing, t0), old("b", 2), old("c", 3)}, nil},
		{"the next slot once one ran", 1, []*types.Task{stopped(old("a", 1)), fresh("n1", 1, running, running, t0), old("b", 2), old("c", 3)}, []uint64{2}},
		{"a failed new task releases its slot", 2, []*types.Task{stopped(old("a", 1)), fresh("n1", 1, shutdown, failed_, t0),
			fresh("n2", 1, ready, types.TaskStatePending, t0), old("b", 2), old("c", 3)}, []uint64{2, 3}},
		{"slots above the replicas are left alone", 1, []*types.Task{old("x", 4), stopped(old("a", 1)), fresh("n1", 1, running, running, t0), old("b", 2), old("c", 3)}, []uint64{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var noMonitor types.Duration
			s := svc(3, types.UpdateConfig{Parallelism: tt.parallelism, FailureAction: types.FailureContinue, Monitor: &noMonitor})
			p, _ := Reconcile(s, tt.tasks, t0.Add(time.Second), ids())
			if got := replacedSlots(p); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("started slots %v, want %v", got, tt.want)
			}
			if p.Status != nil {
				t.Errorf("status changed to %+v", p.Status)
			}
		})
	}
}

func TestReconcileStopFirstReplacesWithATaskWaitingReady(t *testing.T) {
	s := svc(2, types.UpdateConfig{Parallelism: 1})
	p, _ := Reconcile(s, []*types.Task{old("a", 1), old("b", 2)}, t0, ids())
	if len(p.Tasks.Replace) != 1 || len(p.Tasks.StartFirst) != 0 {
		t.Fatalf("plan %+v, want one replacement", p.Tasks)
	}
	r := p.Tasks.Replace[0]
	if r.Old != "a" || r.New.DesiredState != ready || r.New.Spec.Container.Image != "v2" || r.New.SpecVersion != 2 || r.New.Slot != 1 {
		t.Errorf("replacement %s -> %+v", r.Old, r.New)
	}
}

func TestReconcileStartFirstAddsThenRetires(t *testing.T) {
	s := svc(2, types.UpdateConfig{Parallelism: 1, Order: types.OrderStartFirst})
	p, _ := Reconcile(s, []*types.Task{old("a", 1), old("b", 2)}, t0, ids())
	if len(p.Tasks.StartFirst) != 1 || p.Tasks.StartFirst[0].Slot != 1 || p.Tasks.StartFirst[0].DesiredState != running || len(p.Tasks.Desired) != 0 {
		t.Fatalf("plan %+v, want a new task added to slot 1 beside the old one", p.Tasks)
	}
	// Not running yet: the old task stays, and slot 2 waits.
	p, _ = Reconcile(s, []*types.Task{old("a", 1), fresh("n1", 1, running, types.TaskStateStarting, t0), old("b", 2)}, t0, ids())
	if !p.Empty() {
		t.Fatalf("plan %+v while the new task starts, want nothing", p)
	}
	// Running: the old one is retired, in the same pass as the next
	// slot... only once the retirement is done (the slot counts as busy).
	p, _ = Reconcile(s, []*types.Task{old("a", 1), fresh("n1", 1, running, running, t0), old("b", 2)}, t0, ids())
	if desired(p) != "a=shutdown" || len(p.Tasks.StartFirst) != 0 {
		t.Fatalf("plan %+v, want the old task of slot 1 shut down", p.Tasks)
	}
}

func TestReconcileMonitorAndDelayPaceTheSlots(t *testing.T) {
	monitor := types.Duration(2 * time.Second)
	s := svc(2, types.UpdateConfig{Parallelism: 1, Delay: types.Duration(3 * time.Second), Monitor: &monitor})
	tasks := []*types.Task{stopped(old("a", 1)), fresh("n1", 1, running, running, t0), old("b", 2)}
	p, wake := Reconcile(s, tasks, t0.Add(time.Second), ids())
	if !p.Empty() || !wake.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("within the monitor period and delay: plan %+v, wake %v; want nothing until %v", p, wake, t0.Add(5*time.Second))
	}
	p, _ = Reconcile(s, tasks, t0.Add(5*time.Second), ids())
	if got := replacedSlots(p); fmt.Sprint(got) != "[2]" {
		t.Fatalf("after the delay started %v, want [2]", got)
	}
}

func TestReconcileCompletesAfterTheMonitorPeriod(t *testing.T) {
	s := svc(2, types.UpdateConfig{Parallelism: 1})
	tasks := []*types.Task{stopped(old("a", 1)), fresh("n1", 1, running, running, t0), stopped(old("b", 2)), fresh("n2", 2, running, running, t0.Add(time.Second))}
	p, wake := Reconcile(s, tasks, t0.Add(3*time.Second), ids())
	if !p.Empty() || !wake.Equal(t0.Add(6*time.Second)) {
		t.Fatalf("within the monitor period: plan %+v wake %v", p, wake)
	}
	p, _ = Reconcile(s, tasks, t0.Add(6*time.Second), ids())
	if p.Status == nil || p.Status.State != types.UpdateCompleted || p.Status.Message != MsgCompleted || !p.Status.CompletedAt.Equal(t0.Add(6*time.Second)) {
		t.Fatalf("status %+v, want completed", p.Status)
	}
	if p.SpecVersion != 2 || p.State != types.UpdateUpdating {
		t.Errorf("the plan's guard is version %d state %s", p.SpecVersion, p.State)
	}
}

func TestReconcileFailures(t *testing.T) {
	crashed := func(id string, slot uint64, err string) *types.Task {
		tk := fresh(id, slot, running, failed_, t0.Add(time.Second))
		tk.Status.Err = err
		return tk
	}
	tests := []struct {
		name        string
		cfg         types.UpdateConfig
		rollingBack bool
		noPrevious  bool
		tasks       []*types.Task
		wantState   types.UpdateState
		wantMessage string
		rollback    bool
	}{
		{"pause on the first failure", types.UpdateConfig{Parallelism: 1},
			false, false, []*types.Task{stopped(old("a", 1)), crashed("n1", 1, "task: non-zero exit (3)"), old("b", 2)},
			types.UpdatePaused, "update paused due to failure or early termination of task n1 (web.1): task: non-zero exit (3)", false},
		{"rollback", types.UpdateConfig{Parallelism: 1, FailureAction: types.FailureRollback},
			false, false, []*types.Task{stopped(old("a", 1)), crashed("n1", 1, "image not found: v2"), old("b", 2)},
			types.UpdateRollbackStarted, "update rolled back due to failure or early termination of task n1 (web.1): image not found: v2", true},
		{"rollback without a previous spec pauses", types.UpdateConfig{Parallelism: 1, FailureAction: types.FailureRollback},
			false, true, []*types.Task{stopped(old("a", 1)), crashed("n1", 1, "boom"), old("b", 2)},
			types.UpdatePaused, "update paused due to failure or early termination of task n1 (web.1): boom; it cannot roll back: the service has no previous spec", false},
		{"a rollback is never rolled back", types.UpdateConfig{Parallelism: 1, FailureAction: types.FailureRollback},
			true, false, []*types.Task{stopped(old("a", 1)), crashed("n1", 1, "boom"), old("b", 2)},
			types.UpdateRollbackPaused, "rollback paused due to failure or early termination of task n1 (web.1): boom", false},
		{"a task that ran longer than the monitor period is no failure", types.UpdateConfig{Parallelism: 1},
			false, false, []*types.Task{stopped(old("a", 1)), func() *types.Task {
				tk := crashed("n1", 1, "exit 1")
				tk.Status.StartedAt = t0.Add(-10 * time.Second)
				return tk
			}(), old("b", 2)}, types.UpdateUpdating, "", false},
		{"a task hive stopped is no failure", types.UpdateConfig{Parallelism: 1},
			false, false, []*types.Task{stopped(old("a", 1)), stopped(fresh("n1", 1, running, running, t0)), old("b", 2)}, types.UpdateUpdating, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := svc(2, tt.cfg)
			if tt.rollingBack {
				s.UpdateStatus.State = types.UpdateRollbackStarted
				s.PreviousSpec.Rollback = &tt.cfg
			}
			if tt.noPrevious {
				s.PreviousSpec = nil
			}
			p, _ := Reconcile(s, tt.tasks, t0.Add(2*time.Second), ids())
			if tt.wantState == types.UpdateUpdating {
				if p.Status != nil && p.Status.State != types.UpdateUpdating {
					t.Fatalf("status %+v, want the update to go on", p.Status)
				}
				return
			}
			if p.Status == nil || p.Status.State != tt.wantState || p.Status.Message != tt.wantMessage || p.Rollback != tt.rollback {
				t.Fatalf("status %+v rollback %v, want %s %q rollback %v", p.Status, p.Rollback, tt.wantState, tt.wantMessage, tt.rollback)
			}
			if !p.Tasks.Empty() {
				t.Errorf("a failure action also changes tasks: %+v", p.Tasks)
			}
		})
	}
}

func TestReconcileCountsFailuresAgainstTheRatio(t *testing.T) {
	s := svc(4, types.UpdateConfig{Parallelism: 1, MaxFailureRatio: 0.5})
	first := fresh("n1", 1, running, failed_, t0)
	tasks := []*types.Task{stopped(old("a", 1)), first, fresh("n2", 1, running, running, t0), old("b", 2), old("c", 3), old("d", 4)}
	p, _ := Reconcile(s, tasks, t0.Add(6*time.Second), ids())
	if p.Status == nil || p.Status.State != types.UpdateUpdating || fmt.Sprint(p.Status.Failures) != "[n1]" {
		t.Fatalf("status %+v, want the failure recorded and the update going on", p.Status)
	}
	if got := replacedSlots(p); fmt.Sprint(got) != "[2]" {
		t.Errorf("started %v, want [2]", got)
	}
	// Recorded failures are not counted twice; three of four slots is past
	// the ratio.
	s.UpdateStatus = p.Status
	tasks = append(tasks[:3], stopped(old("b", 2)), fresh("n3", 2, running, failed_, t0), stopped(old("c", 3)), fresh("n4", 3, running, failed_, t0), old("d", 4))
	p, _ = Reconcile(s, tasks, t0.Add(time.Second), ids())
	if p.Status == nil || p.Status.State != types.UpdatePaused || fmt.Sprint(p.Status.Failures) != "[n1 n3 n4]" {
		t.Fatalf("status %+v, want paused with three failures", p.Status)
	}
}

func TestReconcileStartsAnUpdateForTasksOfAnOldSpec(t *testing.T) {
	s := svc(2, types.UpdateConfig{Parallelism: 1})
	s.UpdateStatus = nil
	p, _ := Reconcile(s, []*types.Task{old("a", 1), old("b", 2)}, t0, ids())
	if p.Status == nil || p.Status.State != types.UpdateUpdating || p.Status.SpecVersion != 2 || p.State != "" {
		t.Fatalf("status %+v (guard %q), want a new update", p.Status, p.State)
	}
	if got := replacedSlots(p); fmt.Sprint(got) != "[1]" {
		t.Errorf("started %v, want [1]", got)
	}
	// Tasks of an older version with the same spec (a scale) are up to date.
	s.UpdateStatus = &types.UpdateStatus{State: types.UpdateCompleted}
	same := []*types.Task{fresh("x", 1, running, running, t0), fresh("y", 2, running, running, t0)}
	same[0].SpecVersion, same[1].SpecVersion = 1, 1
	if p, _ := Reconcile(s, same, t0, ids()); !p.Empty() {
		t.Errorf("plan %+v for tasks of the same spec, want nothing", p)
	}
}

func TestReconcileLeavesAPausedUpdateAlone(t *testing.T) {
	s := svc(2, types.UpdateConfig{Parallelism: 1})
	for _, st := range []types.UpdateState{types.UpdatePaused, types.UpdateRollbackPaused} {
		s.UpdateStatus.State = st
		if p, wake := Reconcile(s, []*types.Task{old("a", 1), old("b", 2)}, t0, ids()); !p.Empty() || !wake.IsZero() {
			t.Errorf("%s: plan %+v wake %v, want nothing", st, p, wake)
		}
	}
}

func TestReconcileRollbackUsesTheRollbackPolicyOfTheSpecLeft(t *testing.T) {
	s := svc(3, types.UpdateConfig{Parallelism: 1})
	s.UpdateStatus.State = types.UpdateRollbackStarted
	s.PreviousSpec.Rollback = &types.UpdateConfig{Parallelism: 0, FailureAction: types.FailurePause, Order: types.OrderStartFirst}
	p, _ := Reconcile(s, []*types.Task{old("a", 1), old("b", 2), old("c", 3)}, t0, ids())
	if len(p.Tasks.StartFirst) != 3 {
		t.Fatalf("plan %+v, want every slot started at once, start-first", p.Tasks)
	}
	// Done: a rollback keeps the message that says why it happened.
	s.UpdateStatus.Message = "update rolled back due to failure or early termination of task n1 (web.1): boom"
	done := []*types.Task{fresh("x", 1, running, running, t0.Add(-time.Minute))}
	s.Spec.Replicas = 1
	p, _ = Reconcile(s, done, t0, ids())
	if p.Status == nil || p.Status.State != types.UpdateRollbackCompleted || p.Status.Message != s.UpdateStatus.Message {
		t.Fatalf("status %+v, want rollback_completed with the reason", p.Status)
	}
	s.UpdateStatus.Message = MsgManualRollback
	p, _ = Reconcile(s, done, t0, ids())
	if p.Status == nil || p.Status.Message != MsgRollbackComplete {
		t.Fatalf("status %+v, want %q", p.Status, MsgRollbackComplete)
	}
}

func TestReconcileGlobalServiceUpdatesNodeByNode(t *testing.T) {
	s := svc(0, types.UpdateConfig{Parallelism: 1})
	s.Spec.Mode = types.ModeGlobal
	a, b := old("a", 0), old("b", 0)
	a.NodeID, b.NodeID = "node-b", "node-a"
	p, _ := Reconcile(s, []*types.Task{a, b}, t0, ids())
	if len(p.Tasks.Replace) != 1 || p.Tasks.Replace[0].Old != "b" || p.Tasks.Replace[0].New.NodeID != "node-a" || p.Tasks.Replace[0].New.Slot != 0 {
		t.Fatalf("plan %+v, want node-a's task replaced on node-a first", p.Tasks)
	}
}

func TestFailedCountsEarlyEndsOnly(t *testing.T) {
	monitor := 5 * time.Second
	tests := []struct {
		state   types.TaskState
		started time.Duration // before the end; 0: never ran
		want    bool
	}{
		{types.TaskStateFailed, 0, true},
		{types.TaskStateRejected, 0, true},
		{types.TaskStateComplete, 2 * time.Second, true},
		{types.TaskStateFailed, 10 * time.Second, false},
		{types.TaskStateShutdown, 0, false},
		{types.TaskStateRunning, 0, false},
	}
	for _, tt := range tests {
		tk := fresh("x", 1, running, tt.state, t0)
		if tt.started != 0 {
			tk.Status.StartedAt = t0.Add(-tt.started)
		}
		if got := failed(tk, monitor); got != tt.want {
			t.Errorf("failed(%s, ran %s) = %v, want %v", tt.state, tt.started, got, tt.want)
		}
	}
}
