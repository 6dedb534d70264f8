package ipam

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func TestAllocateSubnetTakesTheLowestFree(t *testing.T) {
	tests := []struct {
		name string
		pool Pool
		used []netip.Prefix
		want string
	}{
		{"empty", Default(), nil, "10.0.0.0/24"},
		{"after the first", Default(), prefixes("10.0.0.0/24"), "10.0.1.0/24"},
		{"a hole", Default(), prefixes("10.0.0.0/24", "10.0.2.0/24"), "10.0.1.0/24"},
		{"unsorted", Default(), prefixes("10.0.1.0/24", "10.0.0.0/24"), "10.0.2.0/24"},
		{"a user's larger subnet", Default(), prefixes("10.0.0.0/16"), "10.1.0.0/24"},
		{"a user's smaller subnet", Default(), prefixes("10.0.0.128/25"), "10.0.1.0/24"},
		{"outside the pool", Default(), prefixes("192.168.0.0/16", "9.0.0.0/8"), "10.0.0.0/24"},
		{"a wider used block below", Default(), prefixes("0.0.0.0/5"), "10.0.0.0/24"},
		{"a used block covering the pool's start", Default(), prefixes("8.0.0.0/7", "10.0.0.0/9"), "10.128.0.0/24"},
		{"another size", Pool{netip.MustParsePrefix("172.20.0.0/16"), 26}, prefixes("172.20.0.0/26"), "172.20.0.64/26"},
		{"pool is one subnet", Pool{netip.MustParsePrefix("172.20.0.0/24"), 24}, nil, "172.20.0.0/24"},
		{"IPv6 ignored", Default(), prefixes("fd00::/64"), "10.0.0.0/24"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AllocateSubnet(tt.pool, tt.used)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tt.want {
				t.Errorf("AllocateSubnet = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestAllocateSubnetFullPool(t *testing.T) {
	pool := Pool{netip.MustParsePrefix("172.20.0.0/24"), 25}
	_, err := AllocateSubnet(pool, prefixes("172.20.0.0/25", "172.20.0.128/26"))
	var full *PoolFullError
	if !errors.As(err, &full) {
		t.Fatalf("err = %v, want a *PoolFullError", err)
	}
	if !strings.Contains(err.Error(), "172.20.0.0/24 has no free /25 subnet left") || !strings.Contains(err.Error(), "--subnet") {
		t.Errorf("error = %q: it must name the pool and say what to do", err)
	}
}

func TestPoolValidate(t *testing.T) {
	tests := []struct {
		pool Pool
		want string
	}{
		{Pool{netip.MustParsePrefix("10.0.0.0/8"), 24}, ""},
		{Pool{netip.MustParsePrefix("10.0.0.0/8"), 8}, ""},
		{Pool{netip.MustParsePrefix("10.0.0.0/8"), 29}, ""},
		{Pool{netip.MustParsePrefix("10.0.0.0/16"), 8}, "invalid subnet size /8 for address pool 10.0.0.0/16: use a size from /16 (the pool's own) to /29"},
		{Pool{netip.MustParsePrefix("10.0.0.0/8"), 30}, "invalid subnet size /30 for address pool 10.0.0.0/8: use a size from /8 (the pool's own) to /29"},
		{Pool{netip.MustParsePrefix("10.1.0.0/8"), 24}, "invalid address pool 10.1.0.0/8: it has host bits set: use 10.0.0.0/8"},
		{Pool{netip.MustParsePrefix("fd00::/48"), 64}, "invalid address pool fd00::/48: only IPv4 is supported"},
		{Pool{}, "invalid address pool: give a CIDR such as 10.0.0.0/8"},
	}
	for _, tt := range tests {
		err := tt.pool.Validate()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%+v: Validate() = %q, want %q", tt.pool, got, tt.want)
		}
	}
}

func TestOverlap(t *testing.T) {
	used := prefixes("10.0.0.0/24", "10.1.0.0/16")
	for _, tt := range []struct {
		subnet string
		want   int
	}{{"10.0.0.0/24", 0}, {"10.0.0.128/25", 0}, {"10.0.0.0/8", 0}, {"10.1.2.0/24", 1}, {"10.0.1.0/24", -1}, {"192.168.0.0/16", -1}} {
		if got := Overlap(netip.MustParsePrefix(tt.subnet), used); got != tt.want {
			t.Errorf("Overlap(%s) = %d, want %d", tt.subnet, got, tt.want)
		}
	}
}

func TestAllocateVNI(t *testing.T) {
	for _, tt := range []struct {
		used []uint32
		want uint32
	}{
		{nil, 4096},
		{[]uint32{4096}, 4097},
		{[]uint32{4098, 4096}, 4097},
		{[]uint32{1, 2, 4096, 4096, 4097}, 4098},
		{[]uint32{5000}, 4096},
	} {
		got, err := AllocateVNI(tt.used)
		if err != nil || got != tt.want {
			t.Errorf("AllocateVNI(%v) = %d, %v, want %d", tt.used, got, err, tt.want)
		}
	}
	all := make([]uint32, 0, MaxVNI-MinVNI+1)
	for v := uint32(MinVNI); v <= MaxVNI; v++ {
		all = append(all, v)
	}
	if _, err := AllocateVNI(all); !errors.Is(err, ErrNoVNI) {
		t.Errorf("every VNI taken: err = %v, want ErrNoVNI", err)
	}
}

func mustSpace(t *testing.T, subnet, ipRange, gateway string) *Space {
	t.Helper()
	var r netip.Prefix
	if ipRange != "" {
		r = netip.MustParsePrefix(ipRange)
	}
	var gw netip.Addr
	if gateway != "" {
		gw = netip.MustParseAddr(gateway)
	}
	s, err := NewSpace(netip.MustParsePrefix(subnet), r, gw)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// allocateAll drains a space, returning what it handed out.
func allocateAll(t *testing.T, s *Space) []string {
	t.Helper()
	var out []string
	for {
		a, err := s.Allocate()
		if err != nil {
			var full *SubnetFullError
			if !errors.As(err, &full) {
				t.Fatalf("Allocate: %v, want a *SubnetFullError", err)
			}
			return out
		}
		out = append(out, a.String())
	}
}

func TestSpaceHandsOutHostAddressesButTheGateway(t *testing.T) {
	tests := []struct {
		name                     string
		subnet, ipRange, gateway string
		want                     string
	}{
		{"a /29", "10.0.0.0/29", "", "", "10.0.0.2/29 10.0.0.3/29 10.0.0.4/29 10.0.0.5/29 10.0.0.6/29"},
		{"a /30", "10.0.0.0/30", "", "", "10.0.0.2/30"},
		{"a gateway given", "10.0.0.0/29", "", "10.0.0.6", "10.0.0.1/29 10.0.0.2/29 10.0.0.3/29 10.0.0.4/29 10.0.0.5/29"},
		{"an ip range", "10.0.0.0/24", "10.0.0.8/30", "", "10.0.0.8/24 10.0.0.9/24 10.0.0.10/24 10.0.0.11/24"},
		{"a range at the subnet's end", "10.0.0.0/24", "10.0.0.252/30", "", "10.0.0.252/24 10.0.0.253/24 10.0.0.254/24"},
		{"a range holding the gateway", "10.0.0.0/24", "10.0.0.0/30", "", "10.0.0.2/24 10.0.0.3/24"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustSpace(t, tt.subnet, tt.ipRange, tt.gateway)
			free := s.Free()
			got := allocateAll(t, s)
			if strings.Join(got, " ") != tt.want {
				t.Errorf("allocated %v, want %s", got, tt.want)
			}
			if free != len(got) || s.Free() != 0 {
				t.Errorf("Free() was %d before and %d after %d allocations", free, s.Free(), len(got))
			}
		})
	}
}

func TestSpaceFullErrorSaysWhatToDo(t *testing.T) {
	s := mustSpace(t, "10.0.0.0/30", "", "")
	if _, err := s.Allocate(); err != nil {
		t.Fatal(err)
	}
	_, err := s.Allocate()
	if err == nil || err.Error() != "subnet 10.0.0.0/30 is full: no address left for another task or virtual IP: create the network with a larger --subnet, or scale its services down" {
		t.Errorf("error = %v", err)
	}
}

func TestSpaceReserveAndRelease(t *testing.T) {
	s := mustSpace(t, "10.0.0.0/24", "", "")
	for _, a := range []string{"10.0.0.2", "10.0.0.3", "10.0.0.5"} {
		if !s.Reserve(netip.MustParseAddr(a)) {
			t.Fatalf("Reserve(%s) = false", a)
		}
	}
	for _, a := range []string{"10.0.0.1", "10.0.0.0", "10.0.0.255", "10.0.1.2", "10.0.0.2", "fd00::1"} {
		if s.Reserve(netip.MustParseAddr(a)) {
			t.Errorf("Reserve(%s) = true: the gateway, the network and broadcast addresses, one outside and one taken are refused", a)
		}
	}
	next := func() string {
		a, err := s.Allocate()
		if err != nil {
			t.Fatal(err)
		}
		return a.String()
	}
	if got := next(); got != "10.0.0.4/24" {
		t.Errorf("first allocation = %s, want the hole 10.0.0.4/24", got)
	}
	if got := next(); got != "10.0.0.6/24" {
		t.Errorf("second allocation = %s, want 10.0.0.6/24", got)
	}
	s.Release(netip.MustParseAddr("10.0.0.3"))
	s.Release(netip.MustParseAddr("10.0.0.1")) // the gateway stays reserved
	if got := next(); got != "10.0.0.3/24" {
		t.Errorf("after a release = %s, want the released 10.0.0.3/24", got)
	}
	if got := next(); got != "10.0.0.7/24" {
		t.Errorf("then = %s, want 10.0.0.7/24", got)
	}
}

func TestNewSpaceRefusesBadRanges(t *testing.T) {
	p := netip.MustParsePrefix
	for _, tt := range []struct {
		subnet, rng netip.Prefix
		gw          netip.Addr
		want        string
	}{
		{p("10.0.0.0/31"), netip.Prefix{}, netip.Addr{}, "invalid subnet 10.0.0.0/31: it has no room for addresses: use a /30 or larger"},
		{p("10.0.0.0/24"), p("10.0.1.0/28"), netip.Addr{}, "ip range 10.0.1.0/28 is not inside subnet 10.0.0.0/24"},
		{p("10.0.0.0/24"), p("10.0.0.0/16"), netip.Addr{}, "ip range 10.0.0.0/16 is not inside subnet 10.0.0.0/24"},
		{p("10.0.0.0/24"), netip.Prefix{}, netip.MustParseAddr("10.0.0.255"), "gateway 10.0.0.255 is not a host address of subnet 10.0.0.0/24"},
		{p("10.0.0.0/24"), netip.Prefix{}, netip.MustParseAddr("10.0.1.1"), "gateway 10.0.1.1 is not a host address of subnet 10.0.0.0/24"},
		{p("10.0.0.1/24"), netip.Prefix{}, netip.Addr{}, "invalid subnet 10.0.0.1/24: it has host bits set: use 10.0.0.0/24"},
	} {
		_, err := NewSpace(tt.subnet, tt.rng, tt.gw)
		if err == nil || err.Error() != tt.want {
			t.Errorf("NewSpace(%s, %s, %s) = %v, want %q", tt.subnet, tt.rng, tt.gw, err, tt.want)
		}
	}
}

// TestSpaceProperty drives a space with random allocations and releases
// and checks, at every step, that no address is held twice, that every
// address handed out is a host address of the range other than the
// gateway, that a release makes its address available again (the next
// allocation takes the lowest free one), and that the space runs full
// exactly when every address is held.
func TestSpaceProperty(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0))
		subnet := netip.PrefixFrom(netip.MustParseAddr("10.9.0.0"), 24+rng.IntN(5)).Masked()
		s, err := NewSpace(subnet, netip.Prefix{}, netip.Addr{})
		if err != nil {
			t.Fatal(err)
		}
		capacity := s.Free()
		held := map[netip.Addr]bool{}
		var order []netip.Addr
		for step := 0; step < 2000; step++ {
			if len(order) > 0 && rng.IntN(3) == 0 {
				i := rng.IntN(len(order))
				a := order[i]
				order = append(order[:i], order[i+1:]...)
				delete(held, a)
				s.Release(a)
				continue
			}
			got, err := s.Allocate()
			if len(held) == capacity {
				if err == nil {
					t.Fatalf("seed %d: allocated %s with all %d addresses held", seed, got, capacity)
				}
				continue
			}
			if err != nil {
				t.Fatalf("seed %d step %d: %v with %d of %d held", seed, step, err, len(held), capacity)
			}
			a := got.Addr()
			if held[a] {
				t.Fatalf("seed %d: %s handed out twice", seed, a)
			}
			if got.Bits() != subnet.Bits() || !subnet.Contains(a) || a == subnet.Addr() || a == s.Gateway() || a == spanAddr(subnet) {
				t.Fatalf("seed %d: %s is not a host address of %s other than the gateway", seed, got, subnet)
			}
			// Lowest free first: every address below it is held.
			for b := subnet.Addr().Next().Next(); b.Less(a); b = b.Next() {
				if !held[b] {
					t.Fatalf("seed %d: allocated %s while %s was free", seed, a, b)
				}
			}
			held[a] = true
			order = append(order, a)
			if s.Free() != capacity-len(held) {
				t.Fatalf("seed %d: Free() = %d, want %d", seed, s.Free(), capacity-len(held))
			}
		}
	}
}

func spanAddr(p netip.Prefix) netip.Addr { return addr(spanOf(p).last) }

// TestSubnetProperty allocates subnets from a small pool among random
// subnets given by users and removes some at random; no two subnets in use
// ever overlap, and the pool runs full only when no free block is left.
func TestSubnetProperty(t *testing.T) {
	pool := Pool{netip.MustParsePrefix("10.0.0.0/20"), 24}
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 1))
		var used []netip.Prefix
		for step := 0; step < 300; step++ {
			switch r := rng.IntN(4); {
			case r == 0 && len(used) > 0:
				i := rng.IntN(len(used))
				used = append(used[:i], used[i+1:]...)
				continue
			case r == 1:
				// A user's subnet, kept only when it overlaps nothing.
				bits := 22 + rng.IntN(7)
				p := netip.PrefixFrom(addr(u32(netip.MustParseAddr("10.0.0.0"))+uint32(rng.IntN(1<<12))<<8), bits).Masked()
				if Overlap(p, used) < 0 {
					used = append(used, p)
				}
				continue
			}
			got, err := AllocateSubnet(pool, used)
			if err != nil {
				for b := 0; b < 16; b++ {
					p := netip.PrefixFrom(addr(u32(pool.Prefix.Addr())+uint32(b)<<8), 24)
					if Overlap(p, used) < 0 {
						t.Fatalf("seed %d: pool full while %s is free", seed, p)
					}
				}
				continue
			}
			if i := Overlap(got, used); i >= 0 {
				t.Fatalf("seed %d: allocated %s overlapping %s", seed, got, used[i])
			}
			if !pool.Prefix.Contains(got.Addr()) || got.Bits() != 24 {
				t.Fatalf("seed %d: allocated %s outside the pool", seed, got)
			}
			used = append(used, got)
		}
	}
}
