package types

import (
	"fmt"
	"slices"
	"time"
)

// Task is one container's worth of a service, bound to one slot (replicated)
// or one node (global). A task never moves: a replacement is a new task.
type Task struct {
	ID string `json:"id"`
	Meta
	ServiceID string `json:"service_id"`
	// ServiceName is kept so that a task can be named after its service was
	// removed.
	ServiceName string `json:"service_name"`
	// Slot numbers the tasks of a replicated service from 1; it is 0 for a
	// global service, whose tasks are keyed by node.
	Slot uint64 `json:"slot,omitempty"`
	// NodeID is set once the task is assigned (or at creation for a global
	// service).
	NodeID string `json:"node_id,omitempty"`
	// Spec is the service's task spec at the time the task was created.
	Spec TaskSpec `json:"spec"`
	// SpecVersion is the service's SpecVersion the task was created from.
	SpecVersion uint64 `json:"spec_version"`
	// Ports are the service's published ports as allocated.
	Ports []PortConfig `json:"ports,omitempty"`
	// Networks are the networks of the service the task was created
	// for, with the task's address on each once allocated (see
	// AwaitsAddresses).
	Networks     []NetworkAttachment `json:"networks,omitempty"`
	DesiredState TaskState           `json:"desired_state"`
	Status       TaskStatus          `json:"status"`
	// Restart counts replacements of this slot, for the restart policy.
	Restart RestartCount `json:"restart"`
	// NotBefore delays the start of a replacement by the restart delay:
	// the task waits in desired state ready until then.
	NotBefore time.Time `json:"not_before,omitzero"`
}

// RestartCount tracks restarts of a slot inside the policy's window.
type RestartCount struct {
	// Attempts is the number of replacements made in the current window.
	Attempts    uint64    `json:"attempts"`
	WindowStart time.Time `json:"window_start,omitzero"`
}

// TaskStatus is what the node running a task last reported, or what a
// manager decided (pending, rejected).
type TaskStatus struct {
	State     TaskState `json:"state"`
	Timestamp time.Time `json:"timestamp"`
	// Message is a short human description of the state.
	Message string `json:"message,omitempty"`
	// Err is why the task failed or was rejected, or why it cannot be
	// scheduled.
	Err string `json:"err,omitempty"`
	// ContainerID is the runtime's ID for the task's container.
	ContainerID string `json:"container_id,omitempty"`
	PID         int    `json:"pid,omitempty"`
	ExitCode    int    `json:"exit_code,omitempty"`
	// Addresses are the container's IP addresses, where the routing mesh
	// reaches it.
	Addresses []string `json:"addresses,omitempty"`
	// StartedAt is when the container last started.
	StartedAt time.Time `json:"started_at,omitzero"`
}

// Name is the task's human name: "web.2" for a slot, "web.<node id>" for a
// global task.
func (t *Task) Name() string {
	if t.Slot > 0 {
		return fmt.Sprintf("%s.%d", t.ServiceName, t.Slot)
	}
	return fmt.Sprintf("%s.%s", t.ServiceName, t.NodeID)
}

// ContainerName is the name given to the task's container:
// "web.2.<task id>", as Swarm does.
func (t *Task) ContainerName() string {
	return t.Name() + "." + t.ID
}

// Copy returns a deep copy of t.
func (t *Task) Copy() *Task {
	if t == nil {
		return nil
	}
	c := *t
	c.Spec = t.Spec.Copy()
	c.Ports = slices.Clone(t.Ports)
	c.Networks = copyAttachments(t.Networks)
	c.Status.Addresses = slices.Clone(t.Status.Addresses)
	return &c
}
