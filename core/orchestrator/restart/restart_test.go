package restart

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/orchestrator"
	"github.com/hiveorch/hive/core/types"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func ids() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("new%d", n) }
}

// service runs image v2 at version 2, its update in state (none for "").
func service(state types.UpdateState) *types.Service {
	s := &types.Service{ID: "svc", SpecVersion: 2, Spec: types.ServiceSpec{Name: "web", Mode: types.ModeReplicated, Replicas: 1,
		Task: types.TaskSpec{Container: types.ContainerSpec{Image: "v2"}, RestartPolicy: types.RestartPolicy{Condition: types.RestartAny}}}}
	if state != "" {
		s.UpdateStatus = &types.UpdateStatus{State: state, SpecVersion: 2}
	}
	return s
}

// task of image (version 1 for v1, 2 for v2) in slot 1.
func task(id, image string, desired, state types.TaskState, created time.Time) *types.Task {
	v := uint64(2)
	if image == "v1" {
		v = 1
	}
	return &types.Task{ID: id, ServiceID: "svc", ServiceName: "web", Slot: 1, SpecVersion: v,
		Spec: types.TaskSpec{Container: types.ContainerSpec{Image: image}}, DesiredState: desired,
		Status: types.TaskStatus{State: state}, Meta: types.Meta{CreatedAt: created}}
}

func describe(p orchestrator.Plan) string {
	var out []string
	for _, d := range p.Desired {
		out = append(out, d.TaskID+"="+d.State.String())
	}
	for _, r := range p.Replace {
		out = append(out, "replace "+r.Old)
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

const (
	running  = types.TaskStateRunning
	ready    = types.TaskStateReady
	shutdown = types.TaskStateShutdown
	starting = types.TaskStateStarting
)

func TestSlotKeepsAnOldAndANewTaskOnlyDuringAnUpdate(t *testing.T) {
	tests := []struct {
		name  string
		state types.UpdateState
		tasks []*types.Task
		want  string
	}{
		{"no update: the running one stays", "",
			[]*types.Task{task("old", "v1", running, running, t0), task("new", "v2", running, starting, t0.Add(time.Second))}, "new=shutdown"},
		{"completed update: the same", types.UpdateCompleted,
			[]*types.Task{task("old", "v1", running, running, t0), task("new", "v2", running, starting, t0.Add(time.Second))}, "new=shutdown"},
		{"updating: both stay", types.UpdateUpdating,
			[]*types.Task{task("old", "v1", running, running, t0), task("new", "v2", running, starting, t0.Add(time.Second))}, ""},
		{"paused: both stay", types.UpdatePaused,
			[]*types.Task{task("old", "v1", running, running, t0), task("new", "v2", running, starting, t0.Add(time.Second))}, ""},
		{"updating: an old task that ends is shut down, not restarted", types.UpdateUpdating,
			[]*types.Task{task("old", "v1", running, types.TaskStateFailed, t0), task("new", "v2", running, starting, t0.Add(time.Second))}, "old=shutdown"},
		{"updating: two new tasks are one too many", types.UpdateUpdating,
			[]*types.Task{task("old", "v1", running, running, t0), task("n1", "v2", running, running, t0), task("n2", "v2", running, starting, t0.Add(time.Second))}, "n2=shutdown"},
		{"updating: a new task that fails is restarted", types.UpdateUpdating,
			[]*types.Task{task("old", "v1", running, running, t0), task("new", "v2", running, types.TaskStateFailed, t0)}, "replace new"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := Slot(service(tt.state), tt.tasks, nil, t0.Add(time.Minute), ids())
			if got := describe(p); got != tt.want {
				t.Errorf("plan %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSlotStartsAStopFirstReplacementOnceTheOldTaskStopped(t *testing.T) {
	created := t0
	newTask := task("new", "v2", ready, types.TaskStateReady, created)
	stopping := task("old", "v1", shutdown, running, t0.Add(-time.Hour))
	tests := []struct {
		name     string
		state    types.UpdateState
		others   []*types.Task
		now      time.Time
		wantRun  bool
		wantWake time.Time
	}{
		{"waits while the old task runs", types.UpdateUpdating, []*types.Task{stopping}, t0.Add(time.Second), false, t0.Add(OldTaskTimeout)},
		{"starts once it stopped", types.UpdateUpdating, []*types.Task{task("old", "v1", shutdown, shutdown, t0)}, t0.Add(time.Second), true, time.Time{}},
		{"starts after the timeout anyway", types.UpdateUpdating, []*types.Task{stopping}, t0.Add(OldTaskTimeout), true, time.Time{}},
		{"an old task that never reached a node is no reason to wait", types.UpdateUpdating,
			[]*types.Task{task("old", "v1", shutdown, types.TaskStatePending, t0)}, t0.Add(time.Second), true, time.Time{}},
		{"without an update the restart delay alone decides", "", []*types.Task{stopping}, t0.Add(time.Second), true, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, wake := Slot(service(tt.state), []*types.Task{newTask}, tt.others, tt.now, ids())
			started := describe(p) == "new=running"
			if started != tt.wantRun || !wake.Equal(tt.wantWake) {
				t.Errorf("plan %q wake %v; want started %v, wake %v", describe(p), wake, tt.wantRun, tt.wantWake)
			}
		})
	}
}
