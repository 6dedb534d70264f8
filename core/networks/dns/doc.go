// Package dns is the resolver a task on a network asks for other
// services by name: the service discovery of hive's networks, as Docker's
// embedded DNS server gives it to containers on user-defined networks.
//
// It has three parts, each usable alone:
//
//   - Table, built by Build from one consistent read of the services,
//     tasks and networks, answers which addresses a name has for a task on
//     given networks. It does no I/O and knows no clock: the caller builds
//     a new one whenever the state changes and swaps it in.
//   - Server answers DNS queries over UDP and TCP from a lookup function
//     (a Table's Lookup bound to the asking task's networks), and forwards
//     every other name to the node's resolvers.
//   - ListenInNetns opens the sockets a Server serves on inside a task's
//     network namespace, at 127.0.0.11:53, from the host process: hive
//     runs one resolver per task without a process in the task.
//
// # Names
//
// For a task attached to a set of networks, on each network it shares
// with a service:
//
//   - NAME and each of the service's aliases on that network resolve to
//     the service's virtual IP there (endpoint mode vip), or to the
//     addresses there of its running tasks (endpoint mode dnsrr);
//   - tasks.NAME and tasks.ALIAS resolve to the addresses there of its
//     running tasks, in both modes.
//
// Names are case-insensitive and may end with a dot. A service the task
// shares no network with is unknown to it. A task counts as running when
// mesh.Serving says so, the rule the routing mesh uses: desired and
// observed state running (the agent keeps a task whose container has a
// health check in "starting" until the check passes, and fails it when it
// turns unhealthy, so a running task is a healthy one).
//
// # Answers
//
// A known name gets its IPv4 addresses in an A answer with a TTL of TTL
// (2 s: a client sees a scale-down or a replaced task within seconds, and
// a busy client does not ask for every request), and an empty NOERROR
// answer to AAAA (the address pools are IPv4) and to every other type. An
// unknown name of the shape of hive's (one label, or tasks. and one label)
// is NXDOMAIN at once: no upstream could know it. Any other name the table
// does not know is forwarded to the upstream resolvers,
// whose answer (NXDOMAIN for a name nobody knows) goes back as it came;
// with no upstream it is NXDOMAIN, and SERVFAIL when no upstream answers.
// Forwarding goes out from the host process's namespace, where the node's
// resolvers are reachable, whatever the task's namespace can reach.
//
// # The task's resolv.conf
//
// For a task to use the resolver, its /etc/resolv.conf must say
//
//	nameserver 127.0.0.11
//	options ndots:0
//
// (the node's search domains may be kept; its nameservers must not, or
// service names would leak to them). ndots:0 makes the C library try a
// bare service name as it is before any search domain. The runtime plugins
// are to write this file when they create the container of a task on a
// network, as Docker does for containers on user-defined networks; they do
// not yet.
package dns
