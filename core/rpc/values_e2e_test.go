package rpc

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc"

	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/dispatcher"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/session"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/testutil"
)

type mapOpener map[string]string

func (m mapOpener) Secret(_ context.Context, id string) (types.SecretValue, uint64, error) {
	v, ok := m[id]
	if !ok {
		return types.SecretValue{}, 0, fmt.Errorf("secret %s: %w", id, errdefs.ErrNotFound)
	}
	return types.NewSecretValue([]byte(v)), 1, nil
}

// TestValuesTravelTheSession proves a secret's and a config's values
// reach the node over the mutual-TLS session, as the whole set the agent
// needs in each assignment, and leave it when no task needs them.
func TestValuesTravelTheSession(t *testing.T) {
	p := newPKI(t)
	st := store.NewMemory(clock.Real{})
	t.Cleanup(func() { _ = st.Close() })
	d := dispatcher.New(st, clock.Real{}, testutil.Logger(t))
	d.Values = dispatcher.StoreSource{Store: st, Secrets: mapOpener{"sec1": "s3cret"}}
	n := p.serve(t, "m1", func(srv *grpc.Server) { RegisterDispatcher(srv, d) })
	c := NewSessionClient(SessionConfig{Managers: []string{n.addr}, TLS: p.clientTLS("w1", ca.OUWorker), Logger: testutil.Logger(t)})
	t.Cleanup(func() { _ = c.Close() })
	ctx := testCtx(t)
	sets := register(t, c)
	task := &types.Task{ID: "t1", ServiceID: "s1", ServiceName: "web", Slot: 1, NodeID: "w1",
		DesiredState: types.TaskStateRunning, Status: types.TaskStatus{State: types.TaskStateAssigned}}
	task.Spec.Container.Secrets = []types.SecretReference{{SecretID: "sec1", SecretName: "db"}}
	task.Spec.Container.Configs = []types.ConfigReference{{ConfigID: "cfg1", ConfigName: "app"}}
	err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateSecret(&types.Secret{ID: "sec1", Spec: types.SecretSpec{Name: "db"}, ValueVersion: 1}); err != nil {
			return err
		}
		if err := tx.CreateConfig(&types.Config{ID: "cfg1", Spec: types.ConfigSpec{Name: "app"}, ValueVersion: 1, Data: []byte("k=v")}); err != nil {
			return err
		}
		return tx.CreateTask(task)
	})
	if err != nil {
		t.Fatal(err)
	}
	await := func(what string, ok func(*session.Assignment) bool) {
		t.Helper()
		for a := range sets {
			if ok(a) {
				return
			}
		}
		t.Fatalf("the session ended before %s", what)
	}
	await("the values arrived", func(a *session.Assignment) bool {
		s, c := a.Secrets["sec1"], a.Configs["cfg1"]
		return len(a.Tasks) == 1 && string(s.Value.Reveal()) == "s3cret" && s.ValueVersion == 1 && string(c.Data) == "k=v"
	})
	err = st.Update(ctx, func(tx store.Tx) error {
		t1 := tx.Task("t1").Copy()
		t1.Status.State = types.TaskStateComplete
		return tx.UpdateTask(t1)
	})
	if err != nil {
		t.Fatal(err)
	}
	await("the values were dropped", func(a *session.Assignment) bool {
		return len(a.Tasks) == 1 && len(a.Secrets) == 0 && len(a.Configs) == 0
	})
}
