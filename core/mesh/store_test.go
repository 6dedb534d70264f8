package mesh

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// TestControllerWithMemoryStore runs the controller against the real store:
// a service published on a port reaches its running tasks, follows them as
// they start and stop, and its port closes when it is removed.
func TestControllerWithMemoryStore(t *testing.T) {
	backend := newNameServer(t, "a")
	_, portStr, _ := net.SplitHostPort(backend.srv.Listener.Addr().String())
	target, _ := strconv.ParseUint(portStr, 10, 32)
	port := freePort(t)

	st := store.NewMemory(clock.Real{})
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	update := func(what string, fn func(store.Tx) error) {
		t.Helper()
		if err := st.Update(ctx, fn); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	update("create service", func(tx store.Tx) error {
		if err := tx.CreateService(svc("s1", "web", ingress(port, uint32(target)))); err != nil {
			return err
		}
		return tx.CreateTask(running("t1", "s1", 1, "127.0.0.1"))
	})

	m := newTestMesh(t)
	startController(t, st, m, time.Hour, clock.Real{})
	backends := func() int {
		for _, s := range m.Status() {
			if s.Port == tcpKey(port) {
				return s.Backends
			}
		}
		return -1
	}
	waitBackends := func(n int) {
		t.Helper()
		eventually(t, 5*time.Second, fmt.Sprintf("%d backends", n), func() bool { return backends() == n })
	}

	waitBackends(1)
	if body, err := get(oneShotClient(), meshURL(port, "/")); err != nil || body != "a" {
		t.Fatalf("request through the mesh = %q, %v; want %q", body, err, "a")
	}

	update("start a second task", func(tx store.Tx) error {
		return tx.CreateTask(running("t2", "s1", 2, "127.0.0.1"))
	})
	waitBackends(2)

	update("stop the first task", func(tx store.Tx) error {
		t1 := tx.Task("t1").Copy()
		t1.DesiredState = types.TaskStateShutdown
		return tx.UpdateTask(t1)
	})
	waitBackends(1)

	update("remove the service", func(tx store.Tx) error { return tx.DeleteService("s1") })
	waitBackends(-1)
	if _, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
		t.Errorf("port %d still listens after its service was removed", port)
	}
}
