package network

import (
	"net"
	"net/netip"
)

// MACFor derives the hardware address of an endpoint from its address on
// the network, as Docker does: 02:42 and the address's last four bytes. It
// is what hive gives every attachment and every peer, so that a node
// knows the MAC of a task on another node without asking that node.
func MACFor(addr netip.Addr) string {
	ip := addr.Unmap().AsSlice()
	if len(ip) < 4 {
		return ""
	}
	return append(net.HardwareAddr{0x02, 0x42}, ip[len(ip)-4:]...).String()
}
