// Package spread is the logic of hive's first-party scheduler plugin,
// scheduler-spread: it implements scheduler.Scheduler from the plugin SDK
// and places each task on the node that holds the fewest tasks of the same
// service, then the fewest tasks overall, as Docker Swarm's spread strategy
// does.
//
// For each task of a batch, in order, a node must pass four filters:
// availability (ready and active), the task's placement constraints, its
// CPU and memory reservations, and its host-mode ports. Placements made
// earlier in the same batch count as if they were already on their nodes,
// so one call spreads a service's replicas and never over-commits a node.
// A task that fits nowhere gets a Swarm-style reason that counts the nodes
// each filter rejected.
//
// The scheduler is a pure function of its request: it keeps no state
// between calls, never mutates the request, and is safe for concurrent use.
// The plugin's main package serves it over gRPC; this package imports only
// the SDK.
package spread
