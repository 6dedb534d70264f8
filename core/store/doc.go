// Package store is hive's replicated state: the Raft finite-state machine
// and the in-memory indexed state it maintains.
//
// Two layers live here. The state is a go-memdb database with the tables
// cluster, nodes, services, tasks, secrets, configs and networks; objects
// are stored as *types.X pointers and never changed after insert, so a
// read transaction is a cheap, immutable snapshot (ReadTx). Changes
// travel as commands in the Raft log: Update runs the caller's function on
// a scratch write transaction (Tx), records what it changed, encodes it as
// one "changes" command and proposes it through Raft; the FSM applies
// every committed command on every manager, checking it again against the
// state, and publishes one Event per change to the subscribers of ViewAndWatch.
//
// Open gives a Store backed by hashicorp/raft with a raft-boltdb log and
// file snapshots; NewMemory gives one without Raft that applies commands
// straight through the same FSM, for deterministic controller tests.
//
// Every manager accepts writes: on a follower, Update runs fn on the local
// state and hands the encoded command to Config.Forward, which the daemon
// wires to the leader's ApplyCommand over RPC; the leader checks and
// applies it, and the follower waits until it has applied it too. Without
// a majority nothing hangs: a write fails with ErrNoQuorum at once when no
// leader is known, and on the leader after Config.CommitTimeout, while
// reads go on from the local state. The leader also changes the Raft
// membership (AddVoter, RemoveServer); Status and Members describe the
// group, and CaughtUp tells whether local reads are current.
//
// Concurrency: every Store method is safe for concurrent use. Updates from
// one Store are serialized, so each one reads the state left by the
// previous one. Objects handed out by reads and events are shared and must
// not be changed: Copy them first.
package store
