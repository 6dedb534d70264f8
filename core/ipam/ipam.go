// Package ipam is hive's IP address management, as pure functions: given
// what is allocated, it picks a subnet for a network from the default pool
// (or checks that a subnet a user gave overlaps no other), a VXLAN ID, and
// the addresses of a network's range — one virtual IP per (service,
// network), one address per task. It knows no store and no clock: the
// managers (core/allocator) read what is allocated from the store, call
// these functions inside the store transaction that records the result,
// so that the allocation and its check are one Raft command.
//
// Every choice is deterministic, the lowest free one first: the same
// state gives the same allocation on every manager. Only IPv4 is
// supported.
package ipam

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// Defaults of the pool networks get their subnets from, as in Swarm.
const (
	DefaultPool = "10.0.0.0/8"
	DefaultSize = 24
	// MaxSize is the longest prefix a pooled subnet may have: a /29 holds
	// five addresses besides the network, broadcast and gateway ones.
	MaxSize = 29
	// MaxSubnetBits is the longest prefix of any network's subnet: a /30
	// holds one address besides the network, broadcast and gateway ones.
	MaxSubnetBits = 30
)

// VXLAN IDs: hive's networks take theirs from MinVNI up, as Swarm's do
// (lower ones are left to the host's own VXLANs); 24 bits in all.
const (
	MinVNI = 4096
	MaxVNI = 1<<24 - 1
)

// Pool is where a network created without a subnet gets one: the
// lowest free subnet of Size bits inside Prefix.
type Pool struct {
	Prefix netip.Prefix
	Size   int
}

// Default returns the default pool, 10.0.0.0/8 in /24s.
func Default() Pool {
	return Pool{Prefix: netip.MustParsePrefix(DefaultPool), Size: DefaultSize}
}

// Validate checks the pool: an IPv4 network address, and a size from the
// pool's own prefix length to MaxSize.
func (p Pool) Validate() error {
	if err := checkNetwork("address pool", p.Prefix); err != nil {
		return err
	}
	if p.Size < p.Prefix.Bits() || p.Size > MaxSize {
		return fmt.Errorf("invalid subnet size /%d for address pool %s: use a size from /%d (the pool's own) to /%d", p.Size, p.Prefix, p.Prefix.Bits(), MaxSize)
	}
	return nil
}

// checkNetwork checks that p is an IPv4 prefix with no host bits set.
func checkNetwork(what string, p netip.Prefix) error {
	switch {
	case !p.IsValid():
		return fmt.Errorf("invalid %s: give a CIDR such as 10.0.0.0/8", what)
	case !p.Addr().Is4():
		return fmt.Errorf("invalid %s %s: only IPv4 is supported", what, p)
	case p.Masked() != p:
		return fmt.Errorf("invalid %s %s: it has host bits set: use %s", what, p, p.Masked())
	}
	return nil
}

// PoolFullError says the pool has no free subnet of its size left.
type PoolFullError struct{ Pool Pool }

func (e *PoolFullError) Error() string {
	return fmt.Sprintf("the address pool %s has no free /%d subnet left: give the network a --subnet outside the networks in use, or widen networks.default_pool",
		e.Pool.Prefix, e.Pool.Size)
}

// SubnetFullError says a network's range has no free address left.
type SubnetFullError struct{ Subnet, Range netip.Prefix }

func (e *SubnetFullError) Error() string {
	in := e.Subnet.String()
	if e.Range != e.Subnet {
		in = fmt.Sprintf("%s (ip range %s)", e.Subnet, e.Range)
	}
	return fmt.Sprintf("subnet %s is full: no address left for another task or virtual IP: create the network with a larger --subnet, or scale its services down", in)
}

// ErrNoVNI says every VXLAN ID is taken.
var ErrNoVNI = errors.New("no free VXLAN ID left")

// span is an inclusive range of IPv4 addresses as numbers.
type span struct{ first, last uint32 }

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func addr(n uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], n)
	return netip.AddrFrom4(b)
}

// spanOf is the addresses of an IPv4 prefix.
func spanOf(p netip.Prefix) span {
	p = p.Masked()
	first := u32(p.Addr())
	return span{first, first | uint32(uint64(1)<<(32-p.Bits())-1)}
}

// AllocateSubnet returns the lowest subnet of the pool's size inside the
// pool that overlaps none of used (the subnets of the existing networks;
// IPv6 ones are ignored), or a *PoolFullError.
func AllocateSubnet(pool Pool, used []netip.Prefix) (netip.Prefix, error) {
	if err := pool.Validate(); err != nil {
		return netip.Prefix{}, err
	}
	var taken []span
	for _, u := range used {
		if u.IsValid() && u.Addr().Is4() {
			taken = append(taken, spanOf(u))
		}
	}
	slices.SortFunc(taken, func(a, b span) int { return cmp.Compare(a.first, b.first) })
	p := spanOf(pool.Prefix)
	block := uint64(1) << (32 - pool.Size)
	i := 0
	for cand := uint64(p.first); cand+block-1 <= uint64(p.last); {
		end := cand + block - 1
		// The taken spans that end before cand cannot meet this candidate
		// nor any later one.
		for i < len(taken) && uint64(taken[i].last) < cand {
			i++
		}
		if i == len(taken) || uint64(taken[i].first) > end {
			return netip.PrefixFrom(addr(uint32(cand)), pool.Size), nil
		}
		// Skip past the taken span, to the next aligned block.
		next := uint64(taken[i].last) + 1
		cand = (next + block - 1) / block * block
	}
	return netip.Prefix{}, &PoolFullError{Pool: pool}
}

// Overlap returns the index of the first of used that overlaps subnet, or
// -1.
func Overlap(subnet netip.Prefix, used []netip.Prefix) int {
	return slices.IndexFunc(used, func(u netip.Prefix) bool { return u.IsValid() && u.Overlaps(subnet) })
}

// AllocateVNI returns the lowest VXLAN ID from MinVNI up that is not in
// used, or ErrNoVNI.
func AllocateVNI(used []uint32) (uint32, error) {
	sorted := slices.Clone(used)
	slices.Sort(sorted)
	vni := uint32(MinVNI)
	for _, u := range sorted {
		if u < vni {
			continue
		}
		if u > vni {
			break
		}
		vni++
	}
	if vni > MaxVNI {
		return 0, ErrNoVNI
	}
	return vni, nil
}

// DefaultGateway is a subnet's gateway when none is given: its first
// address.
func DefaultGateway(subnet netip.Prefix) netip.Addr {
	return subnet.Masked().Addr().Next()
}
