package mesh

import (
	"cmp"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// PortKey names a published port on the node.
type PortKey struct {
	Protocol types.Protocol
	Port     uint32
}

func (k PortKey) String() string { return fmt.Sprintf("%d/%s", k.Port, k.Protocol) }

// Backend is one place a connection to a published port can be sent: a
// running task's container address and target port.
type Backend struct {
	TaskID string
	// NodeID is the node the task runs on; the default dialer ignores it,
	// a forwarding dialer uses it to reach tasks on other nodes.
	NodeID string
	// Addr is "ip:port" of the task's container on the target port, as its
	// node sees it.
	Addr string
	// NodeAddr is the cluster address (host:port) of the task's node, as
	// ClusterRoutes fills it in ("" from Routes): the Forwarder reaches
	// tasks on other nodes there.
	NodeAddr string
}

// Route is what one published port leads to.
type Route struct {
	ServiceID   string
	ServiceName string
	// Backends are in a stable order (by task slot, then task ID), so that
	// the same state always yields an equal route.
	Backends []Backend
}

// Equal reports whether r and o lead to the same backends for the same
// service.
func (r Route) Equal(o Route) bool {
	return r.ServiceID == o.ServiceID && r.ServiceName == o.ServiceName &&
		slices.Equal(r.Backends, o.Backends)
}

// Routes computes the routing table from the state. For each TCP port a
// service publishes in ingress mode, the backends are the service's tasks
// that are meant to run and do run (DesiredState and Status.State both
// running) and have an address. A task being stopped is dropped as soon as
// its desired state changes, before its container stops, so that it gets no
// new connection while it shuts down.
//
// The ports are the service's allocated ones (Service.Endpoint); while
// nothing is allocated yet, the spec's ports with an explicit published port
// are used. An empty protocol means TCP and an empty publish mode means
// ingress, as in Swarm. A task is reached on the target port recorded in
// the task itself when it has one for the same published port (so that
// during an update that changes the target port, old and new tasks are each
// reached on their own), else on the service's. If two services claim the
// same port, the one with the smaller ID wins.
//
// Routes does not change its arguments and returns a new map every call.
func Routes(services []*types.Service, tasks []*types.Task) map[PortKey]Route {
	byService := make(map[string][]*types.Task)
	for _, t := range tasks {
		if t == nil || !Routable(t) {
			continue
		}
		byService[t.ServiceID] = append(byService[t.ServiceID], t)
	}
	for _, ts := range byService {
		slices.SortFunc(ts, func(a, b *types.Task) int {
			return cmp.Or(cmp.Compare(a.Slot, b.Slot), cmp.Compare(a.ID, b.ID))
		})
	}

	ordered := slices.Clone(services)
	ordered = slices.DeleteFunc(ordered, func(s *types.Service) bool { return s == nil })
	slices.SortFunc(ordered, func(a, b *types.Service) int { return cmp.Compare(a.ID, b.ID) })

	table := make(map[PortKey]Route)
	for _, s := range ordered {
		for _, p := range ingressPorts(s) {
			key := PortKey{Protocol: types.ProtocolTCP, Port: p.PublishedPort}
			if _, taken := table[key]; taken {
				continue
			}
			route := Route{ServiceID: s.ID, ServiceName: s.Spec.Name}
			for _, t := range byService[s.ID] {
				target := taskTargetPort(t, p)
				route.Backends = append(route.Backends, Backend{
					TaskID: t.ID,
					NodeID: t.NodeID,
					Addr:   backendAddr(t.Status.Addresses[0], target),
				})
			}
			table[key] = route
		}
	}
	return table
}

// ClusterRoutes is Routes with each backend's NodeAddr set to its node's
// address (Node.Status.Addr), so that the table holds all a node needs to
// forward: the table for nodes without a store, which follow it through
// their session.
func ClusterRoutes(services []*types.Service, tasks []*types.Task, nodes []*types.Node) map[PortKey]Route {
	addrs := make(map[string]string, len(nodes))
	for _, n := range nodes {
		if n != nil {
			addrs[n.ID] = n.Status.Addr
		}
	}
	table := Routes(services, tasks)
	for _, r := range table {
		for i := range r.Backends {
			r.Backends[i].NodeAddr = addrs[r.Backends[i].NodeID]
		}
	}
	return table
}

// Serving reports whether t may receive new connections at all: desired
// and observed running (healthy, when it has a health check: the agent
// keeps such a task starting until it is), and not told to stop. The
// routing mesh, the VIP rules and the DNS resolver all ask this.
func Serving(t *types.Task) bool {
	return t.DesiredState == types.TaskStateRunning && t.Status.State == types.TaskStateRunning
}

// Routable reports whether the mesh may route to t: it is Serving and has
// an address of its runtime's (the tasks Routes lists as backends).
func Routable(t *types.Task) bool {
	return Serving(t) && len(t.Status.Addresses) > 0 && t.Status.Addresses[0] != ""
}

// RouteEvent reports whether ev can change the table ClusterRoutes
// computes: a reset, any service change, a task change that touches a
// routable task, a node's address changing. It only looks at the event, so
// it may serve as a store watch filter.
func RouteEvent(ev store.Event) bool {
	switch {
	case ev.Action == store.ActionReset || ev.Service != nil:
		return true
	case ev.Task != nil:
		return Routable(ev.Task) || (ev.OldTask != nil && Routable(ev.OldTask)) ||
			(ev.Action == store.ActionUpdate && ev.OldTask == nil)
	case ev.Node != nil:
		return ev.Action != store.ActionUpdate || ev.OldNode == nil || ev.OldNode.Status.Addr != ev.Node.Status.Addr
	}
	return false
}

// ingressPorts returns the TCP ingress ports s publishes, with a published
// port set.
func ingressPorts(s *types.Service) []types.PortConfig {
	ports := s.Endpoint.Ports
	if len(ports) == 0 {
		ports = s.Spec.Endpoint.Ports
	}
	var out []types.PortConfig
	for _, p := range ports {
		if isIngressTCP(p) && p.PublishedPort != 0 {
			out = append(out, p)
		}
	}
	return out
}

func isIngressTCP(p types.PortConfig) bool {
	proto := cmp.Or(p.Protocol, types.ProtocolTCP)
	mode := cmp.Or(p.PublishMode, types.PublishIngress)
	return proto == types.ProtocolTCP && mode == types.PublishIngress
}

// taskTargetPort is the target port t listens on for the published port p.
func taskTargetPort(t *types.Task, p types.PortConfig) uint32 {
	for _, tp := range t.Ports {
		if tp.PublishedPort == p.PublishedPort && isIngressTCP(tp) && tp.TargetPort != 0 {
			return tp.TargetPort
		}
	}
	return p.TargetPort
}

// backendAddr joins a task address, which may carry a prefix length
// ("10.0.0.5/24"), with a port.
func backendAddr(addr string, port uint32) string {
	host, _, _ := strings.Cut(addr, "/")
	return net.JoinHostPort(host, strconv.FormatUint(uint64(port), 10))
}
