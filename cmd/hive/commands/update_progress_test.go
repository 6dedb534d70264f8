package commands

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/types"
)

// updating is service web at SpecVersion 2 running image v2, its update
// in state (none for "").
func updating(state types.UpdateState, version uint64) *types.Service {
	s := replicated(2)
	s.SpecVersion = version
	s.Spec.Task.Container.Image = "v2"
	if state != "" {
		s.UpdateStatus = &types.UpdateStatus{State: state, SpecVersion: version, Message: "msg of " + string(state)}
	}
	return s
}

// imaged is task() running image.
func imaged(id string, slot uint64, image string, desired, state types.TaskState, created int) *types.Task {
	t := task(id, slot, desired, state, created)
	t.Spec = types.TaskSpec{Container: types.ContainerSpec{Image: image}, RestartPolicy: types.RestartPolicy{Condition: types.RestartAny}}
	return t
}

func TestUpdateTrackerCountsTasksOfTheNewSpec(t *testing.T) {
	ut := newUpdateTracker(2, testProgress)
	svc := updating(types.UpdateUpdating, 2)
	tasks := []*types.Task{
		imaged("a", 1, "v1", shut, shut, 1), imaged("n1", 1, "v2", run, run, 2),
		imaged("b", 2, "v1", run, run, 1),
	}
	view, note, done, err := ut.observe(svc, tasks, nil, t0)
	if err != nil || done || note != "" {
		t.Fatalf("observe = note %q done %v err %v", note, done, err)
	}
	if view.Running != 1 || view.Total != 2 || view.Slots[0].State != run || !view.Slots[1].Blank {
		t.Errorf("view %+v, want slot 1 running v2 and slot 2 not reached", view)
	}
	if got := strings.Join(slotLines(view), "\n"); !strings.HasSuffix(got, "\n2/2:") {
		t.Errorf("lines %q, want the slot not reached shown by its label alone", got)
	}
}

func TestUpdateTrackerWaitsForTheUpdateToComplete(t *testing.T) {
	ut := newUpdateTracker(2, testProgress)
	tasks := []*types.Task{imaged("n1", 1, "v2", run, run, 2), imaged("n2", 2, "v2", run, run, 2)}
	svc := updating(types.UpdateUpdating, 2)
	view, _, done, err := ut.observe(svc, tasks, nil, t0)
	if done || err != nil || view.Verify != "Waiting 5 seconds to verify that tasks are stable..." {
		t.Fatalf("while the update monitors: view %+v done %v err %v", view, done, err)
	}
	svc.UpdateStatus.State = types.UpdateCompleted
	if _, _, done, _ := ut.observe(svc, tasks, nil, t0.Add(500*time.Millisecond)); done {
		t.Fatalf("converged before the tasks were stable")
	}
	view, _, done, err = ut.observe(svc, tasks, nil, t0.Add(time.Second))
	if !done || err != nil || view.Verify != "Service converged" || view.Running != 2 {
		t.Fatalf("after completion: view %+v done %v err %v", view, done, err)
	}
}

func TestUpdateTrackerEndsOnPauseAndReportsARollback(t *testing.T) {
	ut := newUpdateTracker(2, testProgress)
	tasks := []*types.Task{imaged("n1", 1, "v2", run, types.TaskStateFailed, 2), imaged("b", 2, "v1", run, run, 1)}
	if _, _, _, err := ut.observe(updating(types.UpdatePaused, 2), tasks, nil, t0); err == nil || err.Error() != "msg of paused" {
		t.Fatalf("paused: err %v, want the status message", err)
	}

	// The update rolled back (a later version): announced once, followed,
	// and the end is an error.
	ut = newUpdateTracker(2, testProgress)
	back := updating(types.UpdateRollbackStarted, 3)
	back.Spec.Task.Container.Image = "v1"
	tasks = []*types.Task{imaged("a", 1, "v1", run, run, 3), imaged("b", 2, "v1", run, run, 1)}
	view, note, _, _ := ut.observe(back, tasks, nil, t0)
	if note != "rollback: msg of rollback_started" || view.Prefix != "rolling back update: " {
		t.Fatalf("note %q prefix %q", note, view.Prefix)
	}
	if _, note, _, _ := ut.observe(back, tasks, nil, t0); note != "" {
		t.Errorf("the rollback was announced twice")
	}
	back.UpdateStatus.State = types.UpdateRollbackCompleted
	_, _, done, err := ut.observe(back, tasks, nil, t0.Add(2*time.Second))
	if !done || !errors.Is(err, errRolledBack) {
		t.Fatalf("after the rollback: done %v err %v, want errRolledBack", done, err)
	}

	// A rollback the command asked for (same version) ends well.
	ut = newUpdateTracker(3, testProgress)
	ut.observe(back, tasks, nil, t0)
	if _, _, done, err := ut.observe(back, tasks, nil, t0.Add(2*time.Second)); !done || err != nil {
		t.Fatalf("manual rollback: done %v err %v", done, err)
	}
}
