package sim

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

const imageV2 = "hive-test/web:v2"

// svcOf returns a service as the control API does, failing the test if it
// is gone.
func svcOf(t *testing.T, c *Cluster, name string) *types.Service {
	t.Helper()
	svc, err := c.Control().GetService(c.Context(), name)
	if err != nil {
		t.Fatalf("get service %s: %v", name, err)
	}
	return svc
}

// updateIs is a Settle condition: the service's update is in state want.
func updateIs(c *Cluster, name string, want types.UpdateState) func() bool {
	return func() bool {
		svc, err := c.Control().GetService(c.Context(), name)
		return err == nil && svc.UpdateStatus != nil && svc.UpdateStatus.State == want
	}
}

func mustUpdate(t *testing.T, c *Cluster, name string, fn func(*types.ServiceSpec)) {
	t.Helper()
	if err := c.UpdateService(name, fn); err != nil {
		t.Fatal(err)
	}
}

// withUpdate sets a spec's update policy.
func withUpdate(s *types.ServiceSpec, parallelism uint64, delay time.Duration, order types.UpdateOrder, action types.FailureAction) {
	m := types.Duration(2 * time.Second)
	s.Update = &types.UpdateConfig{Parallelism: parallelism, Delay: types.Duration(delay), Order: order, FailureAction: action, Monitor: &m}
}

// slotImages maps each slot to the image of its running task ("" for a
// slot with no running task) and counts the tasks occupying each slot.
func slotImages(c *Cluster, name string, replicas uint64) (images map[uint64]string, occupying map[uint64]int) {
	images, occupying = map[uint64]string{}, map[uint64]int{}
	for slot := uint64(1); slot <= replicas; slot++ {
		images[slot] = ""
	}
	for _, tk := range c.Tasks(name) {
		if tk.DesiredState <= types.TaskStateRunning {
			occupying[tk.Slot]++
		}
		if tk.DesiredState == types.TaskStateRunning && tk.Status.State == types.TaskStateRunning {
			images[tk.Slot] = tk.Spec.Container.Image
		}
	}
	return images, occupying
}

func TestAnImageThatCannotBeHadFailsTheFirstBatch(t *testing.T) {
	c := startCluster(t, 2)
	for i := range c.Nodes() {
		c.Node(i).Runtime.AllowAnyImage(false)
		c.Node(i).Runtime.AddImage(Image)
	}
	c.CreateService(ReplicatedSpec("web", 3))
	settled(t, c, 10*time.Second)
	mustUpdate(t, c, "web", func(s *types.ServiceSpec) { s.Task.Container.Image = "hive-test/web:nope" })
	c.MustSettle(updateIs(c, "web", types.UpdatePaused), 30*time.Second)
	if msg := svcOf(t, c, "web").UpdateStatus.Message; !strings.Contains(msg, "image not found") {
		t.Errorf("paused with %q, want the reason (image not found)", msg)
	}
	if got := len(c.RunningTasks("web")); got != 2 {
		t.Errorf("%d tasks run, want 2: only the first slot is touched", got)
	}
}

func TestHealthChecksGateTheUpdate(t *testing.T) {
	check := &types.HealthConfig{Test: []string{"CMD", "/web", "healthcheck"}, Interval: types.Duration(time.Second), Retries: 2}
	c := startCluster(t, 2)
	spec := ReplicatedSpec("web", 2)
	spec.Task.Container.Healthcheck = check
	withUpdate(&spec, 1, 0, types.OrderStartFirst, types.FailurePause)
	c.CreateService(spec)
	// A task with a health check stays starting until it is healthy.
	c.MustSettle(func() bool {
		for _, tk := range c.Tasks("web") {
			if tk.Status.State == types.TaskStateStarting && tk.Status.ContainerID != "" {
				return true
			}
		}
		return false
	}, 5*time.Second)
	if got := len(c.RunningTasks("web")); got != 0 {
		t.Fatalf("%d tasks run before their first health check", got)
	}
	settled(t, c, 5*time.Second)

	// A version that never gets healthy pauses the update; the old tasks
	// keep running.
	mustUpdate(t, c, "web", func(s *types.ServiceSpec) {
		s.Task.Container.Image = imageV2
		s.Task.Container.Env = []string{"UNHEALTHY=1"}
	})
	c.MustSettle(updateIs(c, "web", types.UpdatePaused), 30*time.Second)
	if msg := svcOf(t, c, "web").UpdateStatus.Message; !strings.Contains(msg, "task: unhealthy container") {
		t.Errorf("paused with %q, want the unhealthy container named", msg)
	}
	if err := c.Advance(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if images, _ := slotImages(c, "web", 2); images[1] != Image || images[2] != Image {
		t.Errorf("running images %v: the old tasks must keep running", images)
	}
	var unhealthy int
	for _, tk := range c.Tasks("web") {
		if tk.Status.State == types.TaskStateFailed && strings.HasPrefix(tk.Status.Err, "task: unhealthy container") {
			unhealthy++
		}
	}
	if unhealthy == 0 {
		t.Errorf("no task failed as unhealthy\n%s", c.Describe())
	}
	if err := c.CheckSafety(); err != nil {
		t.Fatal(err)
	}
}

func TestSlotsInvariantAllowsOldAndNewOnlyDuringAnUpdate(t *testing.T) {
	nodes := []*types.Node{node("n1", types.AvailabilityActive)}
	web := func(state types.UpdateState, parallelism uint64) *types.Service {
		s := svcReplicated("web", 3)
		s.SpecVersion = 2
		s.Spec.Task.Container.Image = imageV2
		s.Spec.Update = &types.UpdateConfig{Parallelism: parallelism, Order: types.OrderStartFirst}
		s.Spec.Rollback = &types.UpdateConfig{Parallelism: 1}
		if state != "" {
			s.UpdateStatus = &types.UpdateStatus{State: state}
		}
		return s
	}
	at := func(id string, slot uint64, image string) *types.Task {
		x := tk(id, "web", slot, "n1", running, running)
		x.Spec.Container.Image, x.SpecVersion = image, 2
		if image == Image {
			x.SpecVersion = 1
		}
		return x
	}
	pair := func(slot uint64) []*types.Task {
		return []*types.Task{at(fmt.Sprint("o", slot), slot, Image), at(fmt.Sprint("n", slot), slot, imageV2)}
	}
	tests := []struct {
		name  string
		svc   *types.Service
		tasks []*types.Task
		want  string
	}{
		{"an old and a new task while updating", web(types.UpdateUpdating, 1), pair(1), ""},
		{"while paused", web(types.UpdatePaused, 1), pair(1), ""},
		{"after the update completed", web(types.UpdateCompleted, 1), pair(1), "service web slot 1 has 2 tasks desired to run"},
		{"two new tasks", web(types.UpdateUpdating, 1), []*types.Task{at("a", 1, imageV2), at("b", 1, imageV2)}, "slot 1 has 2 tasks"},
		{"more pairs than the parallelism", web(types.UpdateUpdating, 1), append(pair(1), pair(2)...), "2 slots hold an old and a new task, more than the update's parallelism 1"},
		{"as many pairs as the parallelism", web(types.UpdateUpdating, 2), append(pair(1), pair(2)...), ""},
		{"parallelism 0 allows every slot", web(types.UpdateUpdating, 0), append(append(pair(1), pair(2)...), pair(3)...), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			view(t, state{nodes: nodes, services: []*types.Service{tt.svc}, tasks: tt.tasks}, func(tx store.ReadTx) {
				checkErr(t, CheckSlots(tx), tt.want)
			})
		})
	}
}
