package controlapi

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hiveorch/hive/core/allocator"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/ipam"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// SetNetworkPool sets the pool networks created without a subnet take
// theirs from (the config's networks.default_pool and default_size);
// until it is called, the default 10.0.0.0/8 in /24s.
func (s *Server) SetNetworkPool(p ipam.Pool) error {
	if err := p.Validate(); err != nil {
		return err
	}
	s.pool.Store(&p)
	return nil
}

func (s *Server) networkPool() ipam.Pool {
	if p := s.pool.Load(); p != nil {
		return *p
	}
	return ipam.Default()
}

// CreateNetwork validates spec and stores the network with its subnet,
// gateway and VXLAN ID, allocated in the same transaction: the subnet
// given, when it overlaps no other network's, else the lowest free one
// of the pool. Nothing is stored when anything is wrong.
func (s *Server) CreateNetwork(ctx context.Context, spec types.NetworkSpec) (*types.Network, error) {
	spec = spec.Copy()
	spec.Normalize()
	if err := spec.Validate(); err != nil {
		return nil, invalid(err)
	}
	n := &types.Network{ID: s.IDs.NewID(), Spec: spec}
	pool := s.networkPool()
	err := s.update(ctx, func(tx store.Tx) error {
		if other := tx.NetworkByName(spec.Name); other != nil {
			return fmt.Errorf("%w: network name %q is already in use by network %s: choose another name", errdefs.ErrConflict, spec.Name, shortID(other.ID))
		}
		if err := allocator.AllocateNetwork(tx, pool, n); err != nil {
			return err
		}
		return tx.CreateNetwork(n)
	})
	if err != nil {
		return nil, storeErr(err)
	}
	s.logger.Info("network created", "network_id", n.ID, "network", spec.Name, "subnet", n.Subnet.String(), "vni", n.VNI)
	return s.GetNetwork(ctx, n.ID)
}

// ListNetworks returns every network, sorted by name.
func (s *Server) ListNetworks(ctx context.Context) ([]*types.Network, error) {
	var out []*types.Network
	s.view(ctx, func(tx store.ReadTx) {
		for _, n := range tx.Networks() {
			out = append(out, n.Copy())
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.Name < out[j].Spec.Name })
	return out, nil
}

// GetNetwork resolves a network reference (ID, name or unique ID prefix).
func (s *Server) GetNetwork(ctx context.Context, ref string) (*types.Network, error) {
	var n *types.Network
	var err error
	s.view(ctx, func(tx store.ReadTx) { n, err = resolveNetwork(tx, ref) })
	if err != nil {
		return nil, err
	}
	return n.Copy(), nil
}

func resolveNetwork(tx store.ReadTx, ref string) (*types.Network, error) {
	if n := tx.Network(ref); n != nil {
		return n, nil
	}
	if n := tx.NetworkByName(ref); n != nil {
		return n, nil
	}
	return resolve("network", ref, tx.Networks(), func(n *types.Network) (string, string) { return n.ID, n.Spec.Name })
}

// RemoveNetwork deletes a network no service uses; while services use
// it, it refuses and names them, and while tasks of services that left it
// are still stopping, it refuses until they stopped.
func (s *Server) RemoveNetwork(ctx context.Context, ref string) error {
	var name string
	err := s.update(ctx, func(tx store.Tx) error {
		n, err := resolveNetwork(tx, ref)
		if err != nil {
			return err
		}
		name = n.Spec.Name
		if users := servicesOnNetwork(tx, n.ID); len(users) > 0 {
			return inUse("network", name, "--network-rm", users)
		}
		if tasks := tasksOnNetwork(tx, n.ID); len(tasks) > 0 {
			return fmt.Errorf("%w: network %s still has tasks attached that are stopping (%s): retry once they stopped", errdefs.ErrStillStopping, name, strings.Join(tasks, ", "))
		}
		return tx.DeleteNetwork(n.ID)
	})
	if err != nil {
		return storeErr(err)
	}
	s.logger.Info("network removed", "network", name)
	return nil
}

// PruneNetworks removes every network that no service uses and no task
// is attached to, and returns their names, sorted.
func (s *Server) PruneNetworks(ctx context.Context) ([]string, error) {
	var names []string
	err := s.update(ctx, func(tx store.Tx) error {
		names = nil
		for _, n := range tx.Networks() {
			if len(servicesOnNetwork(tx, n.ID)) > 0 || len(tasksOnNetwork(tx, n.ID)) > 0 {
				continue
			}
			if err := tx.DeleteNetwork(n.ID); err != nil {
				return err
			}
			names = append(names, n.Spec.Name)
		}
		return nil
	})
	if err != nil {
		return nil, storeErr(err)
	}
	sort.Strings(names)
	if len(names) > 0 {
		s.logger.Info("networks pruned", "networks", names)
	}
	return names, nil
}

// servicesOnNetwork returns the names of the services attached to the
// network id, sorted.
func servicesOnNetwork(tx store.ReadTx, id string) []string {
	var out []string
	for _, svc := range tx.Services() {
		for _, att := range svc.Spec.Networks {
			if att.Target == id {
				out = append(out, svc.Spec.Name)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// tasksOnNetwork returns the names of the tasks attached to the network
// id that still hold their addresses, sorted.
func tasksOnNetwork(tx store.ReadTx, id string) []string {
	var out []string
	for _, t := range tx.Tasks() {
		if !allocator.HoldsAddresses(t) {
			continue
		}
		for _, att := range t.Networks {
			if att.NetworkID == id {
				out = append(out, t.Name())
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// resolveNetworks replaces the target of each network a service attaches
// to (a name, an ID or a unique ID prefix) by the network's ID. An unknown
// network is an invalid_argument error naming it; so is a network given
// twice under two names.
func resolveNetworks(tx store.ReadTx, atts []types.NetworkAttachmentConfig) error {
	given := map[string]string{}
	for i := range atts {
		ref := atts[i].Target
		if ref == "" {
			continue // Validate says what is wrong
		}
		n, err := resolveNetwork(tx, ref)
		if err != nil {
			if errors.Is(err, errdefs.ErrNotFound) {
				return invalid(fmt.Errorf("network %q not found: create it first, or leave it out", ref))
			}
			return err
		}
		if first, ok := given[n.ID]; ok && first != ref {
			return invalid(fmt.Errorf("network %s is given twice (as %q and %q): attach the service to it once", n.Spec.Name, first, ref))
		}
		given[n.ID] = ref
		atts[i].Target = n.ID
	}
	return nil
}
