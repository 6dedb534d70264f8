package sim

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/agent"
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

// both is a Settle condition: a and b hold.
func both(a, b func() bool) func() bool { return func() bool { return a() && b() } }

// mustUpdate changes a service's spec, failing the test on error.
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

// allOn is a Settle condition: replicas slots each run a task of image.
func allOn(c *Cluster, name string, replicas uint64, image string) func() bool {
	return func() bool {
		images, _ := slotImages(c, name, replicas)
		for _, img := range images {
			if img != image {
				return false
			}
		}
		return len(images) == int(replicas)
	}
}

func TestStopFirstUpdateReplacesOneSlotAtATime(t *testing.T) {
	c := startCluster(t, 3)
	spec := ReplicatedSpec("web", 5)
	withUpdate(&spec, 1, 0, types.OrderStopFirst, types.FailurePause)
	c.CreateService(spec)
	settled(t, c, 10*time.Second)
	before := runningBySlot(c, "web")

	mustUpdate(t, c, "web", func(s *types.ServiceSpec) { s.Task.Container.Image = imageV2 })
	if st := svcOf(t, c, "web").UpdateStatus; st == nil || st.State != types.UpdateUpdating {
		t.Fatalf("right after the change the update status is %+v, want updating", st)
	}
	maxDown, order := 0, []uint64{}
	watch := func() bool {
		images, occupying := slotImages(c, "web", 5)
		down := 0
		for slot, img := range images {
			if img == "" {
				down++
			}
			if img == imageV2 && !containsSlot(order, slot) {
				order = append(order, slot)
			}
			if occupying[slot] > 1 {
				t.Errorf("at %s slot %d has %d tasks occupying it during a stop-first update\n%s", c.Elapsed(), slot, occupying[slot], c.Describe())
			}
		}
		if n := mostRunningInASlot(c, "web"); n > 1 {
			t.Errorf("at %s a slot runs %d containers during a stop-first update\n%s", c.Elapsed(), n, c.Describe())
		}
		maxDown = max(maxDown, down)
		return updateIs(c, "web", types.UpdateCompleted)()
	}
	c.MustSettle(watch, 60*time.Second)
	settled(t, c, time.Second)
	if maxDown != 1 {
		t.Errorf("at most %d slots were without a running task at once, want exactly 1 (parallelism 1, stop-first)", maxDown)
	}
	if fmt.Sprint(order) != "[1 2 3 4 5]" {
		t.Errorf("slots were updated in the order %v, want 1 to 5", order)
	}
	if !allOn(c, "web", 5, imageV2)() {
		t.Fatalf("not every slot runs v2 after the update completed\n%s", c.Describe())
	}
	for slot, id := range runningBySlot(c, "web") {
		if id == before[slot] {
			t.Errorf("slot %d still runs its old task %s", slot, id)
		}
		if n := len(slotTasks(c, "web", slot)); n != 2 {
			t.Errorf("slot %d has %d tasks, want 2 (the old one, shut down, and its replacement)", slot, n)
		}
	}
	st := svcOf(t, c, "web").UpdateStatus
	if st.Message != "update completed" || st.CompletedAt.IsZero() || len(st.Failures) != 0 {
		t.Errorf("update status at the end = %+v", st)
	}
}

func containsSlot(slots []uint64, s uint64) bool {
	for _, x := range slots {
		if x == s {
			return true
		}
	}
	return false
}

func TestStartFirstUpdateKeepsEverySlotRunning(t *testing.T) {
	c := startCluster(t, 3)
	spec := ReplicatedSpec("web", 5)
	withUpdate(&spec, 2, 0, types.OrderStartFirst, types.FailurePause)
	c.CreateService(spec)
	settled(t, c, 10*time.Second)

	mustUpdate(t, c, "web", func(s *types.ServiceSpec) { s.Task.Container.Image = imageV2 })
	maxPairs := 0
	watch := func() bool {
		images, occupying := slotImages(c, "web", 5)
		pairs := 0
		for slot, img := range images {
			if img == "" {
				t.Errorf("at %s slot %d has no running task during a start-first update\n%s", c.Elapsed(), slot, c.Describe())
			}
			if occupying[slot] == 2 {
				pairs++
			}
		}
		maxPairs = max(maxPairs, pairs)
		return updateIs(c, "web", types.UpdateCompleted)()
	}
	c.MustSettle(watch, 60*time.Second)
	settled(t, c, time.Second)
	if maxPairs != 2 {
		t.Errorf("at most %d slots held an old and a new task at once, want 2 (parallelism 2)", maxPairs)
	}
	if !allOn(c, "web", 5, imageV2)() {
		t.Fatalf("not every slot runs v2\n%s", c.Describe())
	}
}

func TestParallelismAndDelayPaceTheBatches(t *testing.T) {
	c := startCluster(t, 2)
	spec := ReplicatedSpec("web", 4)
	withUpdate(&spec, 2, 3*time.Second, types.OrderStopFirst, types.FailurePause)
	c.CreateService(spec)
	settled(t, c, 10*time.Second)
	start := c.Elapsed()
	mustUpdate(t, c, "web", func(s *types.ServiceSpec) { s.Task.Container.Image = imageV2 })
	firstTwo := func() bool {
		images, _ := slotImages(c, "web", 4)
		return images[1] == imageV2 && images[2] == imageV2
	}
	c.MustSettle(firstTwo, 10*time.Second)
	batch1 := c.Elapsed() - start
	if images, _ := slotImages(c, "web", 4); images[3] != sim1 || images[4] != sim1 {
		t.Fatalf("slots 3 and 4 were touched with the first batch: %v", images)
	}
	if err := c.Advance(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	if images, _ := slotImages(c, "web", 4); images[3] != sim1 || images[4] != sim1 {
		t.Fatalf("slots 3 and 4 were touched within the 3s delay after the first batch: %v", images)
	}
	c.MustSettle(allOn(c, "web", 4, imageV2), 10*time.Second)
	took := c.Elapsed() - start
	if took < batch1+3*time.Second {
		t.Errorf("the update took %s, the first batch %s: the second batch did not wait for the 3s delay", took, batch1)
	}
	c.MustSettle(updateIs(c, "web", types.UpdateCompleted), 10*time.Second)
}

// sim1 is the image the spec helpers run.
const sim1 = Image

func TestScaleAndNoOpUpdatesDoNotRollTasks(t *testing.T) {
	c := startCluster(t, 2)
	c.CreateService(ReplicatedSpec("web", 3))
	settled(t, c, 10*time.Second)
	before := runningBySlot(c, "web")

	c.ScaleService("web", 5)
	settled(t, c, 10*time.Second)
	mustUpdate(t, c, "web", func(s *types.ServiceSpec) { s.Labels = map[string]string{"team": "web"} })
	mustUpdate(t, c, "web", func(s *types.ServiceSpec) {})
	mustUpdate(t, c, "web", func(s *types.ServiceSpec) { s.Update.Parallelism = 3 })
	if err := c.Advance(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	settled(t, c, time.Second)
	after := runningBySlot(c, "web")
	for slot := uint64(1); slot <= 3; slot++ {
		if after[slot] != before[slot] {
			t.Errorf("slot %d runs %s, was %s: a change that leaves the task spec alone rolled it", slot, after[slot], before[slot])
		}
	}
	if st := svcOf(t, c, "web").UpdateStatus; st != nil {
		t.Errorf("update status %+v after changes that roll nothing, want none", st)
	}
}

func TestAnUpdateThatCrashesPausesAfterItsFirstTask(t *testing.T) {
	c := startCluster(t, 3)
	c.CreateService(ReplicatedSpec("web", 4)) // the default policy: pause
	settled(t, c, 10*time.Second)
	mustUpdate(t, c, "web", func(s *types.ServiceSpec) { s.Task.Container.Env = []string{"CRASH=1"} })
	c.MustSettle(updateIs(c, "web", types.UpdatePaused), 30*time.Second)
	st := svcOf(t, c, "web").UpdateStatus
	if !strings.HasPrefix(st.Message, "update paused due to failure or early termination of task ") ||
		!strings.Contains(st.Message, "web.1") || !strings.Contains(st.Message, "non-zero exit (3)") {
		t.Errorf("paused with message %q, want the reason naming web.1 and its exit", st.Message)
	}
	// Only the first slot was touched; the others still run the old spec.
	if err := c.Advance(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, tk := range c.RunningTasks("web") {
		if tk.Slot == 1 || len(tk.Spec.Container.Env) != 0 {
			t.Errorf("task %s runs with env %v: the paused update went past its first slot", tk.Name(), tk.Spec.Container.Env)
		}
	}
	if got := len(c.RunningTasks("web")); got != 3 {
		t.Errorf("%d tasks run, want 3 (slots 2 to 4 on the old spec)", got)
	}

	// A change resumes it: here, one that fixes the spec.
	mustUpdate(t, c, "web", func(s *types.ServiceSpec) { s.Task.Container.Env = []string{"FIXED=1"} })
	c.MustSettle(updateIs(c, "web", types.UpdateCompleted), 60*time.Second)
	settled(t, c, 10*time.Second)
	for _, tk := range c.RunningTasks("web") {
		if len(tk.Spec.Container.Env) != 1 || tk.Spec.Container.Env[0] != "FIXED=1" {
			t.Errorf("task %s runs env %v after the resumed update, want FIXED=1", tk.Name(), tk.Spec.Container.Env)
		}
	}
}

func TestFailureActionRollbackEndsOnThePreviousSpec(t *testing.T) {
	for _, order := range []types.UpdateOrder{types.OrderStopFirst, types.OrderStartFirst} {
		t.Run(string(order), func(t *testing.T) {
			c := startCluster(t, 3)
			spec := ReplicatedSpec("web", 3)
			withUpdate(&spec, 1, 0, order, types.FailureRollback)
			c.CreateService(spec)
			settled(t, c, 10*time.Second)
			v1 := svcOf(t, c, "web").Spec

			mustUpdate(t, c, "web", func(s *types.ServiceSpec) {
				s.Task.Container.Image = imageV2
				s.Task.Container.Env = []string{"CRASH=1"}
			})
			c.MustSettle(updateIs(c, "web", types.UpdateRollbackCompleted), 60*time.Second)
			settled(t, c, 10*time.Second)
			svc := svcOf(t, c, "web")
			if !svc.Spec.Task.Equal(v1.Task) {
				t.Errorf("after the rollback the task spec is %+v, want v1's %+v", svc.Spec.Task, v1.Task)
			}
			if svc.PreviousSpec == nil || svc.PreviousSpec.Task.Container.Image != imageV2 {
				t.Errorf("the previous spec is %+v, want the failed one", svc.PreviousSpec)
			}
			if msg := svc.UpdateStatus.Message; !strings.HasPrefix(msg, "update rolled back due to failure or early termination of task ") {
				t.Errorf("rollback completed with message %q, want the reason", msg)
			}
			if !allOn(c, "web", 3, Image)() {
				t.Fatalf("not every slot runs v1 after the rollback\n%s", c.Describe())
			}
		})
	}
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

func TestManualRollbackReturnsToThePreviousSpec(t *testing.T) {
	c := startCluster(t, 2)
	spec := ReplicatedSpec("web", 3)
	withUpdate(&spec, 0, 0, types.OrderStartFirst, types.FailurePause)
	c.CreateService(spec)
	settled(t, c, 10*time.Second)
	mustUpdate(t, c, "web", func(s *types.ServiceSpec) { s.Task.Container.Image = imageV2 })
	c.MustSettle(both(updateIs(c, "web", types.UpdateCompleted), allOn(c, "web", 3, imageV2)), 30*time.Second)

	svc, err := c.Control().RollbackService(c.Context(), "web")
	if err != nil {
		t.Fatal(err)
	}
	if svc.UpdateStatus.State != types.UpdateRollbackStarted || svc.Spec.Task.Container.Image != Image || svc.PreviousSpec.Task.Container.Image != imageV2 {
		t.Fatalf("right after the rollback: status %+v, image %s, previous %s", svc.UpdateStatus, svc.Spec.Task.Container.Image, svc.PreviousSpec.Task.Container.Image)
	}
	c.MustSettle(both(updateIs(c, "web", types.UpdateRollbackCompleted), allOn(c, "web", 3, Image)), 30*time.Second)
	settled(t, c, 10*time.Second)
	if msg := svcOf(t, c, "web").UpdateStatus.Message; msg != "rollback completed" {
		t.Errorf("message %q, want rollback completed", msg)
	}

	c.CreateService(ReplicatedSpec("fresh", 1))
	if _, err := c.Control().RollbackService(c.Context(), "fresh"); err == nil || !strings.Contains(err.Error(), "no previous spec") {
		t.Errorf("rollback of a service never updated = %v, want an error saying it has no previous spec", err)
	}
}

func TestAnUpdateSurvivesALeaderChange(t *testing.T) {
	for _, order := range []types.UpdateOrder{types.OrderStopFirst, types.OrderStartFirst} {
		t.Run(string(order), func(t *testing.T) {
			c := startCluster(t, 3)
			spec := ReplicatedSpec("web", 6)
			withUpdate(&spec, 1, time.Second, order, types.FailurePause)
			c.CreateService(spec)
			settled(t, c, 10*time.Second)
			mustUpdate(t, c, "web", func(s *types.ServiceSpec) { s.Task.Container.Image = imageV2 })
			twoDone := func() bool {
				images, _ := slotImages(c, "web", 6)
				return images[1] == imageV2 && images[2] == imageV2
			}
			c.MustSettle(twoDone, 30*time.Second)

			limit := 1 // stop-first: never two containers of a slot at once
			if order == types.OrderStartFirst {
				limit = 2
			}
			most := 0
			watch := func(done func() bool) func() bool {
				return func() bool {
					most = max(most, mostRunningInASlot(c, "web"))
					return done()
				}
			}
			c.StopLeader()
			end := c.Clock().Now().Add(5 * time.Second)
			c.MustSettle(watch(func() bool { return !c.Clock().Now().Before(end) }), 6*time.Second)
			c.StartLeader()
			c.MustSettle(watch(updateIs(c, "web", types.UpdateCompleted)), 60*time.Second)
			if most > limit {
				t.Errorf("a slot ran %d containers at once, want at most %d", most, limit)
			}
			settled(t, c, 10*time.Second)
			if !allOn(c, "web", 6, imageV2)() {
				t.Fatalf("not every slot runs v2\n%s", c.Describe())
			}
			for slot := uint64(1); slot <= 6; slot++ {
				if n := len(slotTasks(c, "web", slot)); n != 2 {
					t.Errorf("slot %d had %d tasks, want 2: replaced once, never twice\n%s", slot, n, c.Describe())
				}
			}
		})
	}
}

func TestAGlobalServiceUpdatesNodeByNode(t *testing.T) {
	c := startCluster(t, 4)
	spec := GlobalSpec("agentd")
	withUpdate(&spec, 1, 0, types.OrderStopFirst, types.FailurePause)
	c.CreateService(spec)
	settled(t, c, 10*time.Second)
	mustUpdate(t, c, "agentd", func(s *types.ServiceSpec) { s.Task.Container.Image = imageV2 })
	maxDown := 0
	watch := func() bool {
		maxDown = max(maxDown, 4-len(c.RunningTasks("agentd")))
		return updateIs(c, "agentd", types.UpdateCompleted)()
	}
	c.MustSettle(watch, 60*time.Second)
	settled(t, c, 10*time.Second)
	if maxDown > 1 {
		t.Errorf("%d nodes were without a running task at once, want at most 1", maxDown)
	}
	for _, tk := range c.RunningTasks("agentd") {
		if tk.Spec.Container.Image != imageV2 {
			t.Errorf("task %s runs %s after the update", tk.Name(), tk.Spec.Container.Image)
		}
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

func TestFailureActionContinueGoesOn(t *testing.T) {
	c := startCluster(t, 2)
	spec := ReplicatedSpec("web", 3)
	withUpdate(&spec, 1, 0, types.OrderStopFirst, types.FailureContinue)
	c.CreateService(spec)
	settled(t, c, 10*time.Second)
	mustUpdate(t, c, "web", func(s *types.ServiceSpec) { s.Task.Container.Env = []string{"CRASH=1"} })
	c.MustSettle(updateIs(c, "web", types.UpdateCompleted), 60*time.Second)
	for _, tk := range c.Tasks("web") {
		if tk.DesiredState <= types.TaskStateRunning && len(tk.Spec.Container.Env) == 0 {
			t.Errorf("task %s still runs the old spec: continue must go through every slot", tk.Name())
		}
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

// mostRunningInASlot is the largest number of running containers of one
// slot of the service, across the nodes.
func mostRunningInASlot(c *Cluster, service string) int {
	bySlot := map[string]int{}
	most := 0
	for _, cs := range c.Containers() {
		for _, ct := range cs {
			if ct.Running() && ct.Labels[agent.LabelServiceName] == service {
				bySlot[ct.Labels[agent.LabelSlot]]++
				most = max(most, bySlot[ct.Labels[agent.LabelSlot]])
			}
		}
	}
	return most
}
