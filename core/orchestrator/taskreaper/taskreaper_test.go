package taskreaper

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/types"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func task(id string, slot uint64, age int, desired, state types.TaskState) *types.Task {
	return &types.Task{ID: id, ServiceID: "svc", Slot: slot, DesiredState: desired,
		Status: types.TaskStatus{State: state}, Meta: types.Meta{CreatedAt: t0.Add(-time.Duration(age) * time.Minute)}}
}

func TestReaperKeepsTheNewestTasksOfEachSlot(t *testing.T) {
	var tasks []*types.Task
	for i := 1; i <= 6; i++ {
		tasks = append(tasks, task(fmt.Sprint("old", i), 1, i, types.TaskStateShutdown, types.TaskStateFailed))
	}
	tasks = append(tasks, task("cur", 1, 0, types.TaskStateRunning, types.TaskStateRunning))
	tasks = append(tasks, task("other", 2, 9, types.TaskStateShutdown, types.TaskStateFailed))
	plan := Reconcile(tasks, map[string]bool{"svc": true}, nil, 5)
	sort.Strings(plan.Delete)
	if fmt.Sprint(plan.Delete) != "[old5 old6]" {
		t.Fatalf("deleted %v, want the two oldest of slot 1 (7 tasks, limit 5)", plan.Delete)
	}
}

func TestReaperDeletesRemovedTasksOnceStopped(t *testing.T) {
	tasks := []*types.Task{
		task("stopped", 4, 0, types.TaskStateRemove, types.TaskStateShutdown),
		task("stopping", 5, 0, types.TaskStateRemove, types.TaskStateRunning),
		task("unscheduled", 6, 0, types.TaskStateRemove, types.TaskStatePending),
	}
	plan := Reconcile(tasks, map[string]bool{"svc": true}, nil, 5)
	sort.Strings(plan.Delete)
	if fmt.Sprint(plan.Delete) != "[stopped unscheduled]" {
		t.Fatalf("deleted %v", plan.Delete)
	}
}

func TestReaperMarksTasksOfRemovedServices(t *testing.T) {
	plan := Reconcile([]*types.Task{task("orphan", 1, 0, types.TaskStateRunning, types.TaskStateRunning)}, map[string]bool{}, nil, 5)
	if len(plan.Desired) != 1 || plan.Desired[0].State != types.TaskStateRemove {
		t.Fatalf("plan %+v, want the task marked for removal", plan)
	}
}

func TestReaperForgetsTheTasksOfARemovedNode(t *testing.T) {
	stale := task("stale", 1, 0, types.TaskStateShutdown, types.TaskStateRunning)
	stale.NodeID = "gone"
	live := task("live", 1, 0, types.TaskStateShutdown, types.TaskStateRunning)
	live.NodeID = "here"
	plan := Reconcile([]*types.Task{stale, live}, map[string]bool{"svc": true}, map[string]bool{"here": true}, 5)
	if fmt.Sprint(plan.Delete) != "[stale]" {
		t.Fatalf("deleted %v, want only the task of the removed node", plan.Delete)
	}
}
