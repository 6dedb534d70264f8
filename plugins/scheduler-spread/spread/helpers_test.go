package spread

import (
	"context"
	"testing"

	"github.com/hiveorch/hive/internal/testutil"
	"github.com/hiveorch/hive/plugins/sdk/scheduler"
)

func newTestScheduler(t testing.TB) *Scheduler {
	return New(testutil.Logger(t))
}

const (
	cpu = int64(1e9)     // one CPU in NanoCPUs
	gib = int64(1 << 30) // one GiB in bytes
)

type nodeOpt func(*scheduler.Node)

// node returns a ready, active linux/amd64 worker named id-host.
func node(id string, opts ...nodeOpt) scheduler.Node {
	n := scheduler.Node{
		ID:           id,
		Hostname:     id + "-host",
		Role:         "worker",
		Availability: "active",
		Ready:        true,
		Platform:     scheduler.Platform{OS: "linux", Architecture: "amd64"},
	}
	for _, o := range opts {
		o(&n)
	}
	return n
}

func availability(a string) nodeOpt { return func(n *scheduler.Node) { n.Availability = a } }
func notReady() nodeOpt             { return func(n *scheduler.Node) { n.Ready = false } }
func role(r string) nodeOpt         { return func(n *scheduler.Node) { n.Role = r } }
func hostname(h string) nodeOpt     { return func(n *scheduler.Node) { n.Hostname = h } }

func platform(os, arch string) nodeOpt {
	return func(n *scheduler.Node) { n.Platform = scheduler.Platform{OS: os, Architecture: arch} }
}

func resources(nanoCPUs, memory int64) nodeOpt {
	return func(n *scheduler.Node) { n.Resources = scheduler.Resources{NanoCPUs: nanoCPUs, MemoryBytes: memory} }
}

// labels sets labels from key, value pairs.
func labels(kv ...string) nodeOpt {
	return func(n *scheduler.Node) {
		n.Labels = make(map[string]string, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			n.Labels[kv[i]] = kv[i+1]
		}
	}
}

func running(tasks ...scheduler.NodeTask) nodeOpt {
	return func(n *scheduler.Node) { n.Tasks = append(n.Tasks, tasks...) }
}

// running tasks of a service holding nothing.
func runningN(service string, count int) nodeOpt {
	return func(n *scheduler.Node) {
		for range count {
			n.Tasks = append(n.Tasks, scheduler.NodeTask{ServiceID: service})
		}
	}
}

type taskOpt func(*scheduler.Task)

func task(id, service string, opts ...taskOpt) scheduler.Task {
	t := scheduler.Task{ID: id, ServiceID: service}
	for _, o := range opts {
		o(&t)
	}
	return t
}

func constraints(c ...string) taskOpt { return func(t *scheduler.Task) { t.Constraints = c } }
func onNode(id string) taskOpt        { return func(t *scheduler.Task) { t.NodeID = id } }

func reserve(nanoCPUs, memory int64) taskOpt {
	return func(t *scheduler.Task) {
		t.Reservations = scheduler.Resources{NanoCPUs: nanoCPUs, MemoryBytes: memory}
	}
}

func hostPort(proto string, port uint32) scheduler.HostPort {
	return scheduler.HostPort{Protocol: proto, Port: port}
}

func ports(p ...scheduler.HostPort) taskOpt {
	return func(t *scheduler.Task) { t.HostPorts = p }
}

// want is the expected decision for one task: a node ID, or the exact
// reason when the node ID is empty.
type want struct {
	node   string
	reason string
}

func placed(id string) want         { return want{node: id} }
func unschedulable(r string) want   { return want{reason: r} }
func (w want) String() string       { return "node=" + w.node + " reason=" + w.reason }
func got(d scheduler.Decision) want { return want{node: d.NodeID, reason: d.Reason} }

// schedule runs one batch and checks the response has one decision per
// task, in order.
func schedule(t *testing.T, nodes []scheduler.Node, tasks []scheduler.Task) []scheduler.Decision {
	t.Helper()
	resp, err := newTestScheduler(t).Schedule(context.Background(), &scheduler.Request{Nodes: nodes, Tasks: tasks})
	if err != nil {
		t.Fatalf("Schedule: %v", err)
	}
	if len(resp.Decisions) != len(tasks) {
		t.Fatalf("got %d decisions for %d tasks", len(resp.Decisions), len(tasks))
	}
	for i, d := range resp.Decisions {
		if d.TaskID != tasks[i].ID {
			t.Fatalf("decision %d is for task %q, want %q", i, d.TaskID, tasks[i].ID)
		}
		if (d.NodeID == "") == (d.Reason == "") {
			t.Fatalf("decision %d for %s: node %q, reason %q: want exactly one of them", i, d.TaskID, d.NodeID, d.Reason)
		}
	}
	return resp.Decisions
}

// scheduleCase is a table row: a batch and the decision wanted per task.
type scheduleCase struct {
	name  string
	nodes []scheduler.Node
	tasks []scheduler.Task
	want  []want
}

func runScheduleCases(t *testing.T, cases []scheduleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.want) != len(tc.tasks) {
				t.Fatalf("bad case: %d wants for %d tasks", len(tc.want), len(tc.tasks))
			}
			for i, d := range schedule(t, tc.nodes, tc.tasks) {
				if g := got(d); g != tc.want[i] {
					t.Errorf("task %s: got %v, want %v", d.TaskID, g, tc.want[i])
				}
			}
		})
	}
}
