package orchestrator

import (
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/scheduler"
)

// SchedulerNode describes a node the way placement constraints and the
// scheduler plugin see it.
func SchedulerNode(n *types.Node) scheduler.Node {
	return scheduler.Node{
		ID:           n.ID,
		Hostname:     n.Description.Hostname,
		Role:         string(n.Spec.Role),
		Labels:       n.Spec.Labels,
		Availability: string(n.Spec.Availability),
		Ready:        n.Status.State == types.NodeStateReady,
		Platform:     scheduler.Platform{OS: n.Description.Platform.OS, Architecture: n.Description.Platform.Architecture},
		Resources: scheduler.Resources{
			NanoCPUs:    n.Description.Resources.NanoCPUs,
			MemoryBytes: n.Description.Resources.MemoryBytes,
		},
	}
}

// NodeMatches reports whether n meets every constraint.
func NodeMatches(constraints []scheduler.Constraint, n *types.Node) bool {
	if len(constraints) == 0 {
		return true
	}
	sn := SchedulerNode(n)
	for _, c := range constraints {
		if !c.Match(&sn) {
			return false
		}
	}
	return true
}
