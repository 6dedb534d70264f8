// Package network defines the network plugin kind: the plugin that gives
// a node its part of hive's networks, so that tasks of different services
// reach each other by address across nodes (network-overlay: a bridge and
// a VXLAN device per network, or a third party's driver).
//
// hive's managers own every decision: they allocate each network's subnet
// and VXLAN ID and each task's address in Raft, and every node's agent
// tells its driver, level-triggered, what the node must have: the networks
// of its tasks (EnsureNetwork), each task's attachment (Attach), and for
// each network the endpoints on other nodes (SetPeers, the whole set each
// time). The driver learns nothing by itself (no gossip, no learning): what
// it programs comes from these calls, and List tells the agent what exists,
// so that after a restart of hive or the plugin the agent removes what no
// task needs and repairs what differs.
package network

import (
	"context"
	"net/netip"

	"github.com/hiveorch/hive/plugins/sdk"
)

// Driver programs a node's networks.
//
// Methods may be called concurrently for different networks and must be
// safe for that; hive does not call them concurrently for one network.
// Every method is idempotent: calling it again with the same arguments
// changes nothing and succeeds, so hive may repeat any call after an
// error, a timeout or a restart.
type Driver interface {
	sdk.Base
	// EnsureNetwork creates the node's part of the network, or brings an
	// existing one in line with n (its peers and attachments are kept).
	//
	// Errors: a network the driver cannot make as asked (no ID, no subnet,
	// a gateway outside the subnet, an option it does not know, a VXLAN
	// port another network of this node uses differently) wraps
	// sdk.ErrInvalidArgument, says what to change, and makes nothing.
	EnsureNetwork(ctx context.Context, n Network) error
	// RemoveNetwork removes the node's part of the network, with every
	// attachment and peer it still has. Removing one that is not there
	// succeeds.
	RemoveNetwork(ctx context.Context, networkID string) error
	// Attach connects a task's network namespace to a network the node
	// has: an interface in that namespace with the attachment's address.
	// The task keeps its own default route. It returns what it made.
	//
	// Errors: a network that EnsureNetwork has not made wraps
	// sdk.ErrNotFound; a namespace that is gone wraps sdk.ErrNotFound too;
	// an attachment the driver cannot make (no task ID, an address outside
	// the network's subnet) wraps sdk.ErrInvalidArgument.
	Attach(ctx context.Context, a Attachment) (AttachResult, error)
	// Detach removes the task's interface on the network. Detaching one
	// that is not there succeeds.
	Detach(ctx context.Context, networkID, taskID string) error
	// SetPeers replaces the network's endpoints on other nodes: afterwards
	// the node reaches exactly these addresses through the network, each at
	// its node's underlay address.
	//
	// Errors: a network that EnsureNetwork has not made wraps
	// sdk.ErrNotFound.
	SetPeers(ctx context.Context, networkID string, peers []Peer) error
	// List returns every network the driver has on this node, with its
	// attachments and peers, as the kernel (or whatever the driver
	// programs) has them now: each network as EnsureNetwork last gave it
	// (with the MTU the driver chose when it was given zero), each
	// attachment as Attach was given it with the MAC Attach returned, each
	// peer as SetPeers last gave it (with the port used when NodePort was
	// zero). Order does not matter. A new instance of the driver (after a
	// restart of the plugin) lists what the old one made.
	List(ctx context.Context) ([]NetworkState, error)
}

// Network is the node's view of one network.
type Network struct {
	// ID is hive's network ID; Name is for messages and kernel object
	// names the driver may derive.
	ID   string `json:"id"`
	Name string `json:"name"`
	// VNI is the VXLAN network identifier the managers allocated.
	VNI uint32 `json:"vni"`
	// Subnet and Gateway are the network's, as allocated.
	Subnet  netip.Prefix `json:"subnet"`
	Gateway netip.Addr   `json:"gateway"`
	// MTU is the MTU of the network's interfaces (the underlay's minus the
	// encapsulation); zero lets the driver choose.
	MTU int `json:"mtu,omitempty"`
	// Internal networks have no route out of the network.
	Internal bool `json:"internal,omitempty"`
	// Options are the network's driver options (`--opt k=v`).
	Options map[string]string `json:"options,omitempty"`
}

// Attachment is one task on one network.
type Attachment struct {
	NetworkID string `json:"network_id"`
	TaskID    string `json:"task_id"`
	// Netns is the path of the task's network namespace
	// (/proc/PID/ns/net), as the runtime plugin reports it.
	Netns string `json:"netns"`
	// Address is the task's address on the network, with the network's
	// prefix length.
	Address netip.Prefix `json:"address"`
	// MAC is the task's hardware address on the network ("" lets the
	// driver derive one from Address).
	MAC string `json:"mac,omitempty"`
}

// AttachResult is what Attach made.
type AttachResult struct {
	// Interface is the name of the interface inside the task's namespace.
	Interface string `json:"interface"`
	// MAC is the interface's hardware address.
	MAC string `json:"mac"`
}

// Peer is an endpoint of the network on another node.
type Peer struct {
	// Address is the endpoint's address on the network.
	Address netip.Addr `json:"address"`
	// MAC is its hardware address on the network.
	MAC string `json:"mac"`
	// NodeAddr is the underlay address of its node (the VXLAN tunnel
	// endpoint), and NodePort that node's VXLAN UDP port (zero: the
	// driver's default). Nodes sharing one host use different ports.
	NodeAddr netip.Addr `json:"node_addr"`
	NodePort uint16     `json:"node_port,omitempty"`
}

// NetworkState is what the driver has of one network on this node.
type NetworkState struct {
	Network     Network      `json:"network"`
	Attachments []Attachment `json:"attachments,omitempty"`
	Peers       []Peer       `json:"peers,omitempty"`
}
