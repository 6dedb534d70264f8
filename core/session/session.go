// Package session is the contract between a node's agent and the
// managers' dispatcher: registration, heartbeats, the stream of the node's
// assigned tasks, and batched task status reports. On a manager the agent
// talks to the local dispatcher in process; on a worker the same interface
// is carried over mutual-TLS gRPC.
package session

import (
	"context"
	"time"

	"github.com/hiveorch/hive/core/networks"
	"github.com/hiveorch/hive/core/types"
)

// Manager is the agent's view of the managers.
//
// Methods are safe for concurrent use. An error wrapping
// errdefs.ErrUnavailable means the managers cannot be reached now; the agent
// retries.
type Manager interface {
	// Register announces the node and what it is; the managers create or
	// refresh its record and mark it ready.
	Register(ctx context.Context, reg Registration) error
	// Assignments streams the node's assignment: each value is the whole
	// current set (tasks assigned to the node that reached state
	// "assigned", with the values of the secrets and configs they
	// reference), sent once at once and again after each change. The
	// channel is closed when ctx is done or the session is lost; the agent
	// then registers again.
	Assignments(ctx context.Context, nodeID string) (<-chan *Assignment, error)
	// UpdateTaskStatus reports task statuses in one batch. A status for a
	// task not assigned to the node, or older than what the managers have,
	// is ignored.
	UpdateTaskStatus(ctx context.Context, nodeID string, updates []StatusUpdate) error
	// Heartbeat tells the managers the node is alive and returns when the
	// next heartbeat is due.
	Heartbeat(ctx context.Context, nodeID string) (time.Duration, error)
}

// Registration is what a node says of itself when its session starts.
type Registration struct {
	NodeID      string                `json:"node_id"`
	Addr        string                `json:"addr"`
	Description types.NodeDescription `json:"description"`
	// Unavailable says why the node cannot run tasks now (its runtime
	// does not answer), "" when it can. The managers record such a node
	// down with this as its status message, so that node ls and the
	// reasons of pending tasks show it.
	Unavailable string `json:"unavailable,omitempty"`
}

// StatusUpdate is one task's new status.
type StatusUpdate struct {
	TaskID string           `json:"task_id"`
	Status types.TaskStatus `json:"status"`
}

// Assignment is a node's whole assignment: its tasks, and the values of
// the secrets and configs those tasks reference (and of no others). A
// value the managers could not get yet is missing from its map: the tasks
// that need it wait.
type Assignment struct {
	Tasks []*types.Task
	// Secrets are the secrets' values, by secret ID.
	Secrets map[string]SecretData
	// Configs are the configs' values, by config ID.
	Configs map[string]ConfigData
	// SecretErrors say, by secret ID, why the managers could not get a
	// secret's value (its driver's store is down, say): the tasks that
	// need it wait, showing the reason. Never holds a value.
	SecretErrors map[string]string
	// Networks is what the node needs of the overlay networks of its
	// tasks (nil: none of its tasks is on one).
	Networks *networks.NodeView
}

// SecretData is one version of a secret's value. Value redacts itself
// wherever it is printed or encoded.
type SecretData struct {
	ValueVersion uint64
	Value        types.SecretValue
}

// ConfigData is one version of a config's value.
type ConfigData struct {
	ValueVersion uint64
	Data         []byte
}
