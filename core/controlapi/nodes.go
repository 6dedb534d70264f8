package controlapi

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

var labelKeyRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._/-]*$`)

// UpdateNode changes what an operator sets on a node: availability,
// labels and role. version is the node's Meta.Version the caller read.
// A change of role that would leave the cluster without a manager, or
// without a majority of reachable managers, is refused.
func (s *Server) UpdateNode(ctx context.Context, ref string, version uint64, spec types.NodeSpec) (*types.Node, error) {
	if err := validateNodeSpec(spec); err != nil {
		return nil, invalid(err)
	}
	var id string
	err := s.update(ctx, func(tx store.Tx) error {
		cur, err := s.resolveNode(tx, ref)
		if err != nil {
			return err
		}
		id = cur.ID
		if cur.Version != version {
			return fmt.Errorf("%w: node %s changed since it was read (version %d, now %d): read it again and retry", errdefs.ErrVersionConflict, nodeName(cur), version, cur.Version)
		}
		if cur.Spec.Role == types.RoleManager && spec.Role == types.RoleWorker {
			if err := checkDemotion(tx.Nodes(), cur); err != nil {
				return err
			}
		}
		n := cur.Copy()
		n.Spec = spec
		n.Spec.Labels = maps.Clone(spec.Labels)
		return tx.UpdateNode(n)
	})
	if err != nil {
		return nil, storeErr(err)
	}
	return s.GetNode(ctx, id)
}

func validateNodeSpec(spec types.NodeSpec) error {
	var errs []error
	switch spec.Role {
	case types.RoleManager, types.RoleWorker:
	default:
		errs = append(errs, fmt.Errorf("invalid role %q: use manager or worker", spec.Role))
	}
	switch spec.Availability {
	case types.AvailabilityActive, types.AvailabilityPause, types.AvailabilityDrain:
	default:
		errs = append(errs, fmt.Errorf("invalid availability %q: use active, pause or drain", spec.Availability))
	}
	for k := range spec.Labels {
		if !labelKeyRE.MatchString(k) {
			errs = append(errs, fmt.Errorf("invalid node label %q: use letters, digits, '.', '_', '/' or '-'", k))
		}
	}
	return errors.Join(errs...)
}

// checkDemotion refuses to demote the last manager, or a manager whose
// demotion would leave fewer reachable managers than a majority of those
// that remain.
func checkDemotion(nodes []*types.Node, victim *types.Node) error {
	managers, reachable := 0, 0
	for _, n := range nodes {
		if n.Spec.Role != types.RoleManager || n.ID == victim.ID {
			continue
		}
		managers++
		if n.Status.State == types.NodeStateReady {
			reachable++
		}
	}
	switch {
	case managers == 0:
		return fmt.Errorf("%w: node %s is the last manager: promote another node first", errdefs.ErrInvalidArgument, nodeName(victim))
	case reachable < managers/2+1:
		return fmt.Errorf("%w: demoting %s would leave %d reachable managers of %d, less than a majority: the cluster would lose quorum; bring managers back first", errdefs.ErrInvalidArgument, nodeName(victim), reachable, managers)
	}
	return nil
}

// RemoveNode deletes a node from the cluster. A manager must be demoted
// first; a node that is still up needs force (its tasks are replaced
// elsewhere and, if it comes back, it is refused).
func (s *Server) RemoveNode(ctx context.Context, ref string, force bool) error {
	err := s.update(ctx, func(tx store.Tx) error {
		n, err := s.resolveNode(tx, ref)
		if err != nil {
			return err
		}
		if n.Spec.Role == types.RoleManager {
			return fmt.Errorf("%w: node %s is a manager: demote it first ('hive node demote %s')", errdefs.ErrInvalidArgument, nodeName(n), nodeName(n))
		}
		if n.Status.State == types.NodeStateReady && !force {
			return fmt.Errorf("%w: node %s is up: stop it or run 'hive leave' on it first, or remove it anyway with --force", errdefs.ErrInvalidArgument, nodeName(n))
		}
		return tx.DeleteNode(n.ID)
	})
	return storeErr(err)
}

func nodeName(n *types.Node) string {
	if n.Description.Hostname != "" {
		return n.Description.Hostname
	}
	return shortID(n.ID)
}
