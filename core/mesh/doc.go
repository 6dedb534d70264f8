// Package mesh is hive's ingress routing mesh: it makes every node answer on
// the ports that services publish in ingress mode and spreads each incoming
// TCP connection across the service's running tasks, wherever in the
// cluster they run.
//
// It has these parts:
//
//   - Routes and ClusterRoutes, pure functions from the state (services,
//     tasks, nodes) to a routing table: for each published port, the
//     backends that may receive new connections, each naming the node its
//     task runs on. RouteEvent tells the store events that can change the
//     table, Route.Equal whether a route changed. The leader's dispatcher
//     is the one place that computes the table (core/dispatcher).
//   - Mesh, the data plane: it holds one listener per published port,
//     balances accepted connections round-robin over the port's backends,
//     fails over to the next backend when a dial fails, and proxies bytes both
//     ways with TCP half-close so that HTTP keep-alive and streaming work.
//     Apply hands it the whole desired table; it opens, closes and updates
//     listeners to match.
//   - RunRoutes: keeps a Mesh in step with the tables a node's session
//     delivers. Every node, the leader included, follows its session.
//   - Forwarder and ForwardServer: forwarding across nodes. Every node's
//     table lists the backends on every node. The Forwarder, the Mesh's
//     dialer, dials a backend on its own node directly and reaches one on
//     another node through that node's cluster port; the ForwardServer on
//     that node connects the forwarded connection to the task, and only to
//     a task that runs there now.
//   - BindAddr, which picks the IP published ports are bound on.
//
// # Forwarding and its security
//
// Forwarding runs on TLS 1.3 connections to the other node's cluster port,
// ALPN transport.ProtoMesh. On such a connection the forwarding node sends
// one JSON line naming the task and the target port,
// {"task_id":"…","port":80}, and reads one JSON line back, {"ok":true} or
// {"error":"…"}. After "ok" the connection carries the proxied bytes both
// ways as length-prefixed frames, an empty frame ending a direction as a
// half-close does; once both directions have ended, it waits for the next
// header. The forwarding node keeps such connections idle for reuse, so a
// new client connection costs one header exchange rather than a TCP and
// TLS handshake; either side aborts a forwarded connection by closing the
// TLS connection. A refused or failed forward is a failed dial: the mesh
// tries the next backend.
//
// Authentication is the cluster port's mutual TLS: both ends present a
// certificate signed by the cluster's root CA. The port itself refuses a
// client without one (the mesh protocol is not anonymous), and the
// ForwardServer accepts only node certificates (OU hive-manager or
// hive-worker), so any node of the cluster may forward and nothing else can
// connect: not an anonymous client, not a certificate of another CA, not a
// remote CLI's client certificate. The forwarding node checks that the
// certificate of the node it reached names the node it meant to reach.
// The TLS session encrypts and authenticates every byte between the nodes.
//
// The receiving node is not an open proxy: the header names a task, never
// an address; the server connects to the IP its Lookup gives for that task,
// at the target port the header names, and Lookup answers only for tasks
// assigned to this node whose desired and observed states are running. (A
// node of the cluster may thus reach any port of such a task's container,
// not only its published target ports.) A task being stopped or drained is
// therefore refused as soon as this node learns its desired state changed,
// just as Routes drops it from every node's table.
//
// Only TCP is balanced; UDP ports are ignored.
package mesh
