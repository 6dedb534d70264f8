package spread

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/scheduler"
)

// verdict is the outcome of filtering one node for one task: the node fits,
// or the first filter that rejected it.
type verdict int

const (
	fits verdict = iota
	notAvailable
	constraintsUnmet
	insufficientResources
	portInUse
	numVerdicts
)

// reasonNoNodes is the reason given when the request holds no node at all.
const reasonNoNodes = "no suitable node (no nodes in the cluster)"

// portKey is a host port in normalized form: lowercase protocol, "tcp" when
// none is given.
type portKey struct {
	protocol string
	port     uint32
}

// nodeState is what the scheduler tracks for one node during a call: the
// node, plus the load of the tasks already on it and of the tasks placed on
// it earlier in the batch.
type nodeState struct {
	node      *scheduler.Node
	available bool
	usedCPU   int64
	usedMem   int64
	total     int
	services  map[string]int       // tasks per service ID
	ports     map[portKey]struct{} // host ports in use; nil when none
}

// cluster is the per-call state of every node of a request, built once and
// updated as tasks are placed.
type cluster struct {
	nodes []nodeState
	byID  map[string]int // node ID -> index in nodes (first one wins)
}

// Schedule decides a node for each task of req, in order, counting each
// placement when deciding the next. It returns one decision per task in the
// order of req.Tasks, or ctx.Err() when ctx is done before it finishes.
// req is not modified.
//
// A task whose constraints do not parse is unschedulable with the parse
// error as its reason, whatever the nodes; a task preassigned to a node
// that is not in the request is unschedulable with reason "node ID not
// found".
func (s *Scheduler) Schedule(ctx context.Context, req *scheduler.Request) (*scheduler.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if req == nil {
		return nil, fmt.Errorf("schedule: nil request: %w", sdk.ErrInvalidArgument)
	}
	c := newCluster(req.Nodes)
	resp := &scheduler.Response{Decisions: make([]scheduler.Decision, 0, len(req.Tasks))}
	unschedulable := 0
	for i := range req.Tasks {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		task := &req.Tasks[i]
		d := c.decide(task)
		if d.NodeID == "" {
			unschedulable++
			s.logger.Debug("task unschedulable", "task_id", task.ID, "service_id", task.ServiceID, "reason", d.Reason)
		}
		resp.Decisions = append(resp.Decisions, d)
	}
	s.logger.Debug("scheduled batch", "tasks", len(req.Tasks), "nodes", len(req.Nodes),
		"placed", len(req.Tasks)-unschedulable, "unschedulable", unschedulable)
	return resp, nil
}

// newCluster builds the state of every node from its existing tasks.
func newCluster(nodes []scheduler.Node) *cluster {
	c := &cluster{
		nodes: make([]nodeState, len(nodes)),
		byID:  make(map[string]int, len(nodes)),
	}
	for i := range nodes {
		n := &nodes[i]
		if _, dup := c.byID[n.ID]; !dup {
			c.byID[n.ID] = i
		}
		ns := &c.nodes[i]
		ns.node = n
		ns.available = n.Ready && n.Availability == "active"
		ns.total = len(n.Tasks)
		if len(n.Tasks) > 0 {
			ns.services = make(map[string]int)
		}
		for j := range n.Tasks {
			t := &n.Tasks[j]
			ns.services[t.ServiceID]++
			ns.usedCPU += t.Reservations.NanoCPUs
			ns.usedMem += t.Reservations.MemoryBytes
			ns.addPorts(normalizePorts(t.HostPorts))
		}
	}
	return c
}

// decide chooses a node for task and records the placement, or returns a
// decision with an empty NodeID and the reason none fits.
func (c *cluster) decide(task *scheduler.Task) scheduler.Decision {
	d := scheduler.Decision{TaskID: task.ID}
	cons, err := scheduler.ParseConstraints(task.Constraints)
	if err != nil {
		d.Reason = err.Error()
		return d
	}
	candidates := c.nodes
	if task.NodeID != "" {
		i, ok := c.byID[task.NodeID]
		if !ok {
			d.Reason = "node " + task.NodeID + " not found"
			return d
		}
		candidates = c.nodes[i : i+1]
	} else if len(c.nodes) == 0 {
		d.Reason = reasonNoNodes
		return d
	}

	ports := normalizePorts(task.HostPorts)
	var rejected [numVerdicts]int
	var best *nodeState
	bestSame := 0 // best's tasks of the service, looked up once
	for i := range candidates {
		ns := &candidates[i]
		if v := ns.check(task, cons, ports); v != fits {
			rejected[v]++
			continue
		}
		same := ns.services[task.ServiceID]
		if best == nil || ns.better(same, best, bestSame) {
			best, bestSame = ns, same
		}
	}
	if best == nil {
		d.Reason = reason(rejected)
		return d
	}
	best.place(task, ports)
	d.NodeID = best.node.ID
	return d
}

// check runs the filters in order and returns the first that rejects the
// node, or fits.
func (ns *nodeState) check(task *scheduler.Task, cons []scheduler.Constraint, ports []portKey) verdict {
	if !ns.available {
		return notAvailable
	}
	for i := range cons {
		if !cons[i].Match(ns.node) {
			return constraintsUnmet
		}
	}
	capacity := ns.node.Resources
	if !fitsResource(capacity.NanoCPUs, ns.usedCPU, task.Reservations.NanoCPUs) ||
		!fitsResource(capacity.MemoryBytes, ns.usedMem, task.Reservations.MemoryBytes) {
		return insufficientResources
	}
	for _, p := range ports {
		if _, used := ns.ports[p]; used {
			return portInUse
		}
	}
	return fits
}

// fitsResource reports whether want more of a resource fits on a node of
// the given capacity with used already reserved. Wanting none always fits,
// even on a node that declares no capacity; wanting some never fits on
// such a node.
func fitsResource(capacity, used, want int64) bool {
	if want <= 0 {
		return true
	}
	if capacity <= 0 {
		return false
	}
	return want <= capacity-used
}

// better reports whether ns, which holds same tasks of the service being
// placed, is a better choice than other, which holds otherSame: fewer
// tasks of the service, then fewer tasks, then the smaller node ID.
func (ns *nodeState) better(same int, other *nodeState, otherSame int) bool {
	if same != otherSame {
		return same < otherSame
	}
	if ns.total != other.total {
		return ns.total < other.total
	}
	return ns.node.ID < other.node.ID
}

// place records task, with its normalized ports, as running on the node.
func (ns *nodeState) place(task *scheduler.Task, ports []portKey) {
	if ns.services == nil {
		ns.services = make(map[string]int)
	}
	ns.services[task.ServiceID]++
	ns.total++
	ns.usedCPU += task.Reservations.NanoCPUs
	ns.usedMem += task.Reservations.MemoryBytes
	ns.addPorts(ports)
}

func (ns *nodeState) addPorts(ports []portKey) {
	if len(ports) == 0 {
		return
	}
	if ns.ports == nil {
		ns.ports = make(map[portKey]struct{}, len(ports))
	}
	for _, p := range ports {
		ns.ports[p] = struct{}{}
	}
}

// normalizePorts returns the host ports in comparable form. Port 0 asks for
// a port chosen at start and can conflict with nothing, so it is dropped.
func normalizePorts(ports []scheduler.HostPort) []portKey {
	if len(ports) == 0 {
		return nil
	}
	out := make([]portKey, 0, len(ports))
	for _, p := range ports {
		if p.Port == 0 {
			continue
		}
		proto := strings.ToLower(strings.TrimSpace(p.Protocol))
		if proto == "" {
			proto = "tcp"
		}
		out = append(out, portKey{protocol: proto, port: p.Port})
	}
	return out
}

// reason formats the counts of rejected nodes in Swarm's words, such as
// "no suitable node (1 node not available for new tasks; insufficient
// resources on 2 nodes)".
func reason(rejected [numVerdicts]int) string {
	parts := make([]string, 0, numVerdicts)
	if n := rejected[notAvailable]; n > 0 {
		parts = append(parts, nodeCount(n)+" not available for new tasks")
	}
	if n := rejected[constraintsUnmet]; n > 0 {
		parts = append(parts, "scheduling constraints not satisfied on "+nodeCount(n))
	}
	if n := rejected[insufficientResources]; n > 0 {
		parts = append(parts, "insufficient resources on "+nodeCount(n))
	}
	if n := rejected[portInUse]; n > 0 {
		parts = append(parts, "host-mode port already in use on "+nodeCount(n))
	}
	return "no suitable node (" + strings.Join(parts, "; ") + ")"
}

// nodeCount writes n nodes: "1 node", "2 nodes".
func nodeCount(n int) string {
	if n == 1 {
		return "1 node"
	}
	return strconv.Itoa(n) + " nodes"
}
