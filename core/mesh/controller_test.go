package mesh

import (
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

const testResync = time.Hour

// controllerFixture is a service "web" publishing port on a backend that
// every task's address leads to, a fake store holding it, a real mesh and a
// running controller on a fake clock.
type controllerFixture struct {
	src     *fakeSource
	mesh    *Mesh
	clk     *clock.Fake
	port    uint32
	service *types.Service
	target  uint32
}

func newControllerFixture(t *testing.T, tasks int) *controllerFixture {
	t.Helper()
	backend := newNameServer(t, "a")
	_, portStr, _ := net.SplitHostPort(backend.srv.Listener.Addr().String())
	target, _ := strconv.ParseUint(portStr, 10, 32)
	f := &controllerFixture{
		src:    &fakeSource{},
		mesh:   newTestMesh(t),
		clk:    clock.NewFake(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)),
		port:   freePort(t),
		target: uint32(target),
	}
	f.service = svc("s1", "web", ingress(f.port, f.target))
	var ts []*types.Task
	for i := range tasks {
		ts = append(ts, f.task(i+1))
	}
	f.src.set([]*types.Service{f.service}, ts)
	startController(t, f.src, f.mesh, testResync, f.clk)
	f.waitBackends(t, tasks)
	return f
}

// task returns a running task of web in slot.
func (f *controllerFixture) task(slot int) *types.Task {
	return running(fmt.Sprintf("t%d", slot), f.service.ID, uint64(slot), "127.0.0.1")
}

// backends is how many backends the mesh has for the port, or -1 when the
// port is not served.
func (f *controllerFixture) backends() int {
	for _, st := range f.mesh.Status() {
		if st.Port == tcpKey(f.port) {
			return st.Backends
		}
	}
	return -1
}

func (f *controllerFixture) waitBackends(t *testing.T, n int) {
	t.Helper()
	eventually(t, 5*time.Second, fmt.Sprintf("%d backends on port %d", n, f.port), func() bool { return f.backends() == n })
}

// waitTimer waits until the controller has a deferred Apply pending: the
// resync ticker plus one timer.
func (f *controllerFixture) waitTimer(t *testing.T) {
	t.Helper()
	eventually(t, 5*time.Second, "the controller to defer an apply", func() bool { return f.clk.Waiters() == 2 })
}

func TestControllerAppliesInitialState(t *testing.T) {
	f := newControllerFixture(t, 2)
	if body, err := get(oneShotClient(), meshURL(f.port, "/")); err != nil || body != "a" {
		t.Errorf("request through the routes the controller applied = %q, %v; want %q", body, err, "a")
	}
	if st := f.mesh.Status(); len(st) != 1 || st[0].ServiceName != "web" || st[0].Err != "" {
		t.Errorf("Status() = %+v, want web listening on %d", st, f.port)
	}
}

func TestControllerFollowsEvents(t *testing.T) {
	f := newControllerFixture(t, 1)

	t.Run("an event after a quiet period applies at once", func(t *testing.T) {
		f.clk.Advance(time.Second)
		f.src.send(t, store.Event{Action: store.ActionCreate, Task: f.task(2)})
		f.waitBackends(t, 2)
	})

	t.Run("a task being stopped is dropped, after the apply interval", func(t *testing.T) {
		stopping := f.task(1)
		stopping.DesiredState = types.TaskStateShutdown
		f.src.send(t, store.Event{Action: store.ActionUpdate, Task: stopping, OldTask: f.task(1)})
		f.waitTimer(t)
		if n := f.backends(); n != 2 {
			t.Fatalf("backends = %d before the apply interval passed, want 2", n)
		}
		f.clk.Advance(ApplyInterval)
		f.waitBackends(t, 1)
	})

	t.Run("a burst is applied once", func(t *testing.T) {
		for slot := 3; slot <= 7; slot++ {
			f.src.send(t, store.Event{Action: store.ActionCreate, Task: f.task(slot)})
		}
		f.waitTimer(t)
		eventually(t, 5*time.Second, "the burst to be read", func() bool { return f.src.pending() == 0 })
		if n := f.backends(); n != 1 {
			t.Fatalf("backends = %d during the burst, want 1 until the apply interval passes", n)
		}
		f.clk.Advance(ApplyInterval)
		f.waitBackends(t, 6)
	})

	t.Run("irrelevant task events are filtered out", func(t *testing.T) {
		pending := task("t9", f.service.ID, 9, types.TaskStateRunning, types.TaskStatePending)
		f.src.send(t, store.Event{Action: store.ActionCreate, Task: pending})
		if n := f.src.pending(); n != 0 {
			t.Errorf("a pending task's creation reached the controller (%d queued)", n)
		}
	})

	t.Run("a deleted service closes its port", func(t *testing.T) {
		f.clk.Advance(time.Second)
		f.src.send(t, store.Event{Action: store.ActionDelete, Service: f.service})
		f.waitBackends(t, -1)
		if _, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", f.port)); err == nil {
			t.Errorf("port %d still listens after its service was deleted", f.port)
		}
	})
}

func TestControllerResyncsWithoutEvents(t *testing.T) {
	f := newControllerFixture(t, 1)
	// The state changes but the event is lost: the resync repairs it.
	f.src.set([]*types.Service{f.service}, []*types.Task{f.task(1), f.task(2), f.task(3)})
	f.clk.Advance(testResync)
	f.waitBackends(t, 3)
	if n := f.src.subscriptions(); n != 2 {
		t.Errorf("subscriptions = %d after one resync, want 2", n)
	}
}

func TestControllerResubscribes(t *testing.T) {
	f := newControllerFixture(t, 1)
	waitSubs := func(t *testing.T, n int) {
		t.Helper()
		eventually(t, 5*time.Second, fmt.Sprintf("subscription %d", n), func() bool { return f.src.subscriptions() == n })
	}

	t.Run("on reset", func(t *testing.T) {
		f.src.set([]*types.Service{f.service}, []*types.Task{f.task(1), f.task(2)})
		f.src.send(t, store.Event{Action: store.ActionReset})
		waitSubs(t, 2)
		f.waitBackends(t, 2)
	})

	t.Run("at once when the stream closes after delivering", func(t *testing.T) {
		f.clk.Advance(time.Second)
		f.src.send(t, store.Event{Action: store.ActionCreate, Task: f.task(3)})
		f.waitBackends(t, 3)
		f.src.set([]*types.Service{f.service}, []*types.Task{f.task(1), f.task(2), f.task(3), f.task(4)})
		f.src.closeStream()
		waitSubs(t, 3)
		f.waitBackends(t, 4)
	})

	t.Run("after a delay when the stream closes at once", func(t *testing.T) {
		f.src.closeStream()
		f.waitTimer(t)
		if n := f.src.subscriptions(); n != 3 {
			t.Fatalf("subscriptions = %d before the retry delay, want 3", n)
		}
		f.clk.Advance(minResubscribeDelay)
		waitSubs(t, 4)
	})
}

func TestControllerFillsAndFollowsNodeAddresses(t *testing.T) {
	f := &controllerFixture{
		src:  &fakeSource{},
		mesh: newTestMesh(t),
		clk:  clock.NewFake(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)),
		port: freePort(t),
	}
	f.service = svc("s1", "web", ingress(f.port, 80))
	f.src.set([]*types.Service{f.service}, []*types.Task{f.task(1)})
	f.src.setNodes(nodeAt("node-1", "10.0.0.1:4242"))
	startController(t, f.src, f.mesh, testResync, f.clk)
	nodeAddr := func() string {
		f.mesh.mu.Lock()
		defer f.mesh.mu.Unlock()
		if p := f.mesh.ports[tcpKey(f.port)]; p != nil {
			if r := p.route.Load(); r != nil && len(r.Backends) == 1 {
				return r.Backends[0].NodeAddr
			}
		}
		return ""
	}
	eventually(t, 5*time.Second, "the backend to carry its node's address", func() bool { return nodeAddr() == "10.0.0.1:4242" })

	f.clk.Advance(time.Second)
	f.src.send(t, store.Event{Action: store.ActionUpdate, Node: nodeAt("node-1", "10.0.0.9:4242"), OldNode: nodeAt("node-1", "10.0.0.1:4242")})
	eventually(t, 5*time.Second, "the backend to follow its node's new address", func() bool { return nodeAddr() == "10.0.0.9:4242" })
}

func TestRelevantEvents(t *testing.T) {
	up := running("a", "s1", 1, "10.0.0.1")
	pending := task("a", "s1", 1, types.TaskStateRunning, types.TaskStatePending)
	stopping := task("a", "s1", 1, types.TaskStateShutdown, types.TaskStateRunning, "10.0.0.1")
	tests := []struct {
		name string
		ev   store.Event
		want bool
	}{
		{"reset", store.Event{Action: store.ActionReset}, true},
		{"service update", store.Event{Action: store.ActionUpdate, Service: svc("s1", "web")}, true},
		{"running task created", store.Event{Action: store.ActionCreate, Task: up}, true},
		{"pending task created", store.Event{Action: store.ActionCreate, Task: pending}, false},
		{"pending to assigned", store.Event{Action: store.ActionUpdate, Task: pending, OldTask: pending}, false},
		{"task starts running", store.Event{Action: store.ActionUpdate, Task: up, OldTask: pending}, true},
		{"task told to stop", store.Event{Action: store.ActionUpdate, Task: stopping, OldTask: up}, true},
		{"update without old value", store.Event{Action: store.ActionUpdate, Task: pending}, true},
		{"running task deleted", store.Event{Action: store.ActionDelete, Task: up}, true},
		{"node update keeping its address", store.Event{Action: store.ActionUpdate, Node: nodeAt("n1", "10.0.0.1:4242"), OldNode: nodeAt("n1", "10.0.0.1:4242")}, false},
		{"node address changed", store.Event{Action: store.ActionUpdate, Node: nodeAt("n1", "10.0.0.2:4242"), OldNode: nodeAt("n1", "10.0.0.1:4242")}, true},
		{"node created", store.Event{Action: store.ActionCreate, Node: nodeAt("n2", "10.0.0.3:4242")}, true},
		{"node removed", store.Event{Action: store.ActionDelete, Node: nodeAt("n2", "10.0.0.3:4242")}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := relevant(tc.ev); got != tc.want {
				t.Errorf("relevant() = %v, want %v", got, tc.want)
			}
		})
	}
}

func nodeAt(id, addr string) *types.Node {
	return &types.Node{ID: id, Status: types.NodeStatus{Addr: addr}}
}
