package conformance

import (
	"fmt"
	"strings"

	"github.com/hiveorch/hive/plugins/sdk/scheduler"
)

// Check returns every way resp breaks the properties any scheduler must
// keep for req, or nil:
//
//   - exactly one decision per task, in the tasks' order, each echoing its
//     task's ID;
//   - a chosen node is in the request, ready and active;
//   - the task's constraints hold on it (a task whose constraints do not
//     parse is never placed);
//   - a preassigned task (Task.NodeID) goes to that node or nowhere;
//   - reservations fit: a task that reserves some CPU or memory goes only
//     where the node's capacity, less the reservations of the tasks on it
//     and of those placed before it in the batch, holds it;
//   - host ports are free: no port (protocol and number, tcp by default,
//     0 meaning any) is used twice on a node, counting the batch;
//   - a task left unplaced carries a non-empty reason.
//
// The suite runs it on every response; a scheduler's own tests may too.
func Check(req *scheduler.Request, resp *scheduler.Response) []string {
	var bad []string
	if resp == nil {
		return []string{"nil response"}
	}
	if len(resp.Decisions) != len(req.Tasks) {
		bad = append(bad, fmt.Sprintf("%d decisions for %d tasks", len(resp.Decisions), len(req.Tasks)))
		return bad
	}
	nodes := map[string]*nodeUse{}
	for i := range req.Nodes {
		n := &req.Nodes[i]
		u := &nodeUse{node: n, ports: map[scheduler.HostPort]bool{}}
		for _, t := range n.Tasks {
			u.cpu += t.Reservations.NanoCPUs
			u.mem += t.Reservations.MemoryBytes
			for _, p := range normalizePorts(t.HostPorts) {
				u.ports[p] = true
			}
		}
		nodes[n.ID] = u
	}
	for i, d := range resp.Decisions {
		t := &req.Tasks[i]
		where := fmt.Sprintf("decision %d (task %s)", i, t.ID)
		if d.TaskID != t.ID {
			bad = append(bad, fmt.Sprintf("%s: TaskID %q, want %q", where, d.TaskID, t.ID))
		}
		if d.NodeID == "" {
			if strings.TrimSpace(d.Reason) == "" {
				bad = append(bad, where+": unplaced without a reason")
			}
			continue
		}
		u := nodes[d.NodeID]
		if u == nil {
			bad = append(bad, fmt.Sprintf("%s: node %q is not in the request", where, d.NodeID))
			continue
		}
		if !u.node.Ready || u.node.Availability != "active" {
			bad = append(bad, fmt.Sprintf("%s: node %s is not ready and active (ready %v, availability %q)",
				where, d.NodeID, u.node.Ready, u.node.Availability))
		}
		if t.NodeID != "" && t.NodeID != d.NodeID {
			bad = append(bad, fmt.Sprintf("%s: preassigned to %s, placed on %s", where, t.NodeID, d.NodeID))
		}
		cons, err := scheduler.ParseConstraints(t.Constraints)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: placed although its constraints do not parse: %v", where, err))
		}
		for _, c := range cons {
			if !c.Match(u.node) {
				bad = append(bad, fmt.Sprintf("%s: constraint %s does not hold on %s", where, c, d.NodeID))
			}
		}
		if !fits(u.node.Resources.NanoCPUs, u.cpu, t.Reservations.NanoCPUs) {
			bad = append(bad, fmt.Sprintf("%s: %d nano-CPUs do not fit on %s (capacity %d, reserved %d)",
				where, t.Reservations.NanoCPUs, d.NodeID, u.node.Resources.NanoCPUs, u.cpu))
		}
		if !fits(u.node.Resources.MemoryBytes, u.mem, t.Reservations.MemoryBytes) {
			bad = append(bad, fmt.Sprintf("%s: %d bytes of memory do not fit on %s (capacity %d, reserved %d)",
				where, t.Reservations.MemoryBytes, d.NodeID, u.node.Resources.MemoryBytes, u.mem))
		}
		u.cpu += max(t.Reservations.NanoCPUs, 0)
		u.mem += max(t.Reservations.MemoryBytes, 0)
		for _, p := range normalizePorts(t.HostPorts) {
			if u.ports[p] {
				bad = append(bad, fmt.Sprintf("%s: host port %d/%s already in use on %s", where, p.Port, p.Protocol, d.NodeID))
			}
			u.ports[p] = true
		}
	}
	return bad
}

type nodeUse struct {
	node     *scheduler.Node
	cpu, mem int64
	ports    map[scheduler.HostPort]bool
}

func fits(capacity, used, want int64) bool {
	return want <= 0 || (capacity > 0 && want <= capacity-used)
}

// normalizePorts returns the distinct ports that can conflict, protocol
// lowercased.
func normalizePorts(ports []scheduler.HostPort) []scheduler.HostPort {
	var out []scheduler.HostPort
	seen := map[scheduler.HostPort]bool{}
	for _, p := range ports {
		if p.Port == 0 {
			continue
		}
		proto := strings.ToLower(strings.TrimSpace(p.Protocol))
		if proto == "" {
			proto = "tcp"
		}
		k := scheduler.HostPort{Protocol: proto, Port: p.Port}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}
