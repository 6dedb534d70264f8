// Package events is hive's cluster event stream (hive events, GET
// /v1/events). Its parts:
//
//   - FromStore, a pure translation of one store change (core/store Event)
//     into the hive events it means: a service created, a task that
//     reached a new state, a node that went down, ...
//   - Ring, a manager's bounded, in-memory history of events, with Stream,
//     which replays the kept events a query asks for and then follows new
//     ones, under one lock so that none is lost or sent twice in between.
//   - Feed, the manager's watch loop (core/controller's Run) that turns
//     every store change into events and appends them to the ring, plus
//     the local events only a manager sees (the Raft leader changed).
//
// Every manager runs its own feed over its own copy of the Raft state, so
// every manager's ring holds the same store events (their seq and time are
// the manager's own); Index, the Raft index of the change, is the same on
// all of them.
package events
