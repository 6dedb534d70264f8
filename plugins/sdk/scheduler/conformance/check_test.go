package conformance

import (
	"strings"
	"testing"

	"github.com/hiveorch/hive/plugins/sdk/scheduler"
)

// TestCheckFindsViolations proves the suite would catch a scheduler that
// breaks each property.
func TestCheckFindsViolations(t *testing.T) {
	down := node("down")
	down.Ready = false
	drained := node("drained")
	drained.Availability = "drain"
	east := node("east")
	east.Labels = map[string]string{"zone": "east"}
	small := node("small")
	small.Resources = scheduler.Resources{NanoCPUs: 1e9}
	busy := node("busy")
	busy.Tasks = []scheduler.NodeTask{{ServiceID: "x", HostPorts: []scheduler.HostPort{{Protocol: "tcp", Port: 80}}}}
	nodes := []scheduler.Node{node("ok"), down, drained, east, small, busy}

	withTask := func(mod func(*scheduler.Task)) []scheduler.Task {
		tk := task("t1")
		mod(&tk)
		return []scheduler.Task{tk}
	}
	cpu := func(n int64) func(*scheduler.Task) {
		return func(t *scheduler.Task) { t.Reservations.NanoCPUs = n }
	}
	port := func(proto string) func(*scheduler.Task) {
		return func(t *scheduler.Task) { t.HostPorts = []scheduler.HostPort{{Protocol: proto, Port: 80}} }
	}
	for _, tc := range []struct {
		name      string
		tasks     []scheduler.Task
		decisions []scheduler.Decision
		want      string // in the violation; "" for none
	}{
		{"a valid placement", withTask(func(*scheduler.Task) {}), []scheduler.Decision{{TaskID: "t1", NodeID: "ok"}}, ""},
		{"a missing decision", withTask(func(*scheduler.Task) {}), nil, "0 decisions for 1 tasks"},
		{"a wrong task ID", withTask(func(*scheduler.Task) {}), []scheduler.Decision{{TaskID: "t2", NodeID: "ok"}}, "TaskID"},
		{"an unknown node", withTask(func(*scheduler.Task) {}), []scheduler.Decision{{TaskID: "t1", NodeID: "ghost"}}, "not in the request"},
		{"a down node", withTask(func(*scheduler.Task) {}), []scheduler.Decision{{TaskID: "t1", NodeID: "down"}}, "not ready and active"},
		{"a drained node", withTask(func(*scheduler.Task) {}), []scheduler.Decision{{TaskID: "t1", NodeID: "drained"}}, "not ready and active"},
		{"no reason", withTask(func(*scheduler.Task) {}), []scheduler.Decision{{TaskID: "t1"}}, "without a reason"},
		{"a broken constraint", withTask(func(t *scheduler.Task) { t.Constraints = []string{"node.labels.zone==east"} }),
			[]scheduler.Decision{{TaskID: "t1", NodeID: "ok"}}, "does not hold"},
		{"a constraint that does not parse", withTask(func(t *scheduler.Task) { t.Constraints = []string{"zone=east"} }),
			[]scheduler.Decision{{TaskID: "t1", NodeID: "east"}}, "do not parse"},
		{"too much CPU", withTask(cpu(2e9)), []scheduler.Decision{{TaskID: "t1", NodeID: "small"}}, "nano-CPUs do not fit"},
		{"memory on a node that declares none", withTask(func(t *scheduler.Task) { t.Reservations.MemoryBytes = 1 }),
			[]scheduler.Decision{{TaskID: "t1", NodeID: "small"}}, "memory do not fit"},
		{"CPU over-committed within the batch",
			[]scheduler.Task{{ID: "a", Reservations: scheduler.Resources{NanoCPUs: 6e8}}, {ID: "b", Reservations: scheduler.Resources{NanoCPUs: 6e8}}},
			[]scheduler.Decision{{TaskID: "a", NodeID: "small"}, {TaskID: "b", NodeID: "small"}}, "nano-CPUs do not fit"},
		{"a port in use", withTask(port("tcp")), []scheduler.Decision{{TaskID: "t1", NodeID: "busy"}}, "already in use"},
		{"a port in use, protocol defaulted", withTask(port("")), []scheduler.Decision{{TaskID: "t1", NodeID: "busy"}}, "already in use"},
		{"another protocol is another port", withTask(port("udp")), []scheduler.Decision{{TaskID: "t1", NodeID: "busy"}}, ""},
		{"a port taken within the batch",
			[]scheduler.Task{{ID: "a", HostPorts: []scheduler.HostPort{{Port: 443}}}, {ID: "b", HostPorts: []scheduler.HostPort{{Protocol: "TCP", Port: 443}}}},
			[]scheduler.Decision{{TaskID: "a", NodeID: "ok"}, {TaskID: "b", NodeID: "ok"}}, "already in use"},
		{"a preassigned task elsewhere", withTask(func(t *scheduler.Task) { t.NodeID = "east" }),
			[]scheduler.Decision{{TaskID: "t1", NodeID: "ok"}}, "preassigned to east"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := Check(&scheduler.Request{Nodes: nodes, Tasks: tc.tasks}, &scheduler.Response{Decisions: tc.decisions})
			got := strings.Join(bad, "; ")
			if tc.want == "" && len(bad) > 0 {
				t.Errorf("Check = %s, want no violation", got)
			}
			if tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("Check = %q, want a violation saying %q", got, tc.want)
			}
		})
	}
	if bad := Check(&scheduler.Request{}, nil); len(bad) != 1 {
		t.Errorf("Check(nil response) = %v", bad)
	}
}
