package dockerapi

import (
	"maps"

	"github.com/moby/moby/api/types/swarm"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

// nodeToDocker is hive's node as dockerd shows a swarm node. hive keeps no
// engine labels apart from the node's own: Description.Engine.Labels
// repeats Spec.Labels, as /info's Labels does; the engine version is the
// runtime plugin's.
func nodeToDocker(n *types.Node) swarm.Node {
	out := swarm.Node{
		ID:   n.ID,
		Meta: metaToDocker(n.Meta),
		Spec: swarm.NodeSpec{
			Annotations:  swarm.Annotations{Labels: maps.Clone(n.Spec.Labels)},
			Role:         swarm.NodeRole(n.Spec.Role),
			Availability: swarm.NodeAvailability(n.Spec.Availability),
		},
		Description: swarm.NodeDescription{
			Hostname:  n.Description.Hostname,
			Platform:  swarm.Platform{OS: n.Description.Platform.OS, Architecture: n.Description.Platform.Architecture},
			Resources: swarm.Resources{NanoCPUs: n.Description.Resources.NanoCPUs, MemoryBytes: n.Description.Resources.MemoryBytes},
			Engine:    swarm.EngineDescription{EngineVersion: n.Description.Runtime.Version, Labels: maps.Clone(n.Spec.Labels)},
		},
		Status: swarm.NodeStatus{State: nodeStateToDocker(n.Status.State), Message: n.Status.Message, Addr: n.Status.Addr},
	}
	if ms := n.ManagerStatus; ms != nil {
		out.ManagerStatus = &swarm.ManagerStatus{Leader: ms.Leader, Reachability: reachabilityToDocker(ms.Reachability), Addr: ms.Addr}
	}
	return out
}

func nodeStateToDocker(s types.NodeState) swarm.NodeState {
	switch s {
	case types.NodeStateReady:
		return swarm.NodeStateReady
	case types.NodeStateDown:
		return swarm.NodeStateDown
	case types.NodeStateDisconnected:
		return swarm.NodeStateDisconnected
	}
	return swarm.NodeStateUnknown
}

func reachabilityToDocker(r string) swarm.Reachability {
	switch swarm.Reachability(r) {
	case swarm.ReachabilityReachable:
		return swarm.ReachabilityReachable
	case swarm.ReachabilityUnreachable:
		return swarm.ReachabilityUnreachable
	}
	return swarm.ReachabilityUnknown
}

// nodeSpecFromDocker is a Docker node spec as hive's, refusing what hive
// cannot honour: a node name (hive names a node by its hostname) and roles
// or availabilities it does not know.
func nodeSpecFromDocker(spec swarm.NodeSpec) (types.NodeSpec, error) {
	if spec.Name != "" {
		return types.NodeSpec{}, errdefs.Newf(errdefs.ErrInvalidArgument, "hive does not support Spec.Name on nodes (%q): remove it; a hive node is named by its hostname", spec.Name)
	}
	out := types.NodeSpec{Labels: maps.Clone(spec.Labels)}
	switch spec.Role {
	case swarm.NodeRoleManager:
		out.Role = types.RoleManager
	case swarm.NodeRoleWorker:
		out.Role = types.RoleWorker
	default:
		return types.NodeSpec{}, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid Spec.Role %q: use manager or worker", spec.Role)
	}
	switch spec.Availability {
	case swarm.NodeAvailabilityActive:
		out.Availability = types.AvailabilityActive
	case swarm.NodeAvailabilityPause:
		out.Availability = types.AvailabilityPause
	case swarm.NodeAvailabilityDrain:
		out.Availability = types.AvailabilityDrain
	default:
		return types.NodeSpec{}, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid Spec.Availability %q: use active, pause or drain", spec.Availability)
	}
	return out, nil
}
