package scheduler

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/internal/fakebase"
)

// Fake is a trivial, deterministic Scheduler for hive's core tests: each
// task goes to the first node in ID order that is ready and active, meets
// the task's constraints, has room for its reservations and has its host
// ports free, counting the tasks placed earlier in the same call. A task
// preassigned to a node (Task.NodeID) goes there or nowhere. A task that
// fits nowhere gets a Swarm-style reason, such as "no suitable node (2
// nodes not available for new tasks; insufficient resources on 1 node)".
// It passes the scheduler conformance suite.
//
// Resources follow hive's rule: a task that reserves nothing of a
// resource fits anywhere, one that reserves some fits only on a node that
// declares enough capacity left. A host port is its protocol (tcp when
// empty) and number; port 0 conflicts with nothing.
//
// Test controls: FailNext (the next call of a method returns a given
// error), SetDown (every call fails wrapping sdk.ErrUnavailable), Calls
// (the methods called), Requests (copies of the requests scheduled) and
// Settings. A Fake is safe for concurrent use; the zero value is not
// usable, call NewFake.
type Fake struct {
	// Controls gives the Fake its Base calls and test controls.
	*fakebase.Controls

	mu       sync.Mutex
	requests []*Request
}

var _ Scheduler = (*Fake)(nil)

// FakeVersion is the version the Fake's Describe reports.
const FakeVersion = "1.0.0"

// NewFake returns a Fake.
func NewFake() *Fake {
	return &Fake{Controls: fakebase.New(sdk.Info{Name: "scheduler-fake", Kind: sdk.KindScheduler, Version: FakeVersion})}
}

// Requests returns copies of the requests Schedule received, in order.
func (f *Fake) Requests() []*Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*Request, len(f.requests))
	for i, r := range f.requests {
		out[i] = cloneRequest(r)
	}
	return out
}

// Schedule places each task of req, in order (see Fake).
func (f *Fake) Schedule(ctx context.Context, req *Request) (*Response, error) {
	if err := f.Begin("Schedule"); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("schedule: %w", err)
	}
	if req == nil {
		return nil, fmt.Errorf("schedule: nil request: %w", sdk.ErrInvalidArgument)
	}
	f.mu.Lock()
	f.requests = append(f.requests, cloneRequest(req))
	f.mu.Unlock()

	nodes := make([]*fakeNode, len(req.Nodes))
	for i := range req.Nodes {
		nodes[i] = newFakeNode(&req.Nodes[i])
	}
	slices.SortStableFunc(nodes, func(a, b *fakeNode) int { return strings.Compare(a.node.ID, b.node.ID) })

	resp := &Response{Decisions: make([]Decision, len(req.Tasks))}
	for i := range req.Tasks {
		resp.Decisions[i] = decide(nodes, &req.Tasks[i])
	}
	return resp, nil
}

// fakeNode is a node and what the tasks on it, and those placed on it in
// this call, use.
type fakeNode struct {
	node     *Node
	cpu, mem int64
	ports    map[HostPort]bool
}

func newFakeNode(n *Node) *fakeNode {
	fn := &fakeNode{node: n, ports: map[HostPort]bool{}}
	for _, t := range n.Tasks {
		fn.cpu += t.Reservations.NanoCPUs
		fn.mem += t.Reservations.MemoryBytes
		for _, p := range normalize(t.HostPorts) {
			fn.ports[p] = true
		}
	}
	return fn
}

// normalize returns the ports that can conflict, protocol lowercased.
func normalize(ports []HostPort) []HostPort {
	var out []HostPort
	for _, p := range ports {
		if p.Port == 0 {
			continue
		}
		proto := strings.ToLower(strings.TrimSpace(p.Protocol))
		if proto == "" {
			proto = "tcp"
		}
		out = append(out, HostPort{Protocol: proto, Port: p.Port})
	}
	return out
}

func fits(capacity, used, want int64) bool {
	return want <= 0 || (capacity > 0 && want <= capacity-used)
}

// Reasons a node is refused, in the order they are checked and reported.
var refusals = []string{"not available for new tasks", "not meeting constraints", "with insufficient resources", "with the host port in use"}

func decide(nodes []*fakeNode, t *Task) Decision {
	d := Decision{TaskID: t.ID}
	cons, err := ParseConstraints(t.Constraints)
	if err != nil {
		d.Reason = err.Error()
		return d
	}
	candidates := nodes
	if t.NodeID != "" {
		i := slices.IndexFunc(nodes, func(n *fakeNode) bool { return n.node.ID == t.NodeID })
		if i < 0 {
			d.Reason = "node " + t.NodeID + " not found"
			return d
		}
		candidates = nodes[i : i+1]
	}
	if len(candidates) == 0 {
		d.Reason = "no suitable node (no nodes in the cluster)"
		return d
	}
	ports := normalize(t.HostPorts)
	refused := make([]int, len(refusals))
	for _, n := range candidates {
		switch {
		case !n.node.Ready || n.node.Availability != "active":
			refused[0]++
		case slices.ContainsFunc(cons, func(c Constraint) bool { return !c.Match(n.node) }):
			refused[1]++
		case !fits(n.node.Resources.NanoCPUs, n.cpu, t.Reservations.NanoCPUs) ||
			!fits(n.node.Resources.MemoryBytes, n.mem, t.Reservations.MemoryBytes):
			refused[2]++
		case slices.ContainsFunc(ports, func(p HostPort) bool { return n.ports[p] }):
			refused[3]++
		default:
			n.cpu += t.Reservations.NanoCPUs
			n.mem += t.Reservations.MemoryBytes
			for _, p := range ports {
				n.ports[p] = true
			}
			d.NodeID = n.node.ID
			return d
		}
	}
	var parts []string
	for i, n := range refused {
		if n > 0 {
			parts = append(parts, nodeCount(n)+" "+refusals[i])
		}
	}
	d.Reason = "no suitable node (" + strings.Join(parts, "; ") + ")"
	return d
}

func nodeCount(n int) string {
	if n == 1 {
		return "1 node"
	}
	return strconv.Itoa(n) + " nodes"
}

// cloneRequest returns a deep copy of r.
func cloneRequest(r *Request) *Request {
	out := &Request{Nodes: slices.Clone(r.Nodes), Tasks: slices.Clone(r.Tasks)}
	for i := range out.Nodes {
		n := &out.Nodes[i]
		n.Labels = maps.Clone(n.Labels)
		n.Tasks = slices.Clone(n.Tasks)
		for j := range n.Tasks {
			n.Tasks[j].HostPorts = slices.Clone(n.Tasks[j].HostPorts)
		}
	}
	for i := range out.Tasks {
		t := &out.Tasks[i]
		t.Constraints = slices.Clone(t.Constraints)
		t.HostPorts = slices.Clone(t.HostPorts)
	}
	return out
}
