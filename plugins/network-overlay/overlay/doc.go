// Package overlay is the network-overlay plugin: a network.Driver that
// gives a node its part of hive's overlay networks by programming the
// Linux kernel through netlink.
//
// For each network the node has, the driver keeps a network namespace of
// its own, named PREFIX NODE "-" NETWORK (the prefix setting, the node ID
// and the network ID) under /run/netns, so `ip netns exec` can look
// inside. In it:
//
//   - br0, a Linux bridge with the network's gateway address (none on an
//     internal network) and the network's MTU;
//   - vxlan0, a VXLAN device on br0 with the network's VNI, the node's
//     VXLAN UDP port and local address, learning off and ARP/ND proxy on.
//     It is created in the underlay ("host") namespace and then moved, so
//     its UDP socket stays where the node's underlay address is;
//   - one veth per attached task ("vt" and 12 hex digits of a hash of the
//     task ID) on br0, whose peer is ethN in the task's namespace with the
//     task's address, MAC and MTU.
//
// Peers (endpoints on other nodes) are static: an FDB entry on vxlan0 per
// MAC (to the node's underlay address and, when the node uses another
// port, that port) and a permanent neighbour entry per address, which the
// proxy answers ARP and neighbour solicitations from. Nothing is learnt
// and nothing is gossiped: SetPeers lists the kernel's entries, diffs them
// with the set it is given and applies the difference.
//
// The kernel is the source of truth: the bridge's alias (IFLA_IFALIAS)
// records the network's ID, name, subnet and whether it is internal, each
// veth's alias the task's ID and namespace path, so List works after a
// restart of the plugin. Only a network's options live in memory.
//
// Two hive nodes on one host (one network namespace, 127.0.0.x addresses)
// need different prefixes or node IDs and different vxlan_port settings:
// Linux refuses a second VXLAN device with the same VNI and UDP port in one
// namespace, and EnsureNetwork then says to change vxlan_port.
package overlay
