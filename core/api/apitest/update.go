package apitest

import (
	"context"
	"fmt"
	"slices"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

// RollbackService swaps a service's spec with its previous one, as the
// daemon does, and starts a rollback (completed at once with AutoRun).
func (b *Backend) RollbackService(ctx context.Context, ref string) (*types.Service, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("RollbackService"); err != nil {
		return nil, err
	}
	s, err := b.findService(ref)
	if err != nil {
		return nil, err
	}
	if s.PreviousSpec == nil {
		return nil, fmt.Errorf("%w: service %s has no previous spec to roll back to: it was never updated", errdefs.ErrInvalidArgument, s.Spec.Name)
	}
	was := s.Spec.Copy()
	s.Spec = s.PreviousSpec.Copy()
	s.PreviousSpec = &was
	b.version++
	s.Version = b.version
	s.UpdatedAt = b.now()
	s.SpecVersion++
	b.beginUpdate(s, &was, true)
	b.autoRun(s)
	return s.Copy(), nil
}

// SetUpdateStatus sets a service's update status, as the daemon's update
// controller would (a test pauses an update with it).
func (b *Backend) SetUpdateStatus(ref string, st *types.UpdateStatus) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.findService(ref)
	if err != nil {
		return err
	}
	if st != nil {
		c := *st
		st = &c
	}
	s.UpdateStatus = st
	b.version++
	s.Version = b.version
	return nil
}

// beginUpdate gives a service changed from prev the update status the
// daemon would: a rollback, or an update when the task spec or the ports
// changed or a paused update resumes. With AutoRun the update is done at
// once: the tasks of an older spec are shut down (autoRun then fills their
// slots) and the status is completed.
func (b *Backend) beginUpdate(s *types.Service, prev *types.ServiceSpec, rollback bool) {
	resumes := s.UpdateStatus.Active() && !s.UpdateStatus.Running()
	if !rollback && !resumes && prev.Task.Equal(s.Spec.Task) && slices.Equal(prev.Endpoint.Ports, s.Spec.Endpoint.Ports) {
		return
	}
	st := &types.UpdateStatus{State: types.UpdateUpdating, StartedAt: b.now(), SpecVersion: s.SpecVersion, Message: "update in progress"}
	if rollback {
		st.State, st.Message = types.UpdateRollbackStarted, "manually requested rollback"
	}
	if b.AutoRun && s.Spec.Mode != types.ModeGlobal {
		for _, t := range b.tasks {
			if t.ServiceID == s.ID && t.DesiredState == types.TaskStateRunning && !t.Spec.Equal(s.Spec.Task) {
				t.DesiredState = types.TaskStateShutdown
				t.Status.State = types.TaskStateShutdown
			}
		}
		st.State, st.CompletedAt, st.Message = types.UpdateCompleted, b.now(), "update completed"
		if rollback {
			st.State, st.Message = types.UpdateRollbackCompleted, "rollback completed"
		}
	}
	s.UpdateStatus = st
}

// TasksOf returns copies of a service's tasks, in no particular order.
func (b *Backend) TasksOf(ref string) []*types.Task {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.findService(ref)
	if err != nil {
		return nil
	}
	var out []*types.Task
	for _, t := range b.tasks {
		if t.ServiceID == s.ID {
			out = append(out, t.Copy())
		}
	}
	return out
}
