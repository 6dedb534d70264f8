package controlapi

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/hiveorch/hive/core/allocator"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/orchestrator"
	"github.com/hiveorch/hive/core/orchestrator/update"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// Dynamic published ports come from Swarm's range.
const (
	DynamicPortStart = orchestrator.DynamicPortStart
	DynamicPortEnd   = orchestrator.DynamicPortEnd
)

func invalid(err error) error {
	return fmt.Errorf("%w: %w", errdefs.ErrInvalidArgument, err)
}

// CreateService validates spec, allocates its published ports and its
// virtual IPs on its networks and stores the service. Nothing is stored
// when anything is wrong.
func (s *Server) CreateService(ctx context.Context, spec types.ServiceSpec) (*types.Service, error) {
	spec = spec.Copy()
	if spec.Name == "" {
		spec.Name = generatedName(spec.Task.Container.Image, s.IDs.NewID())
	}
	if err := keepPullSecret(&spec, nil); err != nil {
		return nil, err
	}
	auth, err := s.takeRegistryAuth(&spec)
	if err != nil {
		return nil, err
	}
	if err := s.resolveRefs(ctx, &spec); err != nil {
		return nil, err
	}
	spec.Normalize()
	if err := spec.Validate(); err != nil {
		return nil, invalid(err)
	}
	svc := &types.Service{ID: s.IDs.NewID(), Spec: spec, SpecVersion: 1}
	err = s.update(ctx, func(tx store.Tx) error {
		if other := tx.ServiceByName(spec.Name); other != nil {
			return fmt.Errorf("%w: service name %q is already in use by service %s: choose another name or remove that service", errdefs.ErrConflict, spec.Name, shortID(other.ID))
		}
		if err := checkRefs(tx, spec.Task.Container); err != nil {
			return err
		}
		ports, err := orchestrator.AllocatePorts(tx, svc.ID, spec.Endpoint.Ports, nil)
		if err != nil {
			return err
		}
		vips, err := allocator.AllocateVIPs(tx, svc.ID, spec, nil)
		if err != nil {
			return err
		}
		svc.Endpoint.Ports, svc.Endpoint.VirtualIPs = ports, vips
		if err := s.putPullSecret(tx, svc.ID, &svc.Spec, auth); err != nil {
			return err
		}
		return tx.CreateService(svc)
	})
	if err != nil {
		return nil, storeErr(err)
	}
	s.logger.Info("service created", "service_id", svc.ID, "service", spec.Name)
	return s.GetService(ctx, svc.ID)
}

// UpdateService replaces a service's spec. version must be the Version the
// caller read.
func (s *Server) UpdateService(ctx context.Context, ref string, version uint64, spec types.ServiceSpec) (*types.Service, error) {
	spec = spec.Copy()
	auth, err := s.takeRegistryAuth(&spec)
	if err != nil {
		return nil, err
	}
	if err := s.resolveRefs(ctx, &spec); err != nil {
		return nil, err
	}
	spec.Normalize()
	if err := spec.Validate(); err != nil {
		return nil, invalid(err)
	}
	var id string
	err = s.update(ctx, func(tx store.Tx) error {
		cur, err := s.resolveService(tx, ref)
		if err != nil {
			return err
		}
		id = cur.ID
		if cur.Version != version {
			return fmt.Errorf("%w: service %s changed since it was read (version %d, now %d): read it again and retry", errdefs.ErrVersionConflict, cur.Spec.Name, version, cur.Version)
		}
		if spec.Name != cur.Spec.Name {
			return invalid(fmt.Errorf("renaming a service is not supported (%s -> %s)", cur.Spec.Name, spec.Name))
		}
		if spec.Mode != cur.Spec.Mode {
			return invalid(fmt.Errorf("the mode of service %s cannot change from %s to %s: create a new service", cur.Spec.Name, cur.Spec.Mode, spec.Mode))
		}
		if err := keepPullSecret(&spec, cur); err != nil {
			return err
		}
		if err := s.putPullSecret(tx, cur.ID, &spec, auth); err != nil {
			return err
		}
		if reflect.DeepEqual(spec, cur.Spec) {
			return nil // a new credential (if any) is all that changed
		}
		if err := checkRefs(tx, spec.Task.Container); err != nil {
			return err
		}
		ports, err := orchestrator.AllocatePorts(tx, cur.ID, spec.Endpoint.Ports, cur.Endpoint.Ports)
		if err != nil {
			return err
		}
		vips, err := allocator.AllocateVIPs(tx, cur.ID, spec, cur.Endpoint.VirtualIPs)
		if err != nil {
			return err
		}
		svc := cur.Copy()
		prev := cur.Spec.Copy()
		svc.PreviousSpec = &prev
		svc.Spec = spec
		svc.Endpoint.Ports, svc.Endpoint.VirtualIPs = ports, vips
		svc.SpecVersion++
		if rolls(cur, svc) || cur.UpdateStatus.Active() && !cur.UpdateStatus.Running() {
			// A new rolling update, or a paused one resumed: the update
			// controller takes it from here, counting failures afresh.
			svc.UpdateStatus = &types.UpdateStatus{State: types.UpdateUpdating, StartedAt: s.clock.Now(),
				SpecVersion: svc.SpecVersion, Message: update.MsgUpdating}
		}
		return tx.UpdateService(svc)
	})
	if err != nil {
		return nil, storeErr(err)
	}
	return s.GetService(ctx, id)
}

// resolveRefs fills the IDs and names of the secrets and configs spec
// references, and the IDs of its networks, before the spec is normalized
// (a secret's file defaults to its name) and validated.
func (s *Server) resolveRefs(ctx context.Context, spec *types.ServiceSpec) error {
	c := &spec.Task.Container
	if len(c.Secrets) == 0 && len(c.Configs) == 0 && len(spec.Networks) == 0 {
		return nil
	}
	var err error
	s.view(ctx, func(tx store.ReadTx) {
		if err = resolveRefs(tx, c); err == nil {
			err = resolveNetworks(tx, spec.Networks)
		}
	})
	return err
}

// rolls reports whether a change of cur into next changes what its tasks
// run (the task spec, the ports or the networks), so that its tasks are to
// be replaced. A change of the replicas, the labels, the update policy or
// the network aliases does not.
func rolls(cur, next *types.Service) bool {
	return !next.Spec.Task.Equal(cur.Spec.Task) || !slices.Equal(next.Endpoint.Ports, cur.Endpoint.Ports) ||
		!slices.Equal(next.Spec.NetworkIDs(), cur.Spec.NetworkIDs())
}

// RollbackService puts a service back on its previous spec, which becomes
// the previous spec in turn, and starts a rollback of its tasks (with the
// rollback policy of the spec rolled away from). A service that was never
// updated has no previous spec: that is an invalid_argument error.
func (s *Server) RollbackService(ctx context.Context, ref string) (*types.Service, error) {
	var id string
	err := s.update(ctx, func(tx store.Tx) error {
		cur, err := s.resolveService(tx, ref)
		if err != nil {
			return err
		}
		id = cur.ID
		if cur.PreviousSpec == nil {
			return invalid(fmt.Errorf("service %s has no previous spec to roll back to: it was never updated", cur.Spec.Name))
		}
		prev := cur.PreviousSpec.Copy()
		ports, err := orchestrator.AllocatePorts(tx, cur.ID, prev.Endpoint.Ports, cur.Endpoint.Ports)
		if err != nil {
			return err
		}
		vips, err := allocator.AllocateVIPs(tx, cur.ID, prev, cur.Endpoint.VirtualIPs)
		if err != nil {
			return err
		}
		svc := cur.Copy()
		was := cur.Spec.Copy()
		svc.PreviousSpec = &was
		svc.Spec = prev
		svc.Endpoint.Ports, svc.Endpoint.VirtualIPs = ports, vips
		svc.SpecVersion++
		svc.UpdateStatus = &types.UpdateStatus{State: types.UpdateRollbackStarted, StartedAt: s.clock.Now(),
			SpecVersion: svc.SpecVersion, Message: update.MsgManualRollback}
		return tx.UpdateService(svc)
	})
	if err != nil {
		return nil, storeErr(err)
	}
	s.logger.Info("service rollback started", "service_id", id)
	return s.GetService(ctx, id)
}

// RemoveService deletes a service and marks its tasks for removal in the
// same transaction; the nodes stop them and the task reaper deletes them.
func (s *Server) RemoveService(ctx context.Context, ref string) error {
	var name string
	err := s.update(ctx, func(tx store.Tx) error {
		svc, err := s.resolveService(tx, ref)
		if err != nil {
			return err
		}
		name = svc.Spec.Name
		for _, t := range tx.TasksByService(svc.ID) {
			if t.DesiredState >= types.TaskStateRemove {
				continue
			}
			nt := t.Copy()
			nt.DesiredState = types.TaskStateRemove
			if err := tx.UpdateTask(nt); err != nil {
				return err
			}
		}
		if err := removePullSecrets(tx, svc.ID); err != nil {
			return err
		}
		return tx.DeleteService(svc.ID)
	})
	if err != nil {
		return storeErr(err)
	}
	s.logger.Info("service removed", "service", name)
	return nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// generatedName names a service created without --name after its image,
// as "web-k3x9" for "hive-test/web:v1", the suffix taken from id.
func generatedName(image, id string) string {
	base := image
	if i := strings.LastIndexByte(base, '/'); i >= 0 {
		base = base[i+1:]
	}
	base, _, _ = strings.Cut(base, ":")
	base, _, _ = strings.Cut(base, "@")
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, strings.ToLower(base))
	clean = strings.Trim(clean, "-")
	if clean == "" {
		clean = "service"
	}
	if len(clean) > 50 {
		clean = clean[:50]
	}
	return clean + "-" + id[:4]
}
