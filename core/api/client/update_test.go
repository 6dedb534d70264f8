package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/testutil"
)

func TestClientRollbackService(t *testing.T) {
	c := start(t, backend(t))
	ctx := context.Background()
	svc, err := c.CreateService(ctx, spec("web", 2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RollbackService(ctx, "web"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("rollback of a service never updated = %v, want invalid argument", err)
	}
	next := svc.Spec.Copy()
	next.Task.Container.Image = "nginx:2"
	if _, err := c.UpdateService(ctx, "web", svc.Version, next); err != nil {
		t.Fatal(err)
	}
	back, err := c.RollbackService(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if back.Spec.Task.Container.Image != "nginx:alpine" || back.PreviousSpec.Task.Container.Image != "nginx:2" ||
		back.UpdateStatus == nil || back.UpdateStatus.State != types.UpdateRollbackStarted {
		t.Errorf("after the rollback: %+v", back)
	}
	testutil.Eventually(t, 10*time.Second, "the rollback completes", func() bool {
		s, err := c.GetService(ctx, "web")
		return err == nil && s.UpdateStatus != nil && s.UpdateStatus.State == types.UpdateRollbackCompleted
	})
	if _, err := c.RollbackService(ctx, ""); err == nil {
		t.Errorf("an empty name was sent")
	}
}
