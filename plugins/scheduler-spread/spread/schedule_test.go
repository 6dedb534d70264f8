package spread

import (
	"fmt"
	"testing"

	"github.com/hiveorch/hive/plugins/sdk/scheduler"
)

func TestScheduleSpreadsOneServiceEvenlyWithinABatch(t *testing.T) {
	cases := []struct {
		name   string
		nodes  []scheduler.Node
		tasks  int
		counts map[string]int
	}{
		{
			name:   "9 tasks on 3 empty nodes",
			nodes:  []scheduler.Node{node("a"), node("b"), node("c")},
			tasks:  9,
			counts: map[string]int{"a": 3, "b": 3, "c": 3},
		},
		{
			name:   "existing replicas count",
			nodes:  []scheduler.Node{node("a", runningN("web", 2)), node("b"), node("c", runningN("web", 1))},
			tasks:  6,
			counts: map[string]int{"a": 1, "b": 3, "c": 2},
		},
		{
			name:   "other services do not outweigh the service's own spread",
			nodes:  []scheduler.Node{node("a", runningN("db", 5)), node("b")},
			tasks:  4,
			counts: map[string]int{"a": 2, "b": 2},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tasks := make([]scheduler.Task, tc.tasks)
			for i := range tasks {
				tasks[i] = task(fmt.Sprintf("web.%d", i+1), "web")
			}
			counts := map[string]int{}
			for _, d := range schedule(t, tc.nodes, tasks) {
				if d.NodeID == "" {
					t.Fatalf("task %s unschedulable: %s", d.TaskID, d.Reason)
				}
				counts[d.NodeID]++
			}
			if fmt.Sprint(counts) != fmt.Sprint(tc.counts) {
				t.Errorf("tasks per node = %v, want %v", counts, tc.counts)
			}
		})
	}
}

func TestScheduleOrdersByServiceThenTotalThenNodeID(t *testing.T) {
	runScheduleCases(t, []scheduleCase{
		{
			name:  "fewest tasks of the service wins over fewer tasks overall",
			nodes: []scheduler.Node{node("a", runningN("db", 3)), node("b", runningN("web", 1))},
			tasks: []scheduler.Task{task("web.2", "web")},
			want:  []want{placed("a")},
		},
		{
			name:  "fewest tasks overall breaks a tie on the service",
			nodes: []scheduler.Node{node("a", runningN("db", 2)), node("b", runningN("db", 1))},
			tasks: []scheduler.Task{task("web.1", "web")},
			want:  []want{placed("b")},
		},
		{
			name:  "node ID breaks a full tie, whatever the request order",
			nodes: []scheduler.Node{node("c"), node("a"), node("b")},
			tasks: []scheduler.Task{task("web.1", "web")},
			want:  []want{placed("a")},
		},
		{
			name:  "node IDs compare as strings",
			nodes: []scheduler.Node{node("n2"), node("n10")},
			tasks: []scheduler.Task{task("web.1", "web")},
			want:  []want{placed("n10")},
		},
		{
			name:  "placements earlier in the batch count for service and total",
			nodes: []scheduler.Node{node("a", runningN("db", 2)), node("b")},
			tasks: []scheduler.Task{
				task("web.1", "web"), // both 0 web: b has fewer tasks
				task("web.2", "web"), // b has 1 web
				task("web.3", "web"), // 1 web each: b has 1 task, a 3
				task("api.1", "api"), // 0 api each: b has 2 tasks, a 3
			},
			want: []want{placed("b"), placed("a"), placed("b"), placed("b")},
		},
		{
			name:  "two services in one batch each spread",
			nodes: []scheduler.Node{node("a"), node("b")},
			tasks: []scheduler.Task{
				task("web.1", "web"), task("web.2", "web"),
				task("api.1", "api"), task("api.2", "api"),
			},
			want: []want{placed("a"), placed("b"), placed("a"), placed("b")},
		},
	})
}

func TestScheduleSkipsNodesNotAvailable(t *testing.T) {
	runScheduleCases(t, []scheduleCase{
		{
			name: "only the ready active node takes tasks",
			nodes: []scheduler.Node{
				node("a", availability("drain")),
				node("b", availability("pause")),
				node("c", notReady()),
				node("d", runningN("web", 10)),
			},
			tasks: []scheduler.Task{task("web.1", "web"), task("web.2", "web")},
			want:  []want{placed("d"), placed("d")},
		},
		{
			name: "drain, pause and down are all counted",
			nodes: []scheduler.Node{
				node("a", availability("drain")),
				node("b", availability("pause")),
				node("c", notReady()),
			},
			tasks: []scheduler.Task{task("web.1", "web")},
			want:  []want{unschedulable("no suitable node (3 nodes not available for new tasks)")},
		},
		{
			name:  "one drained node",
			nodes: []scheduler.Node{node("a", availability("drain"))},
			tasks: []scheduler.Task{task("web.1", "web")},
			want:  []want{unschedulable("no suitable node (1 node not available for new tasks)")},
		},
		{
			name:  "unknown availability is not active",
			nodes: []scheduler.Node{node("a", availability("")), node("b", availability("Active"))},
			tasks: []scheduler.Task{task("web.1", "web")},
			want:  []want{unschedulable("no suitable node (2 nodes not available for new tasks)")},
		},
	})
}

func TestScheduleHonoursConstraints(t *testing.T) {
	nodes := []scheduler.Node{
		node("m1", role("manager"), hostname("alpha"), labels("zone", "east", "ssd", "true")),
		node("w1", hostname("beta"), labels("zone", "west"), platform("linux", "arm64")),
		node("w2", hostname("gamma"), platform("windows", "amd64")),
	}
	const noneOf3 = "no suitable node (scheduling constraints not satisfied on 3 nodes)"
	cases := []struct {
		constraints []string
		want        want
	}{
		{[]string{"node.id==w2"}, placed("w2")},
		{[]string{"node.id!=m1"}, placed("w1")},
		{[]string{"node.id==nope"}, unschedulable(noneOf3)},
		{[]string{"node.hostname==beta"}, placed("w1")},
		{[]string{"node.hostname==GAMMA"}, placed("w2")},
		{[]string{"node.hostname!=alpha", "node.hostname!=beta"}, placed("w2")},
		{[]string{"node.role==manager"}, placed("m1")},
		{[]string{"node.role!=manager"}, placed("w1")},
		{[]string{"node.role == worker", "node.id != w1"}, placed("w2")},
		{[]string{"node.labels.zone==west"}, placed("w1")},
		{[]string{"node.labels.ssd==true"}, placed("m1")},
		{[]string{"node.labels.zone!=east", "node.hostname==gamma"}, placed("w2")},
		{[]string{"node.labels.gpu!=yes", "node.role==manager"}, placed("m1")},
		{[]string{"node.labels.zone==EAST"}, unschedulable(noneOf3)},
		{[]string{"node.labels.gpu==yes"}, unschedulable(noneOf3)},
		{[]string{"node.platform.os==windows"}, placed("w2")},
		{[]string{"node.platform.os==Linux", "node.platform.arch!=arm64"}, placed("m1")},
		{[]string{"node.platform.arch==arm64"}, placed("w1")},
		{[]string{"node.role==worker", "node.labels.zone==east"}, unschedulable(noneOf3)},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.constraints), func(t *testing.T) {
			d := schedule(t, nodes, []scheduler.Task{task("web.1", "web", constraints(tc.constraints...))})
			if g := got(d[0]); g != tc.want {
				t.Errorf("got %v, want %v", g, tc.want)
			}
		})
	}
}

func TestScheduleReportsAnInvalidConstraint(t *testing.T) {
	cases := []struct {
		name  string
		nodes []scheduler.Node
		expr  string
	}{
		{name: "unknown key", nodes: []scheduler.Node{node("a")}, expr: "node.colour==red"},
		{name: "bad role", nodes: []scheduler.Node{node("a")}, expr: "node.role==boss"},
		{name: "no operator", nodes: []scheduler.Node{node("a")}, expr: "node.role=worker"},
		{name: "reported even with no nodes", nodes: nil, expr: "node.labels.==x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, perr := scheduler.ParseConstraint(tc.expr)
			if perr == nil {
				t.Fatalf("bad case: %q parses", tc.expr)
			}
			tasks := []scheduler.Task{
				task("bad.1", "bad", constraints("node.role==worker", tc.expr)),
				task("good.1", "good"),
			}
			d := schedule(t, tc.nodes, tasks)
			if g, w := got(d[0]), unschedulable(perr.Error()); g != w {
				t.Errorf("invalid constraint: got %v, want %v", g, w)
			}
			if len(tc.nodes) > 0 && d[1].NodeID != "a" {
				t.Errorf("the next task was not placed: %+v", d[1])
			}
		})
	}
}

func TestScheduleHonoursAPreassignedNode(t *testing.T) {
	runScheduleCases(t, []scheduleCase{
		{
			name:  "goes to its node even when another is emptier",
			nodes: []scheduler.Node{node("a"), node("b", runningN("web", 3))},
			tasks: []scheduler.Task{task("web.b", "web", onNode("b"))},
			want:  []want{placed("b")},
		},
		{
			name:  "its node is drained",
			nodes: []scheduler.Node{node("a"), node("b", availability("drain"))},
			tasks: []scheduler.Task{task("web.b", "web", onNode("b"))},
			want:  []want{unschedulable("no suitable node (1 node not available for new tasks)")},
		},
		{
			name:  "its node fails the constraints",
			nodes: []scheduler.Node{node("a"), node("b")},
			tasks: []scheduler.Task{task("web.b", "web", onNode("b"), constraints("node.role==manager"))},
			want:  []want{unschedulable("no suitable node (scheduling constraints not satisfied on 1 node)")},
		},
		{
			name:  "its node lacks resources",
			nodes: []scheduler.Node{node("a", resources(8*cpu, 8*gib)), node("b", resources(cpu, gib))},
			tasks: []scheduler.Task{task("web.b", "web", onNode("b"), reserve(2*cpu, 0))},
			want:  []want{unschedulable("no suitable node (insufficient resources on 1 node)")},
		},
		{
			name:  "its node is not in the request",
			nodes: []scheduler.Node{node("a")},
			tasks: []scheduler.Task{task("web.z", "web", onNode("zz"))},
			want:  []want{unschedulable("node zz not found")},
		},
		{
			name:  "not found even with no nodes at all",
			nodes: nil,
			tasks: []scheduler.Task{task("web.z", "web", onNode("zz"))},
			want:  []want{unschedulable("node zz not found")},
		},
		{
			name:  "its placement counts for the tasks after it",
			nodes: []scheduler.Node{node("a"), node("b")},
			tasks: []scheduler.Task{
				task("web.a", "web", onNode("a")),
				task("web.1", "web"),
				task("web.b", "web", onNode("b")),
				task("web.2", "web"),
			},
			want: []want{placed("a"), placed("b"), placed("b"), placed("a")},
		},
	})
}
