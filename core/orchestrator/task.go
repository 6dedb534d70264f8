package orchestrator

import (
	"slices"
	"time"

	"github.com/hiveorch/hive/core/types"
)

// NewTask returns a new task of svc for a slot (replicated) or a node
// (global, slot 0), desired running, in state new. It is attached to the
// service's networks without an address: core/allocator gives it one on
// each before the scheduler places it.
func NewTask(id string, svc *types.Service, slot uint64, nodeID string, now time.Time) *types.Task {
	var networks []types.NetworkAttachment
	for _, n := range svc.Spec.Networks {
		networks = append(networks, types.NetworkAttachment{NetworkID: n.Target})
	}
	return &types.Task{
		ID:           id,
		ServiceID:    svc.ID,
		ServiceName:  svc.Spec.Name,
		Slot:         slot,
		NodeID:       nodeID,
		Spec:         svc.Spec.Task.Copy(),
		SpecVersion:  svc.SpecVersion,
		Ports:        slices.Clone(svc.Endpoint.Ports),
		Networks:     networks,
		DesiredState: types.TaskStateRunning,
		Status:       types.TaskStatus{State: types.TaskStateNew, Timestamp: now, Message: "created"},
	}
}

// Newest orders tasks from the most recently created.
func Newest(a, b *types.Task) int {
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	if a.ID < b.ID {
		return 1
	}
	if a.ID > b.ID {
		return -1
	}
	return 0
}

// PickKeeper chooses, among tasks occupying one slot, the one to keep: a
// running one first, then the one furthest along, then the newest. The
// others should be shut down.
func PickKeeper(occupying []*types.Task) (keep *types.Task, extra []*types.Task) {
	sorted := slices.Clone(occupying)
	slices.SortFunc(sorted, func(a, b *types.Task) int {
		ar, br := a.Status.State == types.TaskStateRunning, b.Status.State == types.TaskStateRunning
		if ar != br {
			if ar {
				return -1
			}
			return 1
		}
		if a.Status.State != b.Status.State && !a.Status.State.Terminal() && !b.Status.State.Terminal() {
			return int(b.Status.State) - int(a.Status.State)
		}
		return Newest(a, b)
	})
	return sorted[0], sorted[1:]
}

// Earliest returns the earlier of two wake times, ignoring zero ones.
func Earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}

// UpToDate reports whether t runs svc's current task spec and ports, on
// its current networks: a task that is not is replaced by a rolling
// update. A change of the service that leaves those alone (replicas,
// labels, the update policy, network aliases) leaves its tasks up to
// date.
func UpToDate(svc *types.Service, t *types.Task) bool {
	if t.SpecVersion == svc.SpecVersion {
		return true
	}
	return t.Spec.Equal(svc.Spec.Task) && samePorts(t.Ports, svc.Endpoint.Ports) &&
		slices.Equal(t.NetworkIDs(), svc.Spec.NetworkIDs())
}

func samePorts(a, b []types.PortConfig) bool {
	return len(a) == len(b) && (len(a) == 0 || slices.Equal(a, b))
}
