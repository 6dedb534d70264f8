package vip

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"github.com/hiveorch/hive/core/mesh"
	"github.com/hiveorch/hive/core/types"
)

// Key is what a client connects to: a virtual IP, on one target port of
// one protocol, or on every port (Port 0, Protocol empty) for a service
// that publishes none.
type Key struct {
	VIP      netip.Addr
	Protocol types.Protocol
	Port     uint16
}

func (k Key) String() string {
	if k.Port == 0 {
		return k.VIP.String()
	}
	return fmt.Sprintf("%s %d/%s", k.VIP, k.Port, k.Protocol)
}

// compare orders keys by address, then protocol, then port.
func (k Key) compare(o Key) int {
	return cmp.Or(k.VIP.Compare(o.VIP), cmp.Compare(k.Protocol, o.Protocol), cmp.Compare(k.Port, o.Port))
}

// Rules maps each Key to the backends a new connection to it may go to,
// sorted and without repeats; an empty list means the connection is
// refused. The addresses are IPv4, as the network pools are.
type Rules map[Key][]netip.Addr

// Equal reports whether r and o send the same connections to the same
// backends; a nil and an empty list of backends are equal.
func (r Rules) Equal(o Rules) bool {
	return maps.EqualFunc(r, o, func(a, b []netip.Addr) bool { return slices.Equal(a, b) })
}

// keys returns r's keys in order.
func (r Rules) keys() []Key {
	return slices.SortedFunc(maps.Keys(r), Key.compare)
}

// Build computes the rules for the task asker from one consistent read of
// the state. Only the given networks count: an attachment to a network
// not among them (one being removed) is ignored. Build does not change
// its arguments.
//
// For each service in endpoint mode vip with a virtual IP on a network
// asker is attached to, each target port of the service (its allocated
// ports, or its spec's while none is allocated; TCP when no protocol is
// given) is a Key, and a service that publishes no port has one Key for
// its VIP on every port. The backends are the addresses on that network
// of the service's tasks that mesh.Serving says may get new connections:
// desired and observed state running, which the agent only reports once a
// health check passes. A task told to stop is out at once, before its
// container stops, so that a rolling update sends no new connection to a
// closing task.
func Build(asker *types.Task, services []*types.Service, tasks []*types.Task, networks []*types.Network) Rules {
	known := make(map[string]bool, len(networks))
	for _, n := range networks {
		if n != nil {
			known[n.ID] = true
		}
	}
	on := make(map[string]bool)
	if asker != nil {
		for _, id := range asker.NetworkIDs() {
			on[id] = known[id]
		}
	}
	type place struct{ service, network string }
	backends := make(map[place][]netip.Addr)
	for _, t := range tasks {
		if t == nil || !mesh.Serving(t) {
			continue
		}
		for _, a := range t.Networks {
			for _, p := range a.Addresses {
				if on[a.NetworkID] && p.Addr().Is4() {
					k := place{t.ServiceID, a.NetworkID}
					backends[k] = append(backends[k], p.Addr())
				}
			}
		}
	}

	r := make(Rules)
	for _, s := range services {
		if s == nil || s.Spec.Endpoint.Mode == types.EndpointDNSRR {
			continue
		}
		keys := portKeys(s)
		for _, v := range s.Endpoint.VirtualIPs {
			if !on[v.NetworkID] || !v.Addr.Addr().Is4() {
				continue
			}
			addrs := slices.Clone(backends[place{s.ID, v.NetworkID}])
			slices.SortFunc(addrs, netip.Addr.Compare)
			addrs = slices.Compact(addrs)
			for _, k := range keys {
				k.VIP = v.Addr.Addr()
				r[k] = addrs
			}
		}
	}
	return r
}

// portKeys returns the keys, without their VIP, of the ports s's tasks
// listen on.
func portKeys(s *types.Service) []Key {
	ports := s.Endpoint.Ports
	if len(ports) == 0 {
		ports = s.Spec.Endpoint.Ports
	}
	var keys []Key
	for _, p := range ports {
		k := Key{Protocol: cmp.Or(p.Protocol, types.ProtocolTCP), Port: uint16(p.TargetPort)}
		if _, ok := l4proto[k.Protocol]; ok && k.Port != 0 && p.TargetPort <= 0xffff && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		keys = []Key{{}}
	}
	return keys
}
