package controlapi

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/testutil"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// followedLogs is a LogSource whose every task writes one line, then
// follows until its context ends; it records the Tail each was asked for.
type followedLogs struct {
	mu    sync.Mutex
	tails map[string]int
}

func (f *followedLogs) TaskLogs(ctx context.Context, t *types.Task, opts runtime.LogOptions, sink func(runtime.LogEntry) error) error {
	f.mu.Lock()
	f.tails[t.ID] = opts.Tail
	f.mu.Unlock()
	if err := sink(runtime.LogEntry{Stream: "stdout", Line: []byte("hello from " + t.ID)}); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

func (f *followedLogs) tail(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tails[id]
}

// TestFollowedLogsAttachNewTasksAndEndWithTheService proves a followed
// service's logs include a task that starts later, with all of its output,
// and end when the service is deleted.
func TestFollowedLogsAttachNewTasksAndEndWithTheService(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	st := store.NewMemory(clk)
	t.Cleanup(func() { st.Close() })
	logs := &followedLogs{tails: map[string]int{}}
	s := New(st, clk, "self-node", nil, logs, testutil.Logger(t))
	ctx := context.Background()
	withContainer := func(id string, slot uint64) *types.Task {
		return &types.Task{ID: id, ServiceID: "s1", ServiceName: "web", Slot: slot, NodeID: "self-node",
			DesiredState: types.TaskStateRunning, Status: types.TaskStatus{State: types.TaskStateRunning, ContainerID: "c-" + id}}
	}
	update := func(fn func(store.Tx) error) {
		t.Helper()
		if err := st.Update(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	update(func(tx store.Tx) error {
		if err := tx.CreateService(&types.Service{ID: "s1", Spec: spec("web")}); err != nil {
			return err
		}
		return tx.CreateTask(withContainer("t1", 1))
	})

	lines := make(chan api.LogLine, 10)
	done := make(chan error, 1)
	go func() {
		done <- s.ServiceLogs(ctx, "web", api.LogOptions{Follow: true, Tail: 5}, func(l api.LogLine) error {
			lines <- l
			return nil
		})
	}()
	line := func(want string) {
		t.Helper()
		select {
		case l := <-lines:
			if l.Line != want {
				t.Fatalf("line %q, want %q", l.Line, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no line %q", want)
		}
	}
	line("hello from t1")
	if got := logs.tail("t1"); got != 5 {
		t.Errorf("the first task was followed with tail %d, want 5", got)
	}

	update(func(tx store.Tx) error { return tx.CreateTask(withContainer("t2", 2)) })
	line("hello from t2")
	if got := logs.tail("t2"); got != -1 {
		t.Errorf("a task that started while following was followed with tail %d, want -1 (all)", got)
	}

	update(func(tx store.Tx) error { return tx.DeleteService("s1") })
	testutil.Returns(t, done, 5*time.Second, "the follow, after the service was deleted,")
}
