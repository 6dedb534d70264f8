// Package rpc carries hive's internal node-to-node calls: gRPC over the
// cluster port (core/transport's ProtoRPC), mutual TLS with the cluster's
// certificates (core/ca), JSON-encoded domain types as messages.
//
// Three services:
//
//   - Dispatcher (served by managers; only the leader answers): a node's
//     session (registration, then a stream of its assignment set, the
//     values of the secrets and configs its tasks reference, the
//     cluster's routing table, the managers, the heartbeat period and the
//     node's role), heartbeats and batched task status. Any node certificate may call
//     it, for its own node ID only. SessionClient is the agent's side: a
//     session.Manager that finds the leader and follows it.
//   - Manager (served by managers; manager certificates): a follower's
//     forwarded store writes (Propose), Raft membership changes, the Raft
//     status, and certificate renewal (RenewCert, open to every node
//     certificate).
//   - Agent (served by every node; manager certificates): a task's logs
//     from the runtime of the node it ran on.
//
// The gRPC plumbing is hand-written, with no protobufs: a JSON codec
// forced on both sides, ServiceDescs built by small generic helpers, and
// transport credentials that perform no handshake of their own (the
// cluster port already did it) but expose the TLS state, so that PeerFrom
// tells a server who called. Authorization and the mapping of errors to
// and from gRPC status codes each happen in one place: the server
// interceptors and errors.go.
package rpc
