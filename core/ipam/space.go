package ipam

import (
	"fmt"
	"net/netip"
)

// Space is the address space of one network: the addresses of its range
// that tasks and virtual IPs may have, and which of them are in use. The
// network and broadcast addresses of the subnet and the gateway are never
// handed out. A Space is not safe for concurrent use; build one from the
// state for each transaction.
type Space struct {
	subnet, rng netip.Prefix
	gateway     netip.Addr
	// first and last bound the addresses handed out.
	first, last uint32
	used        map[uint32]bool
	// low is at or below the lowest free address, so that Allocate needs
	// not scan the addresses it handed out before.
	low uint32
}

// NewSpace returns the space of a network with subnet, range ipRange
// (the zero Prefix: the whole subnet) and gateway (the zero Addr: the
// subnet's first address), with nothing in use.
func NewSpace(subnet, ipRange netip.Prefix, gateway netip.Addr) (*Space, error) {
	if err := checkNetwork("subnet", subnet); err != nil {
		return nil, err
	}
	if subnet.Bits() > MaxSubnetBits {
		return nil, fmt.Errorf("invalid subnet %s: it has no room for addresses: use a /%d or larger", subnet, MaxSubnetBits)
	}
	if !ipRange.IsValid() {
		ipRange = subnet
	}
	if err := checkNetwork("ip range", ipRange); err != nil {
		return nil, err
	}
	if ipRange.Bits() < subnet.Bits() || !subnet.Contains(ipRange.Addr()) {
		return nil, fmt.Errorf("ip range %s is not inside subnet %s", ipRange, subnet)
	}
	if !gateway.IsValid() {
		gateway = DefaultGateway(subnet)
	}
	sub, r := spanOf(subnet), spanOf(ipRange)
	if !subnet.Contains(gateway) || u32(gateway) == sub.first || u32(gateway) == sub.last {
		return nil, fmt.Errorf("gateway %s is not a host address of subnet %s", gateway, subnet)
	}
	s := &Space{subnet: subnet, rng: ipRange, gateway: gateway, first: max(r.first, sub.first+1), last: min(r.last, sub.last-1), used: map[uint32]bool{}}
	s.low = s.first
	s.Reserve(gateway)
	return s, nil
}

// Subnet is the space's subnet.
func (s *Space) Subnet() netip.Prefix { return s.subnet }

// Gateway is the space's gateway.
func (s *Space) Gateway() netip.Addr { return s.gateway }

// Reserve marks a as in use and reports whether it was free and inside
// the range. Reserving the addresses already allocated (read from the
// state) is how a Space learns them.
func (s *Space) Reserve(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	n := u32(a)
	if n < s.first || n > s.last || s.used[n] {
		return false
	}
	s.used[n] = true
	return true
}

// Release frees a: it may be handed out again.
func (s *Space) Release(a netip.Addr) {
	if !a.Is4() {
		return
	}
	n := u32(a)
	if !s.used[n] || a == s.gateway {
		return
	}
	delete(s.used, n)
	s.low = min(s.low, n)
}

// Allocate marks the lowest free address as in use and returns it with
// the subnet's prefix length ("10.0.0.2/24"), or a *SubnetFullError.
func (s *Space) Allocate() (netip.Prefix, error) {
	for n := uint64(s.low); n <= uint64(s.last); n++ {
		if !s.used[uint32(n)] {
			s.used[uint32(n)] = true
			s.low = uint32(n)
			return netip.PrefixFrom(addr(uint32(n)), s.subnet.Bits()), nil
		}
	}
	s.low = s.last
	return netip.Prefix{}, &SubnetFullError{Subnet: s.subnet, Range: s.rng}
}

// Free is how many addresses are left.
func (s *Space) Free() int {
	if s.last < s.first {
		return 0
	}
	return int(uint64(s.last)-uint64(s.first)+1) - len(s.used)
}
