package update

import (
	"context"
	"fmt"
	"time"

	"github.com/hiveorch/hive/core/allocator"
	"github.com/hiveorch/hive/core/orchestrator"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// Apply writes a plan: first the status change, if any, then the task
// changes (with orchestrator.Apply's guards). The status change applies
// only if the service still has the SpecVersion and update state the plan
// was computed from; when it does not, nothing is written and the next
// pass decides again. A rollback whose ports or virtual IPs cannot be had
// again pauses the update instead, saying why.
func Apply(ctx context.Context, s *store.Store, now time.Time, p Plan) error {
	if p.Status != nil {
		applied := false
		err := s.Update(ctx, func(tx store.Tx) error {
			applied = false
			cur := tx.Service(p.ServiceID)
			if cur == nil || cur.SpecVersion != p.SpecVersion || state(cur) != p.State {
				return nil
			}
			svc := cur.Copy()
			st := *p.Status
			if p.Rollback {
				rollback(tx, svc, &st)
			}
			svc.UpdateStatus = &st
			applied = true
			return tx.UpdateService(svc)
		})
		if err != nil {
			return fmt.Errorf("update status of service %s: %w", p.ServiceID, err)
		}
		if !applied {
			return nil
		}
	}
	if p.Tasks.Empty() {
		return nil
	}
	return orchestrator.Apply(ctx, s, now, p.Tasks)
}

// rollback puts svc back on its previous spec, which becomes the previous
// one in turn, and makes st the status of a rollback of the new
// SpecVersion; when the previous spec's ports are taken by now, or its
// networks have no virtual IP left, it pauses st instead.
func rollback(tx store.ReadTx, svc *types.Service, st *types.UpdateStatus) {
	if svc.PreviousSpec == nil {
		st.State, st.Message = types.UpdatePaused, st.Message+"; it cannot roll back: the service has no previous spec"
		return
	}
	prev := svc.PreviousSpec.Copy()
	ports, err := orchestrator.AllocatePorts(tx, svc.ID, prev.Endpoint.Ports, svc.Endpoint.Ports)
	if err != nil {
		st.State, st.Message = types.UpdatePaused, fmt.Sprintf("%s; it cannot roll back: %v", st.Message, err)
		return
	}
	vips, err := allocator.AllocateVIPs(tx, svc.ID, prev, svc.Endpoint.VirtualIPs)
	if err != nil {
		st.State, st.Message = types.UpdatePaused, fmt.Sprintf("%s; it cannot roll back: %v", st.Message, err)
		return
	}
	cur := svc.Spec.Copy()
	svc.PreviousSpec = &cur
	svc.Spec = prev
	svc.Endpoint.Ports = ports
	svc.Endpoint.VirtualIPs = vips
	svc.SpecVersion++
	st.SpecVersion = svc.SpecVersion
	st.Failures = nil
}

// state is the service's update state, "" when it has none.
func state(svc *types.Service) types.UpdateState {
	if svc.UpdateStatus == nil {
		return ""
	}
	return svc.UpdateStatus.State
}
