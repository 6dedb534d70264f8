package commands

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/types"
)

var t0 = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

var testProgress = progressSettings{interval: 250 * time.Millisecond, stable: time.Second, pendingGrace: 3 * time.Second, maxFailures: 3}

func replicated(n uint64) *types.Service {
	return &types.Service{ID: "svc1", Spec: types.ServiceSpec{Name: "web", Mode: types.ModeReplicated, Replicas: n,
		Task: types.TaskSpec{RestartPolicy: types.RestartPolicy{Condition: types.RestartAny}}}}
}

// task makes a task of web in slot with a state; created orders tasks of a
// slot (a larger number is newer).
func task(id string, slot uint64, desired, state types.TaskState, created int) *types.Task {
	return &types.Task{ID: id, ServiceID: "svc1", ServiceName: "web", Slot: slot, NodeID: "node1",
		Meta:         types.Meta{CreatedAt: t0.Add(time.Duration(created) * time.Second)},
		DesiredState: desired, Status: types.TaskStatus{State: state}}
}

const (
	run  = types.TaskStateRunning
	shut = types.TaskStateShutdown
)

func bar(n int) string {
	return "[" + strings.Repeat("=", n) + ">" + strings.Repeat(" ", 50-n) + "]"
}

func TestProgressBar(t *testing.T) {
	tests := map[types.TaskState]string{
		types.TaskStateNew:       bar(6),
		types.TaskStatePending:   bar(12),
		types.TaskStatePreparing: bar(31),
		types.TaskStateStarting:  bar(43),
		types.TaskStateRunning:   bar(50),
		types.TaskStateFailed:    bar(0),
	}
	for s, want := range tests {
		if got := progressBar(s); got != want {
			t.Errorf("%s: %s, want %s", s, got, want)
		}
	}
}

// step is one snapshot fed to the tracker.
type step struct {
	at    time.Duration
	tasks []*types.Task
}

// follow feeds the steps to a tracker and a non-TTY renderer the way
// waitConverged does, and returns the output, whether the service
// converged, and the error.
func follow(svc *types.Service, nodes []*types.Node, steps []step) (string, bool, error) {
	var out bytes.Buffer
	r := newProgressRenderer(&out, false)
	tr := newTracker(svc, nil, testProgress)
	for _, s := range steps {
		view, done, err := tr.observe(s.tasks, nodes, t0.Add(s.at))
		if err != nil || done {
			r.finish(view)
			return out.String(), done, err
		}
		r.draw(view)
	}
	return out.String(), false, nil
}

func TestProgressConvergesNonTTY(t *testing.T) {
	pending := types.TaskStatePending
	starting := types.TaskStateStarting
	steps := []step{
		{0, nil},
		{250 * time.Millisecond, []*types.Task{task("a", 1, run, pending, 1), task("b", 2, run, pending, 1), task("c", 3, run, pending, 1)}},
		{500 * time.Millisecond, []*types.Task{task("a", 1, run, starting, 1), task("b", 2, run, pending, 1), task("c", 3, run, run, 1)}},
		{750 * time.Millisecond, []*types.Task{task("a", 1, run, run, 1), task("b", 2, run, run, 1), task("c", 3, run, run, 1)}},
		{1500 * time.Millisecond, []*types.Task{task("a", 1, run, run, 1), task("b", 2, run, run, 1), task("c", 3, run, run, 1)}},
		{1750 * time.Millisecond, []*types.Task{task("a", 1, run, run, 1), task("b", 2, run, run, 1), task("c", 3, run, run, 1)}},
	}
	out, done, err := follow(replicated(3), nil, steps)
	if err != nil || !done {
		t.Fatalf("done %v, err %v", done, err)
	}
	want := "" +
		"1/3: new       " + bar(6) + "\n" +
		"2/3: new       " + bar(6) + "\n" +
		"3/3: new       " + bar(6) + "\n" +
		"1/3: pending   " + bar(12) + "\n" +
		"2/3: pending   " + bar(12) + "\n" +
		"3/3: pending   " + bar(12) + "\n" +
		"1/3: starting  " + bar(43) + "\n" +
		"3/3: running   " + bar(50) + "\n" +
		"1/3: running   " + bar(50) + "\n" +
		"2/3: running   " + bar(50) + "\n" +
		"overall progress: 3 out of 3 tasks\n" +
		"verify: Service converged\n"
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
}

func TestProgressNeedsStableTasks(t *testing.T) {
	tr := newTracker(replicated(1), nil, testProgress)
	check := func(at time.Duration, tasks []*types.Task, wantDone bool, wantVerify string) {
		t.Helper()
		view, done, err := tr.observe(tasks, nil, t0.Add(at))
		if err != nil || done != wantDone || view.Verify != wantVerify {
			t.Fatalf("at %v: done %v verify %q err %v; want done %v verify %q", at, done, view.Verify, err, wantDone, wantVerify)
		}
	}
	check(0, []*types.Task{task("a", 1, run, run, 1)}, false, "Waiting 1 second to verify that tasks are stable...")
	// The task is replaced: the clock starts again for the new set.
	check(900*time.Millisecond, []*types.Task{task("b", 1, run, run, 2), task("a", 1, shut, types.TaskStateFailed, 1)}, false, "Waiting 1 second to verify that tasks are stable...")
	check(1500*time.Millisecond, []*types.Task{task("b", 1, run, run, 2), task("a", 1, shut, types.TaskStateFailed, 1)}, false, "Waiting 1 second to verify that tasks are stable...")
	check(1900*time.Millisecond, []*types.Task{task("b", 1, run, run, 2), task("a", 1, shut, types.TaskStateFailed, 1)}, true, "Service converged")
}

func TestProgressGivesUp(t *testing.T) {
	failed := func(id string, created int, exit int, err string) *types.Task {
		tk := task(id, 2, shut, types.TaskStateFailed, created)
		tk.Status.ExitCode, tk.Status.Err = exit, err
		return tk
	}
	ok1 := task("ok1", 1, run, run, 1)
	tests := []struct {
		name  string
		svc   *types.Service
		steps []step
		want  string
	}{
		{
			name: "rejected",
			svc:  replicated(2),
			steps: []step{{0, []*types.Task{ok1, func() *types.Task {
				tk := task("r", 2, shut, types.TaskStateRejected, 1)
				tk.Status.Err = "image not found: nginx:nope"
				return tk
			}()}}},
			want: "web.2: rejected: image not found: nginx:nope",
		},
		{
			name: "cannot be scheduled",
			svc:  replicated(1),
			steps: func() []step {
				p := task("p", 1, run, types.TaskStatePending, 1)
				p.Status.Err = "no suitable node (scheduling constraints not satisfied on 2 nodes)"
				return []step{{0, []*types.Task{p}}, {2 * time.Second, []*types.Task{p}}, {3 * time.Second, []*types.Task{p}}}
			}(),
			want: "web.1 cannot be scheduled: no suitable node (scheduling constraints not satisfied on 2 nodes)",
		},
		{
			name: "slot keeps failing",
			svc:  replicated(2),
			steps: []step{
				{0, []*types.Task{ok1, failed("f1", 1, 1, "boom"), task("n2", 2, run, types.TaskStateStarting, 2)}},
				{time.Second, []*types.Task{ok1, failed("f1", 1, 1, "boom"), failed("f2", 2, 1, "boom"), task("n3", 2, run, types.TaskStatePending, 3)}},
				{2 * time.Second, []*types.Task{ok1, failed("f2", 2, 1, "boom"), failed("f3", 3, 137, "oom killed"), task("n4", 2, run, types.TaskStateNew, 4)}},
			},
			want: "web.2 has failed 3 times; the last task failed: exit code 137: oom killed",
		},
		{
			name: "ended and not restarted",
			svc: func() *types.Service {
				s := replicated(1)
				s.Spec.Task.RestartPolicy.Condition = types.RestartNone
				return s
			}(),
			steps: func() []step {
				done := task("c", 1, shut, types.TaskStateComplete, 1)
				return []step{{0, []*types.Task{done}}, {3 * time.Second, []*types.Task{done}}}
			}(),
			want: "web.1 ended (complete) and nothing replaced it (restart condition none)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, done, err := follow(tt.svc, nil, tt.steps)
			if done || err == nil || err.Error() != tt.want {
				t.Fatalf("done %v, err %v; want %q", done, err, tt.want)
			}
			if !strings.Contains(out, "overall progress: ") || strings.Contains(out, "verify:") {
				t.Errorf("final output:\n%s", out)
			}
		})
	}
}

func TestProgressIgnoresTasksThatEndedBefore(t *testing.T) {
	old := task("old", 1, shut, types.TaskStateRejected, 0)
	tr := newTracker(replicated(1), map[string]bool{"old": true}, testProgress)
	if _, _, err := tr.observe([]*types.Task{task("a", 1, run, run, 1), old}, nil, t0); err != nil {
		t.Fatalf("an old rejected task failed the wait: %v", err)
	}
}

func TestProgressGlobalIsPerNode(t *testing.T) {
	svc := replicated(0)
	svc.Spec.Mode = types.ModeGlobal
	svc.Spec.Task.Placement.Constraints = []string{"node.role==worker"}
	node := func(id string, role types.NodeRole, state types.NodeState, avail types.Availability) *types.Node {
		return &types.Node{ID: id, Spec: types.NodeSpec{Role: role, Availability: avail}, Status: types.NodeStatus{State: state}}
	}
	nodes := []*types.Node{
		node("aaaaaaaaaaaaaaaaworker1", types.RoleWorker, types.NodeStateReady, types.AvailabilityActive),
		node("bbbbbbbbbbbbbbbbworker2", types.RoleWorker, types.NodeStateReady, types.AvailabilityActive),
		node("ccccccccccccccccmanager", types.RoleManager, types.NodeStateReady, types.AvailabilityActive),
		node("dddddddddddddddddrained", types.RoleWorker, types.NodeStateReady, types.AvailabilityDrain),
		node("eeeeeeeeeeeeeeeeeeedown", types.RoleWorker, types.NodeStateDown, types.AvailabilityActive),
	}
	onNode := func(id, nodeID string, state types.TaskState) *types.Task {
		tk := task(id, 0, run, state, 1)
		tk.NodeID = nodeID
		return tk
	}
	var out bytes.Buffer
	r := newProgressRenderer(&out, false)
	tr := newTracker(svc, nil, testProgress)
	tasks := []*types.Task{onNode("t1", "aaaaaaaaaaaaaaaaworker1", run), onNode("t2", "bbbbbbbbbbbbbbbbworker2", types.TaskStatePreparing)}
	view, _, _ := tr.observe(tasks, nodes, t0)
	r.draw(view)
	tasks[1] = onNode("t2", "bbbbbbbbbbbbbbbbworker2", run)
	tr.observe(tasks, nodes, t0.Add(time.Second))
	view, done, err := tr.observe(tasks, nodes, t0.Add(2*time.Second))
	if !done || err != nil {
		t.Fatalf("done %v err %v", done, err)
	}
	r.finish(view)
	want := "" +
		"aaaaaaaaaaaa: running   " + bar(50) + "\n" +
		"bbbbbbbbbbbb: preparing " + bar(31) + "\n" +
		"bbbbbbbbbbbb: running   " + bar(50) + "\n" +
		"overall progress: 2 out of 2 tasks\n" +
		"verify: Service converged\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestProgressTTYRedrawsInPlace(t *testing.T) {
	var out bytes.Buffer
	r := newProgressRenderer(&out, true)
	v := progressView{Running: 0, Total: 1, Slots: []slotView{{Label: "1/1", State: types.TaskStatePending}}}
	r.draw(v)
	v = progressView{Running: 1, Total: 1, Slots: []slotView{{Label: "1/1", State: run}}, Verify: "Service converged"}
	r.finish(v)
	want := "" +
		"\x1b[2Koverall progress: 0 out of 1 tasks\n" +
		"\x1b[2K1/1: pending   " + bar(12) + "\n" +
		"\x1b[2A" +
		"\x1b[2Koverall progress: 1 out of 1 tasks\n" +
		"\x1b[2K1/1: running   " + bar(50) + "\n" +
		"\x1b[2Kverify: Service converged\n"
	if out.String() != want {
		t.Errorf("output %q\nwant   %q", out.String(), want)
	}
}

func TestProgressShowsPullProgressWhilePreparing(t *testing.T) {
	var out bytes.Buffer
	r := newProgressRenderer(&out, false)
	r.draw(progressView{Total: 1, Slots: []slotView{{Label: "1/1", State: types.TaskStatePreparing, Detail: "pulling web:v2: Downloading 45%"}}})
	r.draw(progressView{Total: 1, Slots: []slotView{{Label: "1/1", State: types.TaskStatePreparing, Detail: "pulling web:v2: Downloading 90%"}}})
	got := out.String()
	for _, want := range []string{"1/1: preparing", "Downloading 45%", "Downloading 90%"} {
		if !strings.Contains(got, want) {
			t.Fatalf("progress output lacks %q:\n%s", want, got)
		}
	}
}
