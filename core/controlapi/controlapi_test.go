package controlapi

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

func newServer(t *testing.T) (*Server, *store.Store) {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	st := store.NewMemory(clk)
	t.Cleanup(func() { st.Close() })
	return New(st, clk, "self-node", nil, nil, slog.New(slog.DiscardHandler)), st
}

func spec(name string, ports ...types.PortConfig) types.ServiceSpec {
	return types.ServiceSpec{Name: name, Replicas: 1, Task: types.TaskSpec{Container: types.ContainerSpec{Image: "hive-test/web:v1"}},
		Endpoint: types.EndpointSpec{Ports: ports}}
}

func TestCreateServiceValidatesAndStoresNothingOnError(t *testing.T) {
	s, _ := newServer(t)
	ctx := context.Background()
	bad := spec("web")
	bad.Task.Container.Image = "Bad Image"
	if _, err := s.CreateService(ctx, bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("invalid spec: %v, want invalid argument", err)
	}
	if got, _ := s.ListServices(ctx); len(got) != 0 {
		t.Fatalf("%d services stored after a refused create", len(got))
	}
	svc, err := s.CreateService(ctx, spec("web"))
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.Mode != types.ModeReplicated || svc.Spec.Task.RestartPolicy.Condition != types.RestartAny || svc.SpecVersion != 1 {
		t.Fatalf("defaults not filled: %+v", svc.Spec)
	}
	if _, err := s.CreateService(ctx, spec("web")); !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("duplicate name: %v", err)
	}
}

func TestPublishedPortsAreUniqueAndDynamicOnesAllocated(t *testing.T) {
	s, _ := newServer(t)
	ctx := context.Background()
	p := func(target, published uint32) types.PortConfig {
		return types.PortConfig{TargetPort: target, PublishedPort: published}
	}
	if _, err := s.CreateService(ctx, spec("a", p(80, 8080))); err != nil {
		t.Fatal(err)
	}
	_, err := s.CreateService(ctx, spec("b", p(80, 8080)))
	if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "already published by service a") {
		t.Fatalf("port conflict: %v", err)
	}
	c, err := s.CreateService(ctx, spec("c", p(80, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Endpoint.Ports[0].PublishedPort; got != DynamicPortStart {
		t.Fatalf("dynamic port %d, want %d", got, DynamicPortStart)
	}
	// An update keeps the dynamic port the service already had.
	c2, err := s.UpdateService(ctx, "c", c.Version, func() types.ServiceSpec { x := c.Spec.Copy(); x.Replicas = 3; return x }())
	if err != nil {
		t.Fatal(err)
	}
	if c2.Endpoint.Ports[0].PublishedPort != DynamicPortStart {
		t.Fatalf("update moved the dynamic port to %d", c2.Endpoint.Ports[0].PublishedPort)
	}
}

func TestUpdateServiceChecksTheVersionNameAndMode(t *testing.T) {
	s, _ := newServer(t)
	ctx := context.Background()
	svc, err := s.CreateService(ctx, spec("web"))
	if err != nil {
		t.Fatal(err)
	}
	next := svc.Spec.Copy()
	next.Replicas = 2
	if _, err := s.UpdateService(ctx, "web", svc.Version+1, next); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("stale version: %v", err)
	}
	renamed := next.Copy()
	renamed.Name = "other"
	if _, err := s.UpdateService(ctx, "web", svc.Version, renamed); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("rename: %v", err)
	}
	global := next.Copy()
	global.Mode, global.Replicas = types.ModeGlobal, 0
	if _, err := s.UpdateService(ctx, "web", svc.Version, global); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("mode change: %v", err)
	}
	up, err := s.UpdateService(ctx, "web", svc.Version, next)
	if err != nil {
		t.Fatal(err)
	}
	if up.Spec.Replicas != 2 || up.PreviousSpec == nil || up.PreviousSpec.Replicas != 1 {
		t.Fatalf("after update: replicas %d previous %+v", up.Spec.Replicas, up.PreviousSpec)
	}
}

func TestRemoveServiceMarksItsTasksForRemoval(t *testing.T) {
	s, st := newServer(t)
	ctx := context.Background()
	svc, err := s.CreateService(ctx, spec("web"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Update(ctx, func(tx store.Tx) error {
		return tx.CreateTask(&types.Task{ID: "t1", ServiceID: svc.ID, ServiceName: "web", Slot: 1, DesiredState: types.TaskStateRunning})
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveService(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	st.View(func(tx store.ReadTx) {
		if tx.Service(svc.ID) != nil {
			t.Error("service still stored")
		}
		if got := tx.Task("t1").DesiredState; got != types.TaskStateRemove {
			t.Errorf("task desired %v, want remove", got)
		}
	})
	if err := s.RemoveService(ctx, "web"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("second remove: %v", err)
	}
}

func TestReferencesResolveByNameIDAndUniquePrefix(t *testing.T) {
	s, st := newServer(t)
	ctx := context.Background()
	if err := st.Update(ctx, func(tx store.Tx) error {
		for _, id := range []string{"abc111", "abc222"} {
			if err := tx.CreateService(&types.Service{ID: id, Spec: spec("svc-" + id)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]string{"abc111": "abc111", "svc-abc222": "abc222", "abc1": "abc111"} {
		got, err := s.GetService(ctx, ref)
		if err != nil || got.ID != want {
			t.Errorf("GetService(%q) = %v, %v; want %s", ref, got, err, want)
		}
	}
	if _, err := s.GetService(ctx, "abc"); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "ambiguous") {
		t.Fatalf("ambiguous prefix: %v", err)
	}
	if _, err := s.ListTasks(ctx, api.TaskFilter{DesiredState: "sleeping"}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("bad filter: %v", err)
	}
}
