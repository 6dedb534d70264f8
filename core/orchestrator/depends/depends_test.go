package depends

import (
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/types"
)

// state is a hand-written State: services by name, tasks by service ID.
type state struct {
	services map[string]*types.Service
	tasks    map[string][]*types.Task
}

func (s state) ServiceByName(name string) *types.Service { return s.services[name] }
func (s state) TasksByService(id string) []*types.Task   { return s.tasks[id] }

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func replicated(name string, replicas uint64) *types.Service {
	return &types.Service{ID: name + "-id", Spec: types.ServiceSpec{Name: name, Mode: types.ModeReplicated, Replicas: replicas}}
}

func global(name string) *types.Service {
	return &types.Service{ID: name + "-id", Spec: types.ServiceSpec{Name: name, Mode: types.ModeGlobal}}
}

// task is a task of svc in a slot (or on a node, for slot 0), created at
// t0+age, desired running and in state st.
func task(svc *types.Service, slot uint64, node string, age time.Duration, st types.TaskState, exit int) *types.Task {
	t := &types.Task{ID: svc.Spec.Name + "." + node + string(rune('a'+slot)) + age.String(), ServiceID: svc.ID, ServiceName: svc.Spec.Name,
		Slot: slot, NodeID: node, DesiredState: types.TaskStateRunning,
		Status: types.TaskStatus{State: st, ExitCode: exit}}
	t.CreatedAt = t0.Add(age)
	return t
}

func desiredAs(t *types.Task, d types.TaskState) *types.Task { t.DesiredState = d; return t }

func TestCheck(t *testing.T) {
	db2 := replicated("db", 2)
	db0 := replicated("db", 0)
	init1 := replicated("init", 1)
	agent := global("agent")
	tests := []struct {
		name string
		svc  *types.Service // the dependency, nil for none
		deps []types.ServiceDependency
		ts   []*types.Task
		want string // "" when met
	}{
		{"no dependencies", nil, nil, nil, ""},
		{"missing service", nil, []types.ServiceDependency{{Service: "db", Condition: types.DependencyStarted}}, nil,
			"waiting for service db: it does not exist"},
		{"started: all slots run", db2, []types.ServiceDependency{{Service: "db"}}, []*types.Task{
			task(db2, 1, "n1", 0, types.TaskStateRunning, 0), task(db2, 2, "n2", 0, types.TaskStateRunning, 0)}, ""},
		{"started: no tasks yet", db2, []types.ServiceDependency{{Service: "db"}}, nil,
			"waiting for service db: service_started (0 of 2 tasks running)"},
		{"started: one slot starting", db2, []types.ServiceDependency{{Service: "db", Condition: types.DependencyStarted}}, []*types.Task{
			task(db2, 1, "n1", 0, types.TaskStateRunning, 0), task(db2, 2, "n2", 0, types.TaskStateStarting, 0)},
			"waiting for service db: service_started (1 of 2 tasks running)"},
		{"started: running but told to stop does not count", db2, []types.ServiceDependency{{Service: "db"}}, []*types.Task{
			task(db2, 1, "n1", 0, types.TaskStateRunning, 0), desiredAs(task(db2, 2, "n2", 0, types.TaskStateRunning, 0), types.TaskStateShutdown)},
			"waiting for service db: service_started (1 of 2 tasks running)"},
		{"started: a start-first slot with one task running", db2, []types.ServiceDependency{{Service: "db"}}, []*types.Task{
			task(db2, 1, "n1", 0, types.TaskStateRunning, 0), task(db2, 1, "n2", time.Second, types.TaskStatePending, 0),
			task(db2, 2, "n2", 0, types.TaskStateRunning, 0)}, ""},
		{"started: tasks beyond the replicas are ignored", db2, []types.ServiceDependency{{Service: "db"}}, []*types.Task{
			task(db2, 1, "n1", 0, types.TaskStateRunning, 0), task(db2, 2, "n2", 0, types.TaskStateRunning, 0),
			task(db2, 3, "n2", 0, types.TaskStatePending, 0)}, ""},
		{"started: scaled to zero", db0, []types.ServiceDependency{{Service: "db"}}, nil, ""},
		{"healthy: a task still starting (health check not passed)", db2, []types.ServiceDependency{{Service: "db", Condition: types.DependencyHealthy}}, []*types.Task{
			task(db2, 1, "n1", 0, types.TaskStateRunning, 0), task(db2, 2, "n2", 0, types.TaskStateStarting, 0)},
			"waiting for service db: service_healthy (1 of 2 tasks healthy)"},
		{"healthy: all running", db2, []types.ServiceDependency{{Service: "db", Condition: types.DependencyHealthy}}, []*types.Task{
			task(db2, 1, "n1", 0, types.TaskStateRunning, 0), task(db2, 2, "n2", 0, types.TaskStateRunning, 0)}, ""},
		{"healthy: a failed task waiting for its replacement", db2, []types.ServiceDependency{{Service: "db", Condition: types.DependencyHealthy}}, []*types.Task{
			task(db2, 1, "n1", 0, types.TaskStateRunning, 0), desiredAs(task(db2, 2, "n2", 0, types.TaskStateFailed, 1), types.TaskStateShutdown),
			desiredAs(task(db2, 2, "", time.Second, types.TaskStateNew, 0), types.TaskStateReady)},
			"waiting for service db: service_healthy (1 of 2 tasks healthy)"},
		{"completed: exit 0", init1, []types.ServiceDependency{{Service: "init", Condition: types.DependencyCompleted}}, []*types.Task{
			task(init1, 1, "n1", 0, types.TaskStateComplete, 0)}, ""},
		{"completed: still running", init1, []types.ServiceDependency{{Service: "init", Condition: types.DependencyCompleted}}, []*types.Task{
			task(init1, 1, "n1", 0, types.TaskStateRunning, 0)},
			"waiting for service init: service_completed_successfully (0 of 1 tasks completed with exit code 0)"},
		{"completed: not created yet", init1, []types.ServiceDependency{{Service: "init", Condition: types.DependencyCompleted}}, nil,
			"waiting for service init: service_completed_successfully (0 of 1 tasks completed with exit code 0)"},
		{"completed: failed", init1, []types.ServiceDependency{{Service: "init", Condition: types.DependencyCompleted}}, []*types.Task{
			task(init1, 1, "n1", 0, types.TaskStateFailed, 1)},
			"waiting for service init: service_completed_successfully (0 of 1 tasks completed with exit code 0)"},
		{"completed: an older run failed, the newest completed", init1, []types.ServiceDependency{{Service: "init", Condition: types.DependencyCompleted}}, []*types.Task{
			desiredAs(task(init1, 1, "n1", 0, types.TaskStateFailed, 1), types.TaskStateShutdown), task(init1, 1, "n1", time.Second, types.TaskStateComplete, 0)}, ""},
		{"completed: completed but a replacement is pending (restart any)", init1, []types.ServiceDependency{{Service: "init", Condition: types.DependencyCompleted}}, []*types.Task{
			desiredAs(task(init1, 1, "n1", 0, types.TaskStateComplete, 0), types.TaskStateShutdown),
			desiredAs(task(init1, 1, "", time.Second, types.TaskStateNew, 0), types.TaskStateReady)},
			"waiting for service init: service_completed_successfully (0 of 1 tasks completed with exit code 0)"},
		{"global: every node's task runs", agent, []types.ServiceDependency{{Service: "agent"}}, []*types.Task{
			task(agent, 0, "n1", 0, types.TaskStateRunning, 0), task(agent, 0, "n2", 0, types.TaskStateRunning, 0)}, ""},
		{"global: one node's task pending", agent, []types.ServiceDependency{{Service: "agent"}}, []*types.Task{
			task(agent, 0, "n1", 0, types.TaskStateRunning, 0), task(agent, 0, "n2", 0, types.TaskStatePending, 0)},
			"waiting for service agent: service_started (1 of 2 tasks running)"},
		{"global: a task shut down off a drained node does not count", agent, []types.ServiceDependency{{Service: "agent"}}, []*types.Task{
			task(agent, 0, "n1", 0, types.TaskStateRunning, 0), desiredAs(task(agent, 0, "n2", 0, types.TaskStateShutdown, 0), types.TaskStateShutdown)}, ""},
		{"global: no task yet", agent, []types.ServiceDependency{{Service: "agent"}}, nil,
			"waiting for service agent: service_started (no tasks yet)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := state{services: map[string]*types.Service{}, tasks: map[string][]*types.Task{}}
			if tt.svc != nil {
				st.services[tt.svc.Spec.Name] = tt.svc
				st.tasks[tt.svc.ID] = tt.ts
			}
			spec := &types.ServiceSpec{Name: "web", DependsOn: tt.deps}
			ok, reason := Check(st, spec)
			if ok != (tt.want == "") || reason != tt.want {
				t.Fatalf("Check() = %v, %q; want %v, %q", ok, reason, tt.want == "", tt.want)
			}
		})
	}
}

func TestCheckNamesEveryUnmetDependencyInOrder(t *testing.T) {
	db := replicated("db", 1)
	st := state{services: map[string]*types.Service{"db": db}, tasks: map[string][]*types.Task{
		db.ID: {task(db, 1, "n1", 0, types.TaskStateRunning, 0)}}}
	spec := &types.ServiceSpec{Name: "web", DependsOn: []types.ServiceDependency{
		{Service: "init", Condition: types.DependencyCompleted}, {Service: "db", Condition: types.DependencyHealthy}, {Service: "cache"}}}
	ok, reason := Check(st, spec)
	want := "waiting for service init: it does not exist; waiting for service cache: it does not exist"
	if ok || reason != want {
		t.Fatalf("Check() = %v, %q; want false, %q", ok, reason, want)
	}
}

func TestCycle(t *testing.T) {
	spec := func(name string, deps ...string) types.ServiceSpec {
		s := types.ServiceSpec{Name: name}
		for _, d := range deps {
			s.DependsOn = append(s.DependsOn, types.ServiceDependency{Service: d})
		}
		return s
	}
	tests := []struct {
		name  string
		specs []types.ServiceSpec
		want  string
	}{
		{"none", []types.ServiceSpec{spec("web", "db"), spec("db")}, ""},
		{"a diamond is no cycle", []types.ServiceSpec{spec("web", "api", "auth"), spec("api", "db"), spec("auth", "db"), spec("db")}, ""},
		{"outside the stack is ignored", []types.ServiceSpec{spec("web", "db")}, ""},
		{"two", []types.ServiceSpec{spec("web", "api"), spec("api", "web")}, "api -> web -> api"},
		{"three, entered from outside", []types.ServiceSpec{spec("a", "web"), spec("web", "db"), spec("db", "cache"), spec("cache", "web")},
			"web -> db -> cache -> web"},
		{"self", []types.ServiceSpec{spec("web", "web")}, "web -> web"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(Cycle(tt.specs), " -> "); got != tt.want {
				t.Fatalf("Cycle() = %q, want %q", got, tt.want)
			}
		})
	}
}
