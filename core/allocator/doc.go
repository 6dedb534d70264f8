// Package allocator gives networks, services and tasks their addresses,
// in Raft: it reads what is allocated from the store, asks core/ipam for
// the lowest free subnet, VXLAN ID or address, and records the result in
// the same store transaction, so that an allocation and the check that it
// is free are one command.
//
// Where each allocation happens:
//
//   - A network's subnet, gateway, range and VXLAN ID: AllocateNetwork,
//     called by the control API in the transaction that creates the
//     network. The store checks again, when the command applies, that no
//     other network has an overlapping subnet or the same VXLAN ID.
//   - A service's virtual IPs, one per network in endpoint mode vip:
//     AllocateVIPs, called by the control API in the transaction that
//     creates, updates or rolls back the service, and by the update
//     controller when it rolls one back. A VIP the service had on a
//     network it keeps is kept.
//   - A task's addresses, one per network: the Allocator, a leader-only
//     controller (core/leader's list) on controller.Run. The orchestrators
//     create every task through one applier (orchestrator.Apply), from
//     orchestrator.NewTask, attached to its service's networks with no
//     address; such a task AwaitsAddresses, and the scheduler leaves it
//     alone until the Allocator has given it an address on each network.
//     One controller rather than the applier, because a task that finds
//     its subnet full must wait for an address to be freed: the
//     Allocator's passes (on every change that may free one, and every
//     Resync) retry it, while the task stays pending with the reason
//     (SubnetFullError: use a larger --subnet) — never an overlap.
//
// Nothing is released explicitly: what is in use is read from the state
// at every allocation. A network's gateway is always in use; a service's
// virtual IPs are in use while the service has them (they go with the
// service, or with its leaving a network or switching to dnsrr); a task's
// addresses are in use while the task may have a container, from its
// creation until its observed state is terminal — or, for a task that
// never reached a node, until it is no longer desired to run. A task the
// task reaper deletes releases its addresses with it; a finished task
// kept as history keeps them in its record, for inspection, but they may
// be handed out again.
package allocator
