// Package networks computes what each node needs to know of the cluster's
// overlay networks (NodeView): the networks its tasks are on, the services
// on those networks and the tasks of theirs that run anywhere. The
// managers compute it from the store for each node's session; the node's
// agent programs its network plugin (networks, attachments, peers), its
// tasks' resolvers (package dns) and their virtual IP rules (package vip)
// from it alone. One place computes it, so every node sees the same rule.
package networks

import (
	"cmp"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/network"
)

// NodeView is one node's view of the networks. Its lists are sorted by
// ID, so that two views of the same state are equal (reflect.DeepEqual),
// and it holds only what the node needs: trimmed services and tasks.
type NodeView struct {
	// Networks are the networks of the node's live tasks.
	Networks []*types.Network `json:"networks,omitempty"`
	// Services are the services on those networks, trimmed to their ID,
	// name, networks and endpoint.
	Services []*types.Service `json:"services,omitempty"`
	// Tasks are the live tasks, on any node, attached to those networks,
	// trimmed to what resolving, balancing and peering need: their IDs,
	// node, networks, desired state and state.
	Tasks []*types.Task `json:"tasks,omitempty"`
	// Nodes are where the other nodes of those tasks take overlay traffic.
	Nodes []NodeEndpoint `json:"nodes,omitempty"`
}

// NodeEndpoint is a node's underlay end of the overlays.
type NodeEndpoint struct {
	ID   string     `json:"id"`
	Addr netip.Addr `json:"addr"`
	// Port is its VXLAN port (0: the driver's default).
	Port uint16 `json:"port,omitempty"`
}

// live reports whether a task is on a node and may still run there: its
// attachments must exist until its container is gone.
func live(t *types.Task) bool {
	return t.NodeID != "" && t.Status.State >= types.TaskStateAssigned && !t.Status.State.Terminal() &&
		len(t.Networks) > 0
}

// ComputeNodeView computes nodeID's view from one consistent read of the
// state. It does not change its arguments.
func ComputeNodeView(nodeID string, services []*types.Service, tasks []*types.Task, nodes []*types.Node, nets []*types.Network) *NodeView {
	byID := make(map[string]*types.Network, len(nets))
	for _, n := range nets {
		byID[n.ID] = n
	}
	want := map[string]bool{}
	for _, t := range tasks {
		if t.NodeID == nodeID && live(t) {
			for _, id := range t.NetworkIDs() {
				if byID[id] != nil {
					want[id] = true
				}
			}
		}
	}
	v := &NodeView{}
	if len(want) == 0 {
		return v
	}
	for _, n := range nets {
		if want[n.ID] {
			v.Networks = append(v.Networks, n)
		}
	}
	for _, s := range services {
		if !slices.ContainsFunc(s.Spec.Networks, func(a types.NetworkAttachmentConfig) bool { return want[a.Target] }) &&
			!slices.ContainsFunc(s.Endpoint.VirtualIPs, func(e types.EndpointVirtualIP) bool { return want[e.NetworkID] }) {
			continue
		}
		c := &types.Service{ID: s.ID}
		c.Spec.Name = s.Spec.Name
		c.Spec.Networks = slices.Clone(s.Spec.Networks)
		c.Spec.Endpoint = types.EndpointSpec{Mode: s.Spec.Endpoint.Mode, Ports: slices.Clone(s.Spec.Endpoint.Ports)}
		c.Endpoint = types.Endpoint{Ports: slices.Clone(s.Endpoint.Ports), VirtualIPs: slices.Clone(s.Endpoint.VirtualIPs)}
		v.Services = append(v.Services, c)
	}
	nodeSeen := map[string]bool{}
	for _, t := range tasks {
		if !live(t) || !slices.ContainsFunc(t.Networks, func(a types.NetworkAttachment) bool { return want[a.NetworkID] }) {
			continue
		}
		c := &types.Task{ID: t.ID, ServiceID: t.ServiceID, ServiceName: t.ServiceName, Slot: t.Slot, NodeID: t.NodeID,
			DesiredState: t.DesiredState}
		c.Status.State = t.Status.State
		for _, a := range t.Networks {
			if want[a.NetworkID] {
				c.Networks = append(c.Networks, types.NetworkAttachment{NetworkID: a.NetworkID, Addresses: slices.Clone(a.Addresses)})
			}
		}
		v.Tasks = append(v.Tasks, c)
		if t.NodeID != nodeID {
			nodeSeen[t.NodeID] = true
		}
	}
	for _, n := range nodes {
		if !nodeSeen[n.ID] {
			continue
		}
		if e, ok := Endpoint(n); ok {
			v.Nodes = append(v.Nodes, e)
		}
	}
	byIDOrder := func(a, b string) int { return strings.Compare(a, b) }
	slices.SortFunc(v.Networks, func(a, b *types.Network) int { return byIDOrder(a.ID, b.ID) })
	slices.SortFunc(v.Services, func(a, b *types.Service) int { return byIDOrder(a.ID, b.ID) })
	slices.SortFunc(v.Tasks, func(a, b *types.Task) int { return byIDOrder(a.ID, b.ID) })
	slices.SortFunc(v.Nodes, func(a, b NodeEndpoint) int { return byIDOrder(a.ID, b.ID) })
	return v
}

// Endpoint is where node n takes overlay traffic: the address its
// description gives, else the host of its advertise address, and its
// VXLAN port. A node with neither address has none.
func Endpoint(n *types.Node) (NodeEndpoint, bool) {
	host := n.Description.DataPath.Addr
	if host == "" {
		h, _, err := net.SplitHostPort(n.Status.Addr)
		if err != nil {
			h = n.Status.Addr
		}
		host = h
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return NodeEndpoint{}, false
	}
	return NodeEndpoint{ID: n.ID, Addr: a.Unmap(), Port: n.Description.DataPath.Port}, true
}

// Event reports whether ev can change a node's view: it only looks at the
// event, so it may serve as a store watch filter.
func Event(ev store.Event) bool {
	switch {
	case ev.Action == store.ActionReset || ev.Network != nil || ev.Service != nil || ev.Node != nil:
		return true
	case ev.Task != nil:
		return len(ev.Task.Networks) > 0 || (ev.OldTask != nil && len(ev.OldTask.Networks) > 0)
	}
	return false
}

// Network returns the network with the given ID, or nil.
func (v *NodeView) Network(id string) *types.Network {
	if v == nil {
		return nil
	}
	i, ok := slices.BinarySearchFunc(v.Networks, id, func(n *types.Network, id string) int { return cmp.Compare(n.ID, id) })
	if !ok {
		return nil
	}
	return v.Networks[i]
}

// Peers returns the endpoints of network networkID on nodes other than
// self: every live task's address there, at its node's underlay end.
// Tasks of nodes without a known endpoint are left out.
func (v *NodeView) Peers(networkID, self string) []network.Peer {
	if v == nil {
		return nil
	}
	ends := make(map[string]NodeEndpoint, len(v.Nodes))
	for _, n := range v.Nodes {
		ends[n.ID] = n
	}
	var out []network.Peer
	for _, t := range v.Tasks {
		if t.NodeID == self {
			continue
		}
		end, ok := ends[t.NodeID]
		if !ok {
			continue
		}
		for _, a := range t.Networks {
			if a.NetworkID != networkID {
				continue
			}
			for _, p := range a.Addresses {
				out = append(out, network.Peer{Address: p.Addr(), MAC: network.MACFor(p.Addr()), NodeAddr: end.Addr, NodePort: end.Port})
			}
		}
	}
	slices.SortFunc(out, func(a, b network.Peer) int { return a.Address.Compare(b.Address) })
	return out
}
