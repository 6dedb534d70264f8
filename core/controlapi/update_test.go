package controlapi

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

func TestUpdateServiceStartsAnUpdateOnlyWhenTasksChange(t *testing.T) {
	s, _ := newServer(t)
	ctx := context.Background()
	svc, err := s.CreateService(ctx, spec("web", types.PortConfig{TargetPort: 80, PublishedPort: 8080}))
	if err != nil {
		t.Fatal(err)
	}
	if svc.UpdateStatus != nil || svc.Spec.Update == nil || svc.Spec.Rollback == nil {
		t.Fatalf("a new service: status %+v, policies %+v %+v; want no status and the default policies", svc.UpdateStatus, svc.Spec.Update, svc.Spec.Rollback)
	}
	tests := []struct {
		name   string
		change func(*types.ServiceSpec)
		want   types.UpdateState // "" for no update started
	}{
		{"replicas", func(x *types.ServiceSpec) { x.Replicas = 3 }, ""},
		{"labels", func(x *types.ServiceSpec) { x.Labels = map[string]string{"a": "b"} }, ""},
		{"update policy", func(x *types.ServiceSpec) { x.Update.Parallelism = 4 }, ""},
		{"image", func(x *types.ServiceSpec) { x.Task.Container.Image = "hive-test/web:v2" }, types.UpdateUpdating},
		{"force", func(x *types.ServiceSpec) { x.Task.ForceUpdate++ }, types.UpdateUpdating},
		{"ports", func(x *types.ServiceSpec) { x.Endpoint.Ports[0].PublishedPort = 8081 }, types.UpdateUpdating},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Start from a completed update, so that a change that rolls
			// nothing is seen to leave the status alone.
			setStatus(t, s, &types.UpdateStatus{State: types.UpdateCompleted})
			cur, _ := s.GetService(ctx, "web")
			next := cur.Spec.Copy()
			tt.change(&next)
			up, err := s.UpdateService(ctx, "web", cur.Version, next)
			if err != nil {
				t.Fatal(err)
			}
			got := up.UpdateStatus.State
			if tt.want == "" {
				if got != types.UpdateCompleted {
					t.Errorf("status %s after a change of the %s, want it left alone", got, tt.name)
				}
				return
			}
			if got != tt.want || up.UpdateStatus.SpecVersion != up.SpecVersion || up.UpdateStatus.Message != "update in progress" {
				t.Errorf("status %+v (spec version %d), want a new update", up.UpdateStatus, up.SpecVersion)
			}
		})
	}
}

func setStatus(t *testing.T, s *Server, st *types.UpdateStatus) {
	t.Helper()
	err := s.store.Update(context.Background(), func(tx store.Tx) error {
		v := tx.ServiceByName("web").Copy()
		v.UpdateStatus = st
		return tx.UpdateService(v)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAnyChangeResumesAPausedUpdate(t *testing.T) {
	s, _ := newServer(t)
	ctx := context.Background()
	if _, err := s.CreateService(ctx, spec("web")); err != nil {
		t.Fatal(err)
	}
	for _, state := range []types.UpdateState{types.UpdatePaused, types.UpdateRollbackPaused} {
		setStatus(t, s, &types.UpdateStatus{State: state, SpecVersion: 1, Failures: []string{"t1"}})
		cur, _ := s.GetService(ctx, "web")
		next := cur.Spec.Copy()
		next.Replicas++
		up, err := s.UpdateService(ctx, "web", cur.Version, next)
		if err != nil {
			t.Fatal(err)
		}
		if st := up.UpdateStatus; st.State != types.UpdateUpdating || len(st.Failures) != 0 || st.SpecVersion != up.SpecVersion {
			t.Errorf("after a scale of a %s update: status %+v, want it resumed with its failures forgotten", state, st)
		}
	}
	// No change at all changes nothing, paused or not.
	setStatus(t, s, &types.UpdateStatus{State: types.UpdatePaused})
	cur, _ := s.GetService(ctx, "web")
	up, err := s.UpdateService(ctx, "web", cur.Version, cur.Spec)
	if err != nil || up.UpdateStatus.State != types.UpdatePaused || up.Version != cur.Version {
		t.Errorf("a no-op update: %v, status %+v, version %d -> %d", err, up.UpdateStatus, cur.Version, up.Version)
	}
}

func TestRollbackServiceSwapsTheSpecs(t *testing.T) {
	s, _ := newServer(t)
	ctx := context.Background()
	svc, err := s.CreateService(ctx, spec("web", types.PortConfig{TargetPort: 80}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RollbackService(ctx, "web"); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "no previous spec to roll back to") {
		t.Fatalf("rollback of a service never updated: %v", err)
	}
	next := svc.Spec.Copy()
	next.Task.Container.Image = "hive-test/web:v2"
	next.Endpoint.Ports = nil
	up, err := s.UpdateService(ctx, "web", svc.Version, next)
	if err != nil {
		t.Fatal(err)
	}
	back, err := s.RollbackService(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if back.Spec.Task.Container.Image != "hive-test/web:v1" || back.PreviousSpec.Task.Container.Image != "hive-test/web:v2" || back.SpecVersion != up.SpecVersion+1 {
		t.Errorf("after the rollback: image %s, previous %s, version %d", back.Spec.Task.Container.Image, back.PreviousSpec.Task.Container.Image, back.SpecVersion)
	}
	if st := back.UpdateStatus; st.State != types.UpdateRollbackStarted || st.Message != "manually requested rollback" || st.SpecVersion != back.SpecVersion {
		t.Errorf("status %+v, want a manual rollback of the new version", st)
	}
	if len(back.Endpoint.Ports) != 1 || back.Endpoint.Ports[0].PublishedPort != DynamicPortStart {
		t.Errorf("ports after the rollback %+v, want the dynamic port allocated again", back.Endpoint.Ports)
	}
	if _, err := s.RollbackService(ctx, "nope"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("rollback of a missing service: %v", err)
	}
}
