package controlapi

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/identity"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// Dynamic published ports come from Swarm's range.
const (
	DynamicPortStart = 30000
	DynamicPortEnd   = 32767
)

func invalid(err error) error {
	return fmt.Errorf("%w: %w", errdefs.ErrInvalidArgument, err)
}

// CreateService validates spec, allocates its published ports and stores
// the service. Nothing is stored when anything is wrong.
func (s *Server) CreateService(ctx context.Context, spec types.ServiceSpec) (*types.Service, error) {
	spec = spec.Copy()
	if spec.Name == "" {
		spec.Name = generatedName(spec.Task.Container.Image)
	}
	spec.Normalize()
	if err := spec.Validate(); err != nil {
		return nil, invalid(err)
	}
	svc := &types.Service{ID: identity.NewID(), Spec: spec, SpecVersion: 1}
	err := s.update(ctx, func(tx store.Tx) error {
		if other := tx.ServiceByName(spec.Name); other != nil {
			return fmt.Errorf("%w: service name %q is already in use by service %s: choose another name or remove that service", errdefs.ErrConflict, spec.Name, shortID(other.ID))
		}
		ports, err := allocatePorts(tx, svc.ID, spec.Endpoint.Ports, nil)
		if err != nil {
			return err
		}
		svc.Endpoint.Ports = ports
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
	spec.Normalize()
	if err := spec.Validate(); err != nil {
		return nil, invalid(err)
	}
	var id string
	err := s.update(ctx, func(tx store.Tx) error {
		cur, err := s.resolveService(tx, ref)
		if err != nil {
			return err
		}
		id = cur.ID
		if cur.Version != version {
			return fmt.Errorf("%w: service %s changed since it was read (version %d, now %d): read it again and retry", errdefs.ErrConflict, cur.Spec.Name, version, cur.Version)
		}
		if spec.Name != cur.Spec.Name {
			return invalid(fmt.Errorf("renaming a service is not supported (%s -> %s)", cur.Spec.Name, spec.Name))
		}
		if spec.Mode != cur.Spec.Mode {
			return invalid(fmt.Errorf("the mode of service %s cannot change from %s to %s: create a new service", cur.Spec.Name, cur.Spec.Mode, spec.Mode))
		}
		if reflect.DeepEqual(spec, cur.Spec) {
			return nil
		}
		ports, err := allocatePorts(tx, cur.ID, spec.Endpoint.Ports, cur.Endpoint.Ports)
		if err != nil {
			return err
		}
		svc := cur.Copy()
		prev := cur.Spec.Copy()
		svc.PreviousSpec = &prev
		svc.Spec = spec
		svc.Endpoint.Ports = ports
		svc.SpecVersion++
		return tx.UpdateService(svc)
	})
	if err != nil {
		return nil, storeErr(err)
	}
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
		return tx.DeleteService(svc.ID)
	})
	if err != nil {
		return storeErr(err)
	}
	s.logger.Info("service removed", "service", name)
	return nil
}

// allocatePorts checks that the service's ingress ports are free across
// the cluster and picks a port for each one published as 0 (keeping the
// port an earlier version of the service got for the same target).
func allocatePorts(tx store.ReadTx, serviceID string, want, had []types.PortConfig) ([]types.PortConfig, error) {
	used := map[uint32]string{}
	for _, other := range tx.Services() {
		if other.ID == serviceID {
			continue
		}
		for _, p := range other.Endpoint.Ports {
			if p.PublishMode == types.PublishIngress {
				used[p.PublishedPort] = other.Spec.Name
			}
		}
	}
	out := make([]types.PortConfig, len(want))
	copy(out, want)
	for _, p := range out {
		if p.PublishMode == types.PublishIngress && p.PublishedPort != 0 {
			if owner, ok := used[p.PublishedPort]; ok {
				return nil, fmt.Errorf("%w: port %d is already published by service %s: publish another port or remove it there", errdefs.ErrConflict, p.PublishedPort, owner)
			}
			used[p.PublishedPort] = "this service"
		}
	}
	for i := range out {
		p := &out[i]
		if p.PublishMode != types.PublishIngress || p.PublishedPort != 0 {
			continue
		}
		for _, h := range had {
			if h.TargetPort == p.TargetPort && h.Protocol == p.Protocol && h.PublishMode == types.PublishIngress {
				if _, taken := used[h.PublishedPort]; !taken {
					p.PublishedPort = h.PublishedPort
				}
				break
			}
		}
		for port := uint32(DynamicPortStart); p.PublishedPort == 0 && port <= DynamicPortEnd; port++ {
			if _, taken := used[port]; !taken {
				p.PublishedPort = port
			}
		}
		if p.PublishedPort == 0 {
			return nil, errors.Join(errdefs.ErrUnavailable, fmt.Errorf("no free port left in %d-%d for target port %d", DynamicPortStart, DynamicPortEnd, p.TargetPort))
		}
		used[p.PublishedPort] = "this service"
	}
	return out, nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// generatedName names a service created without --name after its image,
// as "web-k3x9" for "hive-test/web:v1".
func generatedName(image string) string {
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
	return clean + "-" + identity.NewID()[:4]
}
