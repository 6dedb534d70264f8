// Package scheduler defines the scheduler plugin kind: the plugin that
// chooses a node for each task that needs one (scheduler-spread, or a third
// party's).
//
// The scheduler is a pure function of its request: hive's leader sends a
// snapshot of the nodes and a batch of tasks, and writes the decisions it
// gets back through Raft. A scheduler keeps no state between calls and
// never talks to nodes.
package scheduler

import (
	"context"

	"github.com/hiveorch/hive/plugins/sdk"
)

// Scheduler places tasks on nodes.
type Scheduler interface {
	sdk.Base
	// Schedule decides a node for each task of the request, in the order
	// given, counting each placement when deciding the next (so a batch of
	// one service's tasks spreads). It returns one decision per task.
	Schedule(ctx context.Context, req *Request) (*Response, error)
}

// Request is a batch of tasks to place and the nodes to place them on.
type Request struct {
	Nodes []Node `json:"nodes"`
	Tasks []Task `json:"tasks"`
}

// Node is a node as the scheduler sees it.
type Node struct {
	ID       string            `json:"id"`
	Hostname string            `json:"hostname"`
	Role     string            `json:"role"` // "manager" or "worker"
	Labels   map[string]string `json:"labels,omitempty"`
	// Availability is "active", "pause" or "drain": only active nodes take
	// new tasks.
	Availability string `json:"availability"`
	// Ready is false when the node is down or disconnected.
	Ready    bool     `json:"ready"`
	Platform Platform `json:"platform"`
	// Resources is the node's total capacity.
	Resources Resources `json:"resources"`
	// Tasks are the tasks already on the node that still hold resources
	// (assigned, starting or running).
	Tasks []NodeTask `json:"tasks,omitempty"`
}

// Platform is a node's OS and architecture.
type Platform struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
}

// Resources is an amount of CPU (in 1e-9 CPUs) and memory.
type Resources struct {
	NanoCPUs    int64 `json:"nano_cpus,omitempty"`
	MemoryBytes int64 `json:"memory_bytes,omitempty"`
}

// NodeTask is a task already placed on a node.
type NodeTask struct {
	ServiceID    string     `json:"service_id"`
	Reservations Resources  `json:"reservations"`
	HostPorts    []HostPort `json:"host_ports,omitempty"`
}

// HostPort is a port a task binds on its node (host-mode publishing).
type HostPort struct {
	Protocol string `json:"protocol"`
	Port     uint32 `json:"port"`
}

// Task is a task that needs a node.
type Task struct {
	ID        string `json:"id"`
	ServiceID string `json:"service_id"`
	// Constraints must all hold on the chosen node; see ParseConstraint.
	Constraints  []string   `json:"constraints,omitempty"`
	Reservations Resources  `json:"reservations"`
	HostPorts    []HostPort `json:"host_ports,omitempty"`
	// NodeID, when set, is the only node the task may go to (a global
	// service's task); the scheduler checks that the node fits.
	NodeID string `json:"node_id,omitempty"`
}

// Response holds one decision per task of the request.
type Response struct {
	Decisions []Decision `json:"decisions"`
}

// Decision places one task, or says why it cannot be placed.
type Decision struct {
	TaskID string `json:"task_id"`
	// NodeID is the chosen node; empty when no node fits.
	NodeID string `json:"node_id,omitempty"`
	// Reason explains an empty NodeID, in Swarm's words: "no suitable node
	// (1 node not available for new tasks; 2 nodes not meeting
	// constraints)".
	Reason string `json:"reason,omitempty"`
}
