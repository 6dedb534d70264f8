// Package orchestrator holds what hive's orchestrators share: the Plan a
// pure Reconcile returns, the applier that writes a plan through the store
// with guards that make a stale plan harmless, and task construction.
//
// The controllers live in the child packages, one per responsibility as in
// swarmkit: replicated (slots web.1 … web.N), global (one task per
// eligible node), restart (the restart policy), taskreaper (bounded task
// history). Each runs only on the leader, through core/controller's loop.
package orchestrator
