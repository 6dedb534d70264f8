package types

import (
	"maps"
	"net/netip"
	"slices"
)

// Network drivers.
const (
	// DriverOverlay is the built-in multi-host network: a VXLAN segment
	// across the nodes, one subnet for the whole cluster.
	DriverOverlay = "overlay"
	// DefaultNetworkDriver is the driver of a network that names none.
	DefaultNetworkDriver = DriverOverlay
)

// KnownNetworkDrivers are the drivers a network may name.
var KnownNetworkDrivers = []string{DriverOverlay}

// Network is a network services attach their tasks to. Subnet, Gateway,
// IPRange and VNI are what the managers allocated when it was created (in
// the same Raft command): the spec's, when it gave them, else from the
// default address pool.
type Network struct {
	ID string `json:"id"`
	Meta
	Spec NetworkSpec `json:"spec"`
	// Subnet is the network's subnet, as 10.0.0.0/24.
	Subnet netip.Prefix `json:"subnet"`
	// Gateway is the subnet's gateway address: the spec's, or its first
	// address. No task or virtual IP gets it.
	Gateway netip.Addr `json:"gateway"`
	// IPRange is where task addresses and virtual IPs come from: the
	// spec's, or the whole subnet.
	IPRange netip.Prefix `json:"ip_range"`
	// VNI is the network's VXLAN ID, unique in the cluster.
	VNI uint32 `json:"vni"`
}

// NetworkSpec is what a user declares of a network. The addresses are
// kept as given (and checked by Validate), so that an error can quote
// them.
type NetworkSpec struct {
	Name string `json:"name"`
	// Driver is "overlay" (the default).
	Driver string `json:"driver"`
	// Subnet is a CIDR (10.20.0.0/16); empty takes one from the default
	// pool.
	Subnet string `json:"subnet,omitempty"`
	// Gateway is an address of the subnet; empty means its first one.
	Gateway string `json:"gateway,omitempty"`
	// IPRange is a CIDR inside the subnet that addresses come from;
	// empty means the whole subnet.
	IPRange string `json:"ip_range,omitempty"`
	// Attachable lets standalone containers attach to the network.
	Attachable bool `json:"attachable,omitempty"`
	// Internal networks have no route out of the cluster.
	Internal bool              `json:"internal,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	// Options are the driver's options.
	Options map[string]string `json:"options,omitempty"`
}

// NetworkAttachmentConfig attaches a service's tasks to a network.
type NetworkAttachmentConfig struct {
	// Target is the network: a name or ID as given; the managers store
	// the network's ID.
	Target string `json:"target"`
	// Aliases are names the service answers to on this network, besides
	// its own.
	Aliases []string `json:"aliases,omitempty"`
}

// EndpointMode is how a service is reached on its networks.
type EndpointMode string

// Endpoint modes, as in Swarm.
const (
	// EndpointVIP: the service's name resolves to one virtual IP per
	// network, balanced across its tasks.
	EndpointVIP EndpointMode = "vip"
	// EndpointDNSRR: the service's name resolves to its tasks' addresses.
	EndpointDNSRR EndpointMode = "dnsrr"
)

// EndpointVirtualIP is a service's virtual IP on one network.
type EndpointVirtualIP struct {
	NetworkID string `json:"network_id"`
	// Addr is the address with the subnet's prefix length, as
	// 10.0.0.2/24.
	Addr netip.Prefix `json:"addr"`
}

// NetworkAttachment is a task's place on a network.
type NetworkAttachment struct {
	NetworkID string `json:"network_id"`
	// Addresses are the task's addresses with the subnet's prefix length;
	// empty until the managers allocate them.
	Addresses []netip.Prefix `json:"addresses,omitempty"`
}

// Copy returns a deep copy of n.
func (n *Network) Copy() *Network {
	if n == nil {
		return nil
	}
	c := *n
	c.Spec = n.Spec.Copy()
	return &c
}

// Copy returns a deep copy of s.
func (s NetworkSpec) Copy() NetworkSpec {
	s.Labels = maps.Clone(s.Labels)
	s.Options = maps.Clone(s.Options)
	return s
}

// copyAttachmentConfigs deep-copies a service's networks.
func copyAttachmentConfigs(in []NetworkAttachmentConfig) []NetworkAttachmentConfig {
	out := slices.Clone(in)
	for i := range out {
		out[i].Aliases = slices.Clone(out[i].Aliases)
	}
	return out
}

// copyAttachments deep-copies a task's networks.
func copyAttachments(in []NetworkAttachment) []NetworkAttachment {
	out := slices.Clone(in)
	for i := range out {
		out[i].Addresses = slices.Clone(out[i].Addresses)
	}
	return out
}

// NetworkIDs returns the IDs of the networks a service's spec attaches
// to, in order.
func (s ServiceSpec) NetworkIDs() []string {
	out := make([]string, len(s.Networks))
	for i, n := range s.Networks {
		out[i] = n.Target
	}
	return out
}

// NetworkIDs returns the IDs of the networks the task is attached to, in
// order.
func (t *Task) NetworkIDs() []string {
	out := make([]string, len(t.Networks))
	for i, n := range t.Networks {
		out[i] = n.NetworkID
	}
	return out
}

// AwaitsAddresses reports whether the task is attached to a network on
// which it has no address yet: it cannot be scheduled before the managers
// allocate one.
func (t *Task) AwaitsAddresses() bool {
	return slices.ContainsFunc(t.Networks, func(n NetworkAttachment) bool { return len(n.Addresses) == 0 })
}
