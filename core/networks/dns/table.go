package dns

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/hiveorch/hive/core/mesh"
	"github.com/hiveorch/hive/core/types"
)

// tasksPrefix is what a name starts with to ask for a service's tasks
// rather than its endpoint.
const tasksPrefix = "tasks."

// Precedence of the names a network knows: a service's own name wins over
// another service's alias.
const (
	rankName = iota
	rankAlias
)

// Table is what names resolve to for a task, by the networks it is on.
// It is immutable once built, and safe for concurrent use.
type Table struct {
	// names maps a lower-case name without its trailing dot to what it
	// resolves to on each network that knows it.
	names map[string]map[string]*record
}

// record is one name on one network.
type record struct {
	rank  int
	addrs []netip.Addr
}

// Build computes the table from one consistent read of the state. Only
// the given networks count: an attachment to a network not among them (one
// being removed) is ignored. The tasks of a service are those whose
// ServiceID is its ID; a task of no given service is ignored.
//
// On each network of its spec a service's name and its aliases there
// resolve to its virtual IP on that network in mode vip (nothing while none
// is allocated), or to its running tasks' addresses there in mode dnsrr;
// tasks.NAME and tasks.ALIAS resolve to its running tasks' addresses on
// that network, and tasks.NAME also on any other network a running task of
// it is attached to (as during an update that moves the service off a
// network). Build does not change its arguments.
func Build(services []*types.Service, tasks []*types.Task, networks []*types.Network) *Table {
	known := make(map[string]bool, len(networks))
	for _, n := range networks {
		if n != nil {
			known[n.ID] = true
		}
	}
	// running[serviceID][networkID] are the addresses of the service's
	// running tasks on the network.
	running := make(map[string]map[string][]netip.Addr)
	for _, t := range tasks {
		if t == nil || !mesh.Serving(t) {
			continue
		}
		for _, a := range t.Networks {
			if !known[a.NetworkID] {
				continue
			}
			byNet := running[t.ServiceID]
			if byNet == nil {
				byNet = make(map[string][]netip.Addr)
				running[t.ServiceID] = byNet
			}
			for _, p := range a.Addresses {
				byNet[a.NetworkID] = append(byNet[a.NetworkID], p.Addr())
			}
			if byNet[a.NetworkID] == nil {
				byNet[a.NetworkID] = []netip.Addr{} // on the network, no address yet
			}
		}
	}

	tb := &Table{names: make(map[string]map[string]*record)}
	for _, s := range services {
		if s == nil {
			continue
		}
		name := normalize(s.Spec.Name)
		taskAddrs := running[s.ID]
		for _, att := range s.Spec.Networks {
			nw := att.Target
			if !known[nw] {
				continue
			}
			endpoint := taskAddrs[nw]
			if s.Spec.Endpoint.Mode != types.EndpointDNSRR {
				endpoint = vips(s, nw)
			}
			tb.add(name, nw, rankName, endpoint)
			tb.add(tasksPrefix+name, nw, rankName, taskAddrs[nw])
			for _, alias := range att.Aliases {
				alias = normalize(alias)
				tb.add(alias, nw, rankAlias, endpoint)
				tb.add(tasksPrefix+alias, nw, rankAlias, taskAddrs[nw])
			}
		}
		for nw, addrs := range taskAddrs {
			tb.add(tasksPrefix+name, nw, rankName, addrs)
		}
	}
	for _, byNet := range tb.names {
		for _, r := range byNet {
			slices.SortFunc(r.addrs, netip.Addr.Compare)
			r.addrs = slices.Compact(r.addrs)
		}
	}
	return tb
}

// vips returns the service's virtual IP on the network, if it has one.
func vips(s *types.Service, networkID string) []netip.Addr {
	var out []netip.Addr
	for _, v := range s.Endpoint.VirtualIPs {
		if v.NetworkID == networkID {
			out = append(out, v.Addr.Addr())
		}
	}
	return out
}

// add records that name resolves to addrs on the network, unless a name
// of a better rank holds it there; names of the same rank add up.
func (tb *Table) add(name, networkID string, rank int, addrs []netip.Addr) {
	if name == "" || name == tasksPrefix {
		return
	}
	byNet := tb.names[name]
	if byNet == nil {
		byNet = make(map[string]*record)
		tb.names[name] = byNet
	}
	r := byNet[networkID]
	switch {
	case r == nil || rank < r.rank:
		byNet[networkID] = &record{rank: rank, addrs: slices.Clone(addrs)}
	case rank == r.rank:
		r.addrs = append(r.addrs, addrs...)
	}
}

// Lookup returns the addresses name has for a task on the networks
// askerNetworks (network IDs), sorted, and whether the name is known on
// any of them at all: a known name may have no address (a service whose
// tasks all stopped). A name known only on other networks is not found.
func (tb *Table) Lookup(askerNetworks []string, name string) (addrs []netip.Addr, found bool) {
	byNet := tb.names[normalize(name)]
	if byNet == nil {
		return nil, false
	}
	for _, nw := range askerNetworks {
		if r, ok := byNet[nw]; ok {
			found = true
			addrs = append(addrs, r.addrs...)
		}
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	return slices.Compact(addrs), found
}

// normalize is the form names are kept in: lower case, without the
// trailing dot.
func normalize(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}
