package scheduler

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
	sdksched "github.com/hiveorch/hive/plugins/sdk/scheduler"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func service(name string, replicas uint64, deps ...types.ServiceDependency) *types.Service {
	return &types.Service{ID: name + "-id", Spec: types.ServiceSpec{Name: name, Mode: types.ModeReplicated, Replicas: replicas, DependsOn: deps}}
}

func task(id string, svc *types.Service, slot uint64, st types.TaskState) *types.Task {
	return &types.Task{ID: id, ServiceID: svc.ID, ServiceName: svc.Spec.Name, Slot: slot,
		DesiredState: types.TaskStateRunning, Status: types.TaskStatus{State: st}}
}

// driver returns a driver over a memory store holding one ready node and
// the services and tasks, scheduling with the SDK's Fake.
func driver(t *testing.T, services []*types.Service, tasks []*types.Task) (*Driver, *sdksched.Fake) {
	t.Helper()
	clk := clock.NewFake(t0)
	s := store.NewMemory(clk)
	t.Cleanup(func() { s.Close() })
	err := s.Update(context.Background(), func(tx store.Tx) error {
		n := &types.Node{ID: "node-1", Spec: types.NodeSpec{Role: types.RoleManager, Availability: types.AvailabilityActive},
			Status: types.NodeStatus{State: types.NodeStateReady}}
		if err := tx.CreateNode(n); err != nil {
			return err
		}
		for _, v := range services {
			if err := tx.CreateService(v.Copy()); err != nil {
				return err
			}
		}
		for _, x := range tasks {
			if err := tx.CreateTask(x.Copy()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	plugin := sdksched.NewFake()
	return New(s, plugin, clk, slog.New(slog.NewTextHandler(io.Discard, nil))), plugin
}

func status(d *Driver, id string) types.TaskStatus {
	var st types.TaskStatus
	d.store.View(func(tx store.ReadTx) { st = tx.Task(id).Status })
	return st
}

func version(d *Driver, id string) uint64 {
	var v uint64
	d.store.View(func(tx store.ReadTx) { v = tx.Task(id).Version })
	return v
}

func TestPassHoldsTasksWhoseDependenciesAreUnmet(t *testing.T) {
	db := service("db", 1)
	web := service("web", 1, types.ServiceDependency{Service: "db", Condition: types.DependencyHealthy})
	d, plugin := driver(t, []*types.Service{db, web}, []*types.Task{
		task("db1", db, 1, types.TaskStateStarting), task("web1", web, 1, types.TaskStateNew)})
	ctx := context.Background()

	if _, err := d.pass(ctx); err != nil {
		t.Fatal(err)
	}
	want := "waiting for service db: service_healthy (0 of 1 tasks healthy)"
	st := status(d, "web1")
	if st.State != types.TaskStatePending || st.Message != MsgWaitingForDependencies || st.Err != want {
		t.Fatalf("web1 = %s %q %q, want pending %q %q", st.State, st.Message, st.Err, MsgWaitingForDependencies, want)
	}
	if n := len(plugin.Requests()); n != 0 {
		t.Fatalf("the plugin was asked %d times for a held task, want never", n)
	}

	// The same reason is not written again.
	v := version(d, "web1")
	if _, err := d.pass(ctx); err != nil {
		t.Fatal(err)
	}
	if version(d, "web1") != v {
		t.Errorf("a second pass rewrote the held task with the same reason")
	}

	// db runs: web's task goes to the plugin and is placed.
	err := d.store.Update(ctx, func(tx store.Tx) error {
		x := tx.Task("db1").Copy()
		x.Status.State = types.TaskStateRunning
		return tx.UpdateTask(x)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.pass(ctx); err != nil {
		t.Fatal(err)
	}
	if st := status(d, "web1"); st.State != types.TaskStateAssigned || st.Err != "" {
		t.Fatalf("web1 = %s %q once db runs, want assigned with no error", st.State, st.Err)
	}
}

func TestSnapshotLeavesHeldTasksOut(t *testing.T) {
	web := service("web", 2)
	tasks := []*types.Task{task("a", web, 1, types.TaskStateNew), task("b", web, 2, types.TaskStatePending)}
	gate := func(t *types.Task) (string, bool) { return "wait " + t.ID, t.ID == "b" }
	req, held := Snapshot(nil, tasks, gate)
	if len(req.Tasks) != 1 || req.Tasks[0].ID != "a" {
		t.Fatalf("request tasks = %+v, want only a", req.Tasks)
	}
	if len(held) != 1 || held[0] != (Held{TaskID: "b", Reason: "wait b"}) {
		t.Fatalf("held = %+v, want b", held)
	}
}

func TestRelevantWakesOnWhatCanMeetADependency(t *testing.T) {
	web := service("web", 1)
	running := task("t", web, 1, types.TaskStateRunning)
	running.NodeID = "node-1"
	starting := task("t", web, 1, types.TaskStateStarting)
	starting.NodeID = "node-1"
	complete := task("t", web, 1, types.TaskStateComplete)
	complete.NodeID = "node-1"
	preparing := task("t", web, 1, types.TaskStatePreparing)
	preparing.NodeID = "node-1"
	tests := []struct {
		name string
		ev   store.Event
		want bool
	}{
		{"a service changed", store.Event{Action: store.ActionUpdate, Service: web}, true},
		{"a task started running", store.Event{Action: store.ActionUpdate, Task: running, OldTask: starting}, true},
		{"a task stopped running", store.Event{Action: store.ActionUpdate, Task: complete, OldTask: running}, true},
		{"a placed task moved on before it runs", store.Event{Action: store.ActionUpdate, Task: starting, OldTask: preparing}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := relevant(tt.ev); got != tt.want {
				t.Fatalf("relevant() = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestPendingReasonNamesWhyNodesAreNotReady: the only node cannot run
// tasks because its runtime does not answer; the pending task's reason is
// the scheduler's, then that node's message, and a second pass with the
// same state writes nothing.
func TestPendingReasonNamesWhyNodesAreNotReady(t *testing.T) {
	web := service("web", 1)
	d, _ := driver(t, []*types.Service{web}, []*types.Task{task("web1", web, 1, types.TaskStateNew)})
	ctx := context.Background()
	why := "the runtime does not answer: health check: containerd at /run/x.sock is unreachable"
	err := d.store.Update(ctx, func(tx store.Tx) error {
		n := tx.Node("node-1").Copy()
		n.Description.Hostname = "laptop"
		n.Status = types.NodeStatus{State: types.NodeStateDown, Message: why}
		return tx.UpdateNode(n)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.pass(ctx); err != nil {
		t.Fatal(err)
	}
	st := status(d, "web1")
	want := "no suitable node (1 node not available for new tasks); not ready: laptop: " + why
	if st.State != types.TaskStatePending || st.Err != want {
		t.Fatalf("web1 = %s %q, want pending %q", st.State, st.Err, want)
	}
	v := version(d, "web1")
	if _, err := d.pass(ctx); err != nil {
		t.Fatal(err)
	}
	if version(d, "web1") != v {
		t.Errorf("a second pass rewrote the pending task with the same reason")
	}
}

func TestPendingReasonNamesAtMostThreeNodes(t *testing.T) {
	for _, tc := range []struct {
		notes []string
		want  string
	}{
		{nil, "no suitable node"},
		{[]string{"a: down"}, "no suitable node; not ready: a: down"},
		{[]string{"a: x", "b: y", "c: z", "d: w", "e: v"}, "no suitable node; not ready: a: x; b: y; c: z; and 2 more"},
	} {
		if got := pendingReason("no suitable node", tc.notes); got != tc.want {
			t.Errorf("pendingReason(%v) = %q, want %q", tc.notes, got, tc.want)
		}
	}
	nodes := []*types.Node{
		{ID: "n2", Description: types.NodeDescription{Hostname: "b"}, Status: types.NodeStatus{State: types.NodeStateDown, Message: "heartbeat failure"}},
		{ID: "n1", Status: types.NodeStatus{State: types.NodeStateDown, Message: "no runtime"}},
		{ID: "n3", Description: types.NodeDescription{Hostname: "c"}, Status: types.NodeStatus{State: types.NodeStateReady, Message: "ignored"}},
		{ID: "n4", Description: types.NodeDescription{Hostname: "d"}, Status: types.NodeStatus{State: types.NodeStateUnknown}},
	}
	if got, want := unreadyNotes(nodes), []string{"b: heartbeat failure", "n1: no runtime"}; !slices.Equal(got, want) {
		t.Errorf("unreadyNotes = %q, want %q", got, want)
	}
}
