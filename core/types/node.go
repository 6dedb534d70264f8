package types

import "maps"

// NodeRole is a node's role in the cluster.
type NodeRole string

// Node roles.
const (
	RoleManager NodeRole = "manager"
	RoleWorker  NodeRole = "worker"
)

// Availability says whether the scheduler may place tasks on a node.
type Availability string

// Node availabilities, as in Swarm: active takes new tasks, pause keeps
// what runs but takes nothing new, drain moves everything away.
const (
	AvailabilityActive Availability = "active"
	AvailabilityPause  Availability = "pause"
	AvailabilityDrain  Availability = "drain"
)

// NodeState is what the managers know of a node's health.
type NodeState string

// Node states.
const (
	NodeStateUnknown      NodeState = "unknown"
	NodeStateReady        NodeState = "ready"
	NodeStateDown         NodeState = "down"
	NodeStateDisconnected NodeState = "disconnected"
)

// Node is one host of the cluster.
type Node struct {
	ID string `json:"id"`
	Meta
	Spec        NodeSpec        `json:"spec"`
	Description NodeDescription `json:"description"`
	Status      NodeStatus      `json:"status"`
	// ManagerStatus is set on managers only.
	ManagerStatus *ManagerStatus `json:"manager_status,omitempty"`
}

// NodeSpec is what an operator sets on a node.
type NodeSpec struct {
	Labels       map[string]string `json:"labels,omitempty"`
	Role         NodeRole          `json:"role"`
	Availability Availability      `json:"availability"`
}

// NodeDescription is what a node reports of itself.
type NodeDescription struct {
	Hostname  string    `json:"hostname"`
	Platform  Platform  `json:"platform"`
	Resources Resources `json:"resources"`
	Runtime   Plugin    `json:"runtime"`
	Version   string    `json:"version"`
	// DataPath is where the node takes its tasks' overlay traffic.
	DataPath DataPath `json:"data_path,omitzero"`
}

// DataPath is where a node receives the overlay (VXLAN) traffic of its
// tasks from the other nodes.
type DataPath struct {
	// Addr is the node's underlay address: the host of its advertise
	// address.
	Addr string `json:"addr,omitempty"`
	// Port is its VXLAN UDP port.
	Port uint16 `json:"port,omitempty"`
}

// Platform is a node's operating system and architecture.
type Platform struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
}

// Plugin names a plugin a node runs and its version.
type Plugin struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// NodeStatus is the managers' view of a node's health.
type NodeStatus struct {
	State   NodeState `json:"state"`
	Message string    `json:"message,omitempty"`
	Addr    string    `json:"addr,omitempty"`
}

// ManagerStatus describes a manager's place in the Raft group.
type ManagerStatus struct {
	Leader       bool   `json:"leader"`
	Reachability string `json:"reachability"`
	Addr         string `json:"addr"`
}

// Copy returns a deep copy of n.
func (n *Node) Copy() *Node {
	if n == nil {
		return nil
	}
	c := *n
	c.Spec.Labels = maps.Clone(n.Spec.Labels)
	if n.ManagerStatus != nil {
		ms := *n.ManagerStatus
		c.ManagerStatus = &ms
	}
	return &c
}
