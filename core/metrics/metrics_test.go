package metrics

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

func task(id, svc string, desired, observed types.TaskState) *types.Task {
	return &types.Task{ID: id, ServiceID: svc, DesiredState: desired, Status: types.TaskStatus{State: observed}}
}

func TestClusterCollectorSeries(t *testing.T) {
	st := store.NewMemory(clock.NewFake(time.Unix(1000, 0)))
	defer st.Close()
	err := st.Update(context.Background(), func(tx store.Tx) error {
		for _, s := range []*types.Service{
			{ID: "s1", Spec: types.ServiceSpec{Name: "web", Mode: types.ModeReplicated, Replicas: 3}},
			{ID: "s2", Spec: types.ServiceSpec{Name: "agent", Mode: types.ModeGlobal}},
		} {
			if err := tx.CreateService(s); err != nil {
				return err
			}
		}
		for _, tk := range []*types.Task{
			task("t1", "s1", types.TaskStateRunning, types.TaskStateRunning),
			task("t2", "s1", types.TaskStateRunning, types.TaskStateRunning),
			task("t3", "s1", types.TaskStateRunning, types.TaskStatePending),
			task("t4", "s1", types.TaskStateShutdown, types.TaskStateFailed),
			task("t5", "s2", types.TaskStateRunning, types.TaskStateRunning),
			task("t6", "s2", types.TaskStateRunning, types.TaskStateAssigned),
		} {
			if err := tx.CreateTask(tk); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `
# HELP hive_service_replicas_desired Tasks a service should run: replicas for a replicated service, tasks desired running for a global one.
# TYPE hive_service_replicas_desired gauge
hive_service_replicas_desired{service="agent"} 2
hive_service_replicas_desired{service="web"} 3
# HELP hive_service_replicas_running Tasks of a service observed running.
# TYPE hive_service_replicas_running gauge
hive_service_replicas_running{service="agent"} 1
hive_service_replicas_running{service="web"} 2
# HELP hive_service_tasks Tasks of a service by observed state.
# TYPE hive_service_tasks gauge
hive_service_tasks{service="agent",state="assigned"} 1
hive_service_tasks{service="agent",state="running"} 1
hive_service_tasks{service="web",state="failed"} 1
hive_service_tasks{service="web",state="pending"} 1
hive_service_tasks{service="web",state="running"} 2
# HELP hive_tasks_pending Tasks in the cluster waiting to be scheduled (observed state pending).
# TYPE hive_tasks_pending gauge
hive_tasks_pending 1
`
	if err := testutil.CollectAndCompare(NewClusterCollector(st), strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

func TestRegistryWorkerHasNoClusterSeries(t *testing.T) {
	reg := NewRegistry(nil)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		seen[mf.GetName()] = true
	}
	if !seen["go_goroutines"] || !seen["process_cpu_seconds_total"] {
		t.Fatalf("missing go/process collectors: %v", seen)
	}
	if seen["hive_tasks_pending"] {
		t.Fatal("worker registry must not report cluster state")
	}
}
