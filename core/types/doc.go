// Package types holds hive's domain objects: nodes, services, tasks and the
// cluster record. They are what the Raft store replicates, what the
// controllers reconcile and what the HTTP API serves, so every field has a
// JSON name and no field holds a live resource (a channel, a connection).
//
// Objects are plain values. Copy them with their Copy methods before
// changing one that came out of the store: the store hands out shared
// pointers for reads.
package types
