// Package mesh is hive's ingress routing mesh: it makes every node answer on
// the ports that services publish in ingress mode and spreads each incoming
// TCP connection across the service's running tasks.
//
// It has three parts:
//
//   - Routes, a pure function from the state (services and tasks) to a
//     routing table: for each published port, the backends that may receive
//     new connections.
//   - Mesh, the data plane: it holds one listener per published port,
//     balances accepted connections round-robin over the port's backends,
//     fails over to the next backend when a dial fails, and proxies bytes both
//     ways with TCP half-close so that HTTP keep-alive and streaming work.
//     Apply hands it the whole desired table; it opens, closes and updates
//     listeners to match.
//   - RunController, the event plumbing: it keeps a Mesh in step with the
//     store, reacting to service and task events and re-reading the whole
//     state on a periodic resync, as every hive controller does.
//
// A Backend names the node it runs on and every dial goes through
// Config.Dialer, so that forwarding to tasks on other nodes can be added by
// supplying a dialer that reaches them, without reshaping the package.
// Only TCP is balanced; UDP ports are ignored.
package mesh
