package allocator

import (
	"fmt"
	"net/netip"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/ipam"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// AllocateNetwork fills n's Subnet, Gateway, IPRange and VNI from its
// (normalized, validated) spec and what the other networks in tx hold: a
// subnet the spec gives must overlap none of theirs (an
// errdefs.ErrConflict error naming the network), else the lowest free
// subnet of pool is taken (errdefs.ErrUnavailable when it has none left).
func AllocateNetwork(tx store.ReadTx, pool ipam.Pool, n *types.Network) error {
	subnet, ipRange, gateway, err := n.Spec.Addresses()
	if err != nil {
		return fmt.Errorf("%w: network %s: %w", errdefs.ErrInvalidArgument, n.Spec.Name, err)
	}
	var (
		owners []*types.Network
		used   []netip.Prefix
		vnis   []uint32
	)
	for _, o := range tx.Networks() {
		if o.ID != n.ID {
			owners = append(owners, o)
			used = append(used, o.Subnet)
			vnis = append(vnis, o.VNI)
		}
	}
	if subnet.IsValid() {
		if i := ipam.Overlap(subnet, used); i >= 0 {
			return fmt.Errorf("%w: network %s: subnet %s overlaps subnet %s of network %s: choose a subnet outside it, or leave --subnet out to get a free one",
				errdefs.ErrConflict, n.Spec.Name, subnet, used[i], owners[i].Spec.Name)
		}
	} else if subnet, err = ipam.AllocateSubnet(pool, used); err != nil {
		return fmt.Errorf("%w: network %s: %w", errdefs.ErrUnavailable, n.Spec.Name, err)
	}
	space, err := ipam.NewSpace(subnet, ipRange, gateway)
	if err != nil {
		return fmt.Errorf("%w: network %s: %w", errdefs.ErrInvalidArgument, n.Spec.Name, err)
	}
	vni, err := ipam.AllocateVNI(vnis)
	if err != nil {
		return fmt.Errorf("%w: network %s: %w", errdefs.ErrUnavailable, n.Spec.Name, err)
	}
	if !ipRange.IsValid() {
		ipRange = subnet
	}
	n.Subnet, n.Gateway, n.IPRange, n.VNI = subnet, space.Gateway(), ipRange, vni
	return nil
}

// HoldsAddresses reports whether a task's addresses are in use: from its
// creation until its observed state is terminal, or, for a task that
// never reached a node, until it is no longer desired to run.
func HoldsAddresses(t *types.Task) bool {
	if t.Status.State.Terminal() {
		return false
	}
	return t.DesiredState <= types.TaskStateRunning || t.Status.State >= types.TaskStateAssigned
}

// Spaces returns the address space of each network in tx with what is in
// use marked: its gateway, the virtual IPs of every service but skip, and
// the addresses of the tasks that hold theirs.
func Spaces(tx store.ReadTx, skip string) (map[string]*ipam.Space, error) {
	out := map[string]*ipam.Space{}
	for _, n := range tx.Networks() {
		s, err := ipam.NewSpace(n.Subnet, n.IPRange, n.Gateway)
		if err != nil {
			return nil, fmt.Errorf("network %s: %w", n.Spec.Name, err)
		}
		out[n.ID] = s
	}
	if len(out) == 0 {
		return out, nil
	}
	for _, svc := range tx.Services() {
		if svc.ID == skip {
			continue
		}
		for _, v := range svc.Endpoint.VirtualIPs {
			if s := out[v.NetworkID]; s != nil {
				s.Reserve(v.Addr.Addr())
			}
		}
	}
	for _, t := range tx.Tasks() {
		if len(t.Networks) == 0 || !HoldsAddresses(t) {
			continue
		}
		for _, a := range t.Networks {
			if s := out[a.NetworkID]; s != nil {
				for _, addr := range a.Addresses {
					s.Reserve(addr.Addr())
				}
			}
		}
	}
	return out, nil
}

// AllocateVIPs returns the virtual IPs of service svcID with spec (its
// networks resolved to IDs): in endpoint mode vip one per network, the
// one it had (had) where it keeps a network, else the lowest free one;
// none in mode dnsrr. The VIPs it had on networks it leaves are released
// by being left out. A network that is gone (spec is checked in the
// transaction that stores it) is an
// errdefs.ErrInvalidArgument error, a full subnet errdefs.ErrUnavailable
// (wrapping an *ipam.SubnetFullError).
func AllocateVIPs(tx store.ReadTx, svcID string, spec types.ServiceSpec, had []types.EndpointVirtualIP) ([]types.EndpointVirtualIP, error) {
	for _, att := range spec.Networks {
		if tx.Network(att.Target) == nil {
			return nil, fmt.Errorf("%w: service %s: network %s was removed meanwhile: create it again or leave it out", errdefs.ErrInvalidArgument, spec.Name, att.Target)
		}
	}
	if spec.Endpoint.Mode == types.EndpointDNSRR || len(spec.Networks) == 0 {
		return nil, nil
	}
	spaces, err := Spaces(tx, svcID)
	if err != nil {
		return nil, err
	}
	kept := map[string]netip.Prefix{}
	for _, v := range had {
		if s := spaces[v.NetworkID]; s != nil && s.Reserve(v.Addr.Addr()) {
			kept[v.NetworkID] = v.Addr
		}
	}
	out := make([]types.EndpointVirtualIP, 0, len(spec.Networks))
	for _, att := range spec.Networks {
		n := tx.Network(att.Target)
		addr, ok := kept[n.ID]
		if !ok {
			if addr, err = spaces[n.ID].Allocate(); err != nil {
				return nil, fmt.Errorf("%w: service %s: virtual IP on network %s: %w", errdefs.ErrUnavailable, spec.Name, n.Spec.Name, err)
			}
		}
		out = append(out, types.EndpointVirtualIP{NetworkID: n.ID, Addr: addr})
	}
	return out, nil
}
