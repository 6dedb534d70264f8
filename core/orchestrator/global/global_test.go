package global

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/types"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func ids() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("t%d", n) }
}

func node(id string, state types.NodeState, avail types.Availability, labels map[string]string) *types.Node {
	return &types.Node{ID: id, Spec: types.NodeSpec{Role: types.RoleWorker, Availability: avail, Labels: labels},
		Description: types.NodeDescription{Hostname: "host-" + id}, Status: types.NodeStatus{State: state}}
}

func TestGlobalRunsOneTaskPerEligibleNode(t *testing.T) {
	svc := &types.Service{ID: "svc", Spec: types.ServiceSpec{Name: "agent", Mode: types.ModeGlobal,
		Task: types.TaskSpec{Container: types.ContainerSpec{Image: "img"}, RestartPolicy: types.RestartPolicy{Condition: types.RestartAny},
			Placement: types.Placement{Constraints: []string{"node.labels.zone!=east"}}}}}
	nodes := []*types.Node{
		node("n1", types.NodeStateReady, types.AvailabilityActive, nil),
		node("n2", types.NodeStateReady, types.AvailabilityActive, nil),
		node("n3", types.NodeStateDown, types.AvailabilityActive, nil),
		node("n4", types.NodeStateReady, types.AvailabilityPause, nil),
		node("n5", types.NodeStateReady, types.AvailabilityDrain, nil),
		node("n6", types.NodeStateReady, types.AvailabilityActive, map[string]string{"zone": "east"}),
	}
	existing := &types.Task{ID: "x", ServiceID: "svc", NodeID: "n2", DesiredState: types.TaskStateRunning,
		Status: types.TaskStatus{State: types.TaskStateRunning}}
	onDrained := &types.Task{ID: "y", ServiceID: "svc", NodeID: "n5", DesiredState: types.TaskStateRunning,
		Status: types.TaskStatus{State: types.TaskStateRunning}}
	onGone := &types.Task{ID: "z", ServiceID: "svc", NodeID: "n9", DesiredState: types.TaskStateRunning,
		Status: types.TaskStatus{State: types.TaskStateRunning}}
	plan, _ := Reconcile(svc, []*types.Task{existing, onDrained, onGone}, nodes, t0, ids())

	var created []string
	for _, c := range plan.Create {
		if c.Slot != 0 {
			t.Errorf("global task has slot %d", c.Slot)
		}
		created = append(created, c.NodeID)
	}
	if fmt.Sprint(created) != "[n1]" {
		t.Fatalf("created on %v, want only n1 (n2 has one; n3 down; n4 paused; n5 drained; n6 fails the constraint)", created)
	}
	var shut []string
	for _, d := range plan.Desired {
		if d.State != types.TaskStateShutdown {
			t.Errorf("task %s set to %v", d.TaskID, d.State)
		}
		shut = append(shut, d.TaskID)
	}
	sort.Strings(shut)
	if fmt.Sprint(shut) != "[y z]" {
		t.Fatalf("shut down %v, want the tasks on the drained and the removed node", shut)
	}
}

func TestGlobalRestartsPerNode(t *testing.T) {
	svc := &types.Service{ID: "svc", Spec: types.ServiceSpec{Name: "agent", Mode: types.ModeGlobal,
		Task: types.TaskSpec{Container: types.ContainerSpec{Image: "img"}, RestartPolicy: types.RestartPolicy{Condition: types.RestartAny}}}}
	dead := &types.Task{ID: "x", ServiceID: "svc", NodeID: "n1", DesiredState: types.TaskStateRunning,
		Status: types.TaskStatus{State: types.TaskStateFailed}}
	plan, _ := Reconcile(svc, []*types.Task{dead}, []*types.Node{node("n1", types.NodeStateReady, types.AvailabilityActive, nil)}, t0, ids())
	if len(plan.Replace) != 1 || plan.Replace[0].New.NodeID != "n1" || len(plan.Create) != 0 {
		t.Fatalf("plan %+v, want the failed task replaced on the same node", plan)
	}
}
