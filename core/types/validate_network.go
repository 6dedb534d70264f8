package types

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ValidateNetworkName checks a network name, by the rules of secret
// names (Docker's): letters, digits, '-', '_' and '.', starting and ending
// with a letter or digit, at most 64 characters.
func ValidateNetworkName(name string) error { return validateObjectName("network", name) }

// maxSubnetBits is the longest prefix of a network's subnet: a /30 holds
// one address besides the network, broadcast and gateway ones.
const maxSubnetBits = 30

// Normalize fills the defaults a network spec leaves out: driver overlay.
func (s *NetworkSpec) Normalize() {
	if s.Driver == "" {
		s.Driver = DefaultNetworkDriver
	}
}

// Addresses parses the spec's subnet, ip range and gateway; each is the
// zero value when the spec leaves it out. The error says which one is
// malformed; Validate checks how they fit together.
func (s NetworkSpec) Addresses() (subnet, ipRange netip.Prefix, gateway netip.Addr, err error) {
	if subnet, err = parseCIDR("subnet", "10.20.0.0/16", s.Subnet); err != nil {
		return
	}
	if ipRange, err = parseCIDR("ip range", "10.20.1.0/24", s.IPRange); err != nil {
		return
	}
	if s.Gateway != "" {
		if gateway, err = netip.ParseAddr(s.Gateway); err != nil {
			err = fmt.Errorf("invalid gateway %q: give an IP address such as 10.20.0.1", s.Gateway)
		} else if !gateway.Is4() {
			err = fmt.Errorf("invalid gateway %s: only IPv4 networks are supported", gateway)
		}
	}
	return
}

// parseCIDR parses an IPv4 network in CIDR form with no host bits set;
// "" is the zero Prefix.
func parseCIDR(what, example, s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, nil
	}
	p, err := netip.ParsePrefix(s)
	switch {
	case err != nil:
		return p, fmt.Errorf("invalid %s %q: give a CIDR such as %s", what, s, example)
	case !p.Addr().Is4():
		return p, fmt.Errorf("invalid %s %s: only IPv4 networks are supported", what, p)
	case p.Masked() != p:
		return p, fmt.Errorf("invalid %s %s: it has host bits set: use %s", what, p, p.Masked())
	}
	return p, nil
}

// Validate checks a normalized network spec and returns every problem
// found, each saying what to fix. Whether its subnet overlaps another
// network's needs the cluster's state: the managers check it when they
// allocate.
func (s NetworkSpec) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if err := ValidateNetworkName(s.Name); err != nil {
		errs = append(errs, err)
	}
	if !slices.Contains(KnownNetworkDrivers, s.Driver) {
		add("unknown network driver %q: use %s", s.Driver, strings.Join(KnownNetworkDrivers, " or "))
	}
	errs = append(errs, validateLabels("label", s.Labels)...)
	errs = append(errs, validateLabels("option", s.Options)...)
	errs = append(errs, s.validateOptions()...)
	subnet, ipRange, gateway, err := s.Addresses()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	switch {
	case !subnet.IsValid():
		if s.Gateway != "" {
			add("a gateway needs a subnet: give --subnet too")
		}
		if s.IPRange != "" {
			add("an ip range needs a subnet: give --subnet too")
		}
		return errors.Join(errs...)
	case subnet.Bits() > maxSubnetBits:
		add("subnet %s is too small: it has no room for addresses: use a /%d or larger", subnet, maxSubnetBits)
	}
	if ipRange.IsValid() && (ipRange.Bits() < subnet.Bits() || !subnet.Contains(ipRange.Addr())) {
		add("ip range %s is outside subnet %s: give a range inside the subnet", ipRange, subnet)
	}
	if gateway.IsValid() {
		switch {
		case !subnet.Contains(gateway):
			add("gateway %s is outside subnet %s: give an address of the subnet", gateway, subnet)
		case gateway == subnet.Addr() || gateway == broadcast(subnet):
			add("gateway %s is the network or broadcast address of subnet %s: give a host address", gateway, subnet)
		}
	}
	return errors.Join(errs...)
}

// Options of the overlay driver.
const (
	// OptionMTU sets the MTU of the network's interfaces (default: the
	// underlay's minus the VXLAN overhead); OptionDockerMTU is Docker's
	// name for it.
	OptionMTU       = "mtu"
	OptionDockerMTU = "com.docker.network.driver.mtu"
)

// MTU returns the MTU the spec's options ask for (0 for none).
func (s NetworkSpec) MTU() int {
	for _, k := range []string{OptionMTU, OptionDockerMTU} {
		if v, ok := s.Options[k]; ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

// validateOptions checks the driver options against what the overlay
// driver takes.
func (s NetworkSpec) validateOptions() []error {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(s.Options)) {
		v := s.Options[k]
		switch k {
		case OptionMTU, OptionDockerMTU:
			if n, err := strconv.Atoi(v); err != nil || n < 576 || n > 9000 {
				errs = append(errs, fmt.Errorf("option %s=%q: give an MTU from 576 to 9000", k, v))
			}
		default:
			if k != "" {
				errs = append(errs, fmt.Errorf("unknown option %q for driver overlay: it takes %s (or %s)", k, OptionMTU, OptionDockerMTU))
			}
		}
	}
	if _, a := s.Options[OptionMTU]; a {
		if _, b := s.Options[OptionDockerMTU]; b {
			errs = append(errs, fmt.Errorf("options %s and %s are the same: give one", OptionMTU, OptionDockerMTU))
		}
	}
	return errs
}

// broadcast is the last address of an IPv4 subnet.
func broadcast(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := 32 - p.Bits()
	for i := 3; i >= 0 && host > 0; i-- {
		n := min(host, 8)
		b[i] |= byte(1<<n - 1)
		host -= n
	}
	return netip.AddrFrom4(b)
}

// dnsNameRE is a DNS name: labels of letters, digits and '-', not
// starting or ending with '-', joined by dots.
var dnsNameRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$`)

// IsDNSName reports whether s can be a network alias: a DNS name of at
// most 253 characters.
func IsDNSName(s string) bool { return len(s) <= 253 && dnsNameRE.MatchString(s) }

// validateNetworks checks a service's endpoint mode against its ports and
// its networks: each named once, aliases DNS names.
func (s *ServiceSpec) validateNetworks() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch s.Endpoint.Mode {
	case EndpointVIP:
	case EndpointDNSRR:
		for _, p := range s.Endpoint.Ports {
			if p.PublishMode == PublishIngress {
				add("port %d: endpoint mode dnsrr cannot publish through the routing mesh (ingress), which needs a virtual IP: publish it with mode=host, or use endpoint mode vip", p.TargetPort)
			}
		}
	default:
		add("invalid endpoint mode %q: use vip or dnsrr", s.Endpoint.Mode)
	}
	seen := map[string]bool{}
	for _, n := range s.Networks {
		if n.Target == "" {
			add("a network attachment names no network: use --network NAME")
			continue
		}
		if seen[n.Target] {
			add("network %s is listed twice: attach the service to each network once", n.Target)
		}
		seen[n.Target] = true
		for _, a := range n.Aliases {
			if !IsDNSName(a) {
				add("invalid alias %q on network %s: use a DNS name (letters, digits and '-', in labels joined by '.')", a, n.Target)
			}
		}
	}
	return errs
}
