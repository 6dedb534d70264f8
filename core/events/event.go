package events

import (
	"time"
)

// Types of events.
const (
	TypeService = "service"
	TypeTask    = "task"
	TypeNode    = "node"
	TypeSecret  = "secret"
	TypeConfig  = "config"
	TypeNetwork = "network"
	TypePlugin  = "plugin"
	TypeCluster = "cluster"
)

// Types lists every event type, for help texts and errors.
var Types = []string{TypeService, TypeTask, TypeNode, TypeSecret, TypeConfig, TypeNetwork, TypePlugin, TypeCluster}

// Event is one thing that happened in the cluster, as GET /v1/events sends
// it (one JSON object per line). See docs/api.md#events.
type Event struct {
	// Seq is the event's position in the ring of the manager that sent
	// it: increasing, one apart.
	Seq uint64 `json:"seq"`
	// Time is when the manager recorded the event.
	Time time.Time `json:"time"`
	// Type is what kind of object the event is about (TypeTask, ...).
	Type string `json:"type"`
	// Action is what happened: create, update, remove, or a more specific
	// word (a task's new state, a node's "down").
	Action string `json:"action"`
	Actor  Actor  `json:"actor"`
	// Index is the Raft index of the change; 0 for a manager's local
	// events.
	Index uint64 `json:"index"`
}

// Actor is the object an event is about.
type Actor struct {
	ID         string            `json:"id"`
	Attributes map[string]string `json:"attributes"`
}
