//go:build acceptance

package acceptance

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Images for updates, built by testimage/build.sh besides v1, v2 and crash.
const (
	imageV2Healthy   = "hive-test/web:v2-healthy"
	imageV2Unhealthy = "hive-test/web:v2-unhealthy"
)

// needImages fails the test when a test image is missing.
func needImages(t *testing.T, images ...string) {
	t.Helper()
	for _, img := range images {
		if err := exec.Command("docker", "image", "inspect", img).Run(); err != nil {
			t.Fatalf("test image %s is missing: run acceptance/testimage/build.sh (make testimage)", img)
		}
	}
}

// load is a loop of HTTP requests through a published port: several
// workers, each request on a new connection (so each goes through the
// routing mesh's choice of a task), every answer checked.
type load struct {
	addr    string
	stopped chan struct{}
	wg      sync.WaitGroup

	ok, failed atomic.Int64
	mu         sync.Mutex
	failures   []string       // the first few, for the message
	versions   map[string]int // answers by version
}

// startLoad starts workers requesting http://addr/ until stop.
func startLoad(t *testing.T, addr string, workers int) *load {
	l := &load{addr: addr, stopped: make(chan struct{}), versions: map[string]int{}}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stopped:
					return
				default:
				}
				l.once(client)
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	t.Cleanup(l.stop)
	return l
}

// once makes one request and counts its outcome. An answer must be "<hostname> <version>".
func (l *load) once(client *http.Client) {
	fail := func(format string, args ...any) {
		l.failed.Add(1)
		l.mu.Lock()
		if len(l.failures) < 10 {
			l.failures = append(l.failures, time.Now().Format("15:04:05.000")+" "+fmt.Sprintf(format, args...))
		}
		l.mu.Unlock()
	}
	resp, err := client.Get("http://" + l.addr + "/")
	if err != nil {
		fail("%v", err)
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch fields := strings.Fields(string(body)); {
	case err != nil:
		fail("read the answer: %v", err)
	case resp.StatusCode != http.StatusOK:
		fail("status %s: %q", resp.Status, body)
	case len(fields) != 2:
		fail("answer %q: want \"<hostname> <version>\"", body)
	default:
		l.ok.Add(1)
		l.mu.Lock()
		l.versions[fields[1]]++
		l.mu.Unlock()
	}
}

func (l *load) stop() {
	select {
	case <-l.stopped:
	default:
		close(l.stopped)
	}
	l.wg.Wait()
}

// report stops the loop and fails t on any failed request, or when too
// few requests were made for the result to mean anything.
func (l *load) report(t *testing.T, minOK int64) {
	t.Helper()
	l.stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Logf("load: %d requests answered (by version: %v), %d failed", l.ok.Load(), l.versions, l.failed.Load())
	if n := l.failed.Load(); n > 0 {
		t.Errorf("%d requests failed during the update; the first ones:\n%s", n, strings.Join(l.failures, "\n"))
	}
	if l.ok.Load() < minOK {
		t.Errorf("only %d requests were answered; want at least %d for the load to mean anything", l.ok.Load(), minOK)
	}
}

// fullTask is the part of `hive service ps --format json` these tests read.
type fullTask struct {
	task
	Spec struct {
		Container struct {
			Image string `json:"image"`
		} `json:"container"`
	} `json:"spec"`
}

func (n *node) fullTasks(service string) []fullTask {
	n.t.Helper()
	var ts []fullTask
	mustJSON(n.t, n.must("service", "ps", service, "--format", "json"), &ts)
	return ts
}

// runningImages maps each slot of the service that runs a task (desired
// and observed running) to the task's image.
func (n *node) runningImages(service string) map[uint64]string {
	out := map[uint64]string{}
	for _, t := range n.fullTasks(service) {
		if t.DesiredState == "running" && t.Status.State == "running" {
			out[t.Slot] = t.Spec.Container.Image
		}
	}
	return out
}

// allOn waits until replicas slots run image.
func (n *node) allOn(service string, replicas int, image string, timeout time.Duration) {
	n.t.Helper()
	n.eventually(timeout, fmt.Sprintf("%d tasks of %s running %s", replicas, service, image), func() error {
		imgs := n.runningImages(service)
		if len(imgs) != replicas {
			return fmt.Errorf("running by slot: %v", imgs)
		}
		for slot, img := range imgs {
			if img != image {
				return fmt.Errorf("slot %d runs %s (running by slot: %v)", slot, img, imgs)
			}
		}
		return nil
	})
}

// updateStatus is the part of a service's update status the tests read.
type updateStatus struct {
	State   string `json:"state"`
	Message string `json:"message"`
}

type inspected struct {
	Spec struct {
		Task struct {
			Container struct {
				Image string `json:"image"`
			} `json:"container"`
		} `json:"task"`
	} `json:"spec"`
	PreviousSpec *struct {
		Task struct {
			Container struct {
				Image string `json:"image"`
			} `json:"container"`
		} `json:"task"`
	} `json:"previous_spec"`
	UpdateStatus *updateStatus `json:"update_status"`
}

func (n *node) inspect(service string) inspected {
	n.t.Helper()
	var out []inspected
	mustJSON(n.t, n.must("service", "inspect", service), &out)
	if len(out) != 1 {
		n.t.Fatalf("service inspect %s gave %d services", service, len(out))
	}
	return out[0]
}

// answers asks the published port count times and returns the versions
// that answered.
func answers(t *testing.T, port string, count int) map[string]int {
	t.Helper()
	out := map[string]int{}
	for range count {
		body, err := get("127.0.0.1:"+port, "/")
		if err != nil {
			t.Fatalf("request through the published port: %v", err)
		}
		out[strings.Fields(body)[1]]++
	}
	return out
}

// updateUnderLoad creates five replicas of v1 behind a published port,
// runs a load loop through it during `service update` with args, and
// checks that no request failed and every task ends on image.
func updateUnderLoad(t *testing.T, image, version string, args ...string) {
	n := startHive(t)
	port := createWeb(n, "web", 5)
	l := startLoad(t, "127.0.0.1:"+port, 4)
	// Some load before the update, to be sure the loop runs.
	eventually(t, 10*time.Second, "the load loop's first answers", func() error {
		if l.ok.Load() < 20 {
			return fmt.Errorf("%d answers so far", l.ok.Load())
		}
		return nil
	})
	start := time.Now()
	out := n.must(append(append([]string{"service", "update"}, args...), "--image", image, "web")...)
	took := time.Since(start)
	if !strings.Contains(out, "overall progress: 5 out of 5 tasks") || !strings.Contains(out, "verify: Service converged") {
		t.Fatalf("service update did not report convergence:\n%s", out)
	}
	// A little more load on the new version, then the verdict.
	time.Sleep(time.Second)
	l.report(t, 200)
	t.Logf("service update took %s", took.Round(10*time.Millisecond))
	if l.versions[version] == 0 {
		t.Errorf("no answer came from %s during the update: %v", version, l.versions)
	}
	n.allOn("web", 5, image, 10*time.Second)
	if got := answers(t, port, 20); got[version] != 20 {
		t.Errorf("after the update the answers came from %v, want %s only", got, version)
	}
	if st := n.inspect("web").UpdateStatus; st == nil || st.State != "completed" {
		t.Errorf("update status %+v, want completed", st)
	}
}

func TestStartFirstUpdateUnderLoadFailsNoRequest(t *testing.T) {
	updateUnderLoad(t, imageV2, "v2", "--update-order", "start-first", "--update-parallelism", "1")
}

func TestStopFirstUpdateUnderLoadFailsNoRequest(t *testing.T) {
	updateUnderLoad(t, imageV2, "v2", "--update-order", "stop-first", "--update-parallelism", "1")
}

func TestHealthCheckedUpdateUnderLoadFailsNoRequest(t *testing.T) {
	needImages(t, imageV2Healthy)
	// The image's HEALTHCHECK runs every second; --health-interval keeps
	// its test and checks more often. A task runs (and gets connections)
	// only once healthy.
	updateUnderLoad(t, imageV2Healthy, "v2", "--update-order", "start-first", "--update-parallelism", "2", "--health-interval", "300ms")
}

func TestAnUpdateToACrashingImageRollsBackToV1(t *testing.T) {
	n := startHive(t)
	port := createWeb(n, "web", 3, "--update-failure-action", "rollback", "--update-monitor", "2s")
	out, errOut, err := n.run("service", "update", "--image", imageCrash, "web")
	if err == nil {
		t.Fatalf("service update to a crashing image succeeded:\n%s", out)
	}
	for _, want := range []string{"service web was rolled back to its previous spec", "update rolled back due to failure or early termination of task", "non-zero exit (3)"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if !strings.Contains(out, "rollback: update rolled back due to failure") {
		t.Errorf("the progress did not show the rollback:\n%s", out)
	}
	st := n.inspect("web")
	if st.UpdateStatus == nil || st.UpdateStatus.State != "rollback_completed" || !strings.Contains(st.UpdateStatus.Message, "non-zero exit (3)") {
		t.Errorf("update status %+v, want rollback_completed with the reason", st.UpdateStatus)
	}
	if st.Spec.Task.Container.Image != imageV1 || st.PreviousSpec == nil || st.PreviousSpec.Task.Container.Image != imageCrash {
		t.Errorf("spec image %s, previous %+v: want v1, and the crashing spec as the previous one", st.Spec.Task.Container.Image, st.PreviousSpec)
	}
	n.allOn("web", 3, imageV1, 10*time.Second)
	if got := answers(t, port, 9); got["v1"] != 9 {
		t.Errorf("answers %v, want v1 only", got)
	}
	onlyFirstSlotTried(t, n, imageCrash)
	pretty := n.must("service", "inspect", "--pretty", "web")
	if !strings.Contains(pretty, "State:             rollback_completed") || !strings.Contains(pretty, "Image:             "+imageCrash) {
		t.Errorf("inspect --pretty does not show the rollback and the previous spec:\n%s", pretty)
	}
}

func TestAnUpdateThatNeverGetsHealthyPauses(t *testing.T) {
	needImages(t, imageV2Unhealthy)
	n := startHive(t)
	port := createWeb(n, "web", 3)
	out, errOut, err := n.run("service", "update", "--image", imageV2Unhealthy, "--update-order", "start-first", "web")
	if err == nil {
		t.Fatalf("service update to an image that is never healthy succeeded:\n%s", out)
	}
	for _, want := range []string{"update paused due to failure or early termination of task", "task: unhealthy container", "The update of service web is paused"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if st := n.inspect("web").UpdateStatus; st == nil || st.State != "paused" {
		t.Errorf("update status %+v, want paused", st)
	}
	// start-first: the old tasks never stopped, and keep answering.
	if imgs := n.runningImages("web"); len(imgs) != 3 || imgs[1] != imageV1 || imgs[2] != imageV1 || imgs[3] != imageV1 {
		t.Errorf("running by slot %v, want the three v1 tasks", imgs)
	}
	if got := answers(t, port, 9); got["v1"] != 9 {
		t.Errorf("answers %v, want v1 only", got)
	}
	onlyFirstSlotTried(t, n, imageV2Unhealthy)
	ps := n.must("service", "ps", "--no-trunc", "web")
	if !strings.Contains(ps, "task: unhealthy container") {
		t.Errorf("service ps does not say why the new task failed:\n%s", ps)
	}
	// A paused update resumes with a change: back to a good image.
	n.must("service", "update", "--image", imageV2, "web")
	n.allOn("web", 3, imageV2, 20*time.Second)
}

// onlyFirstSlotTried checks that a failed update (parallelism 1) tried
// image in its first batch, slot 1, and nowhere else.
func onlyFirstSlotTried(t *testing.T, n *node, image string) {
	t.Helper()
	tried := map[uint64]int{}
	for _, tk := range n.fullTasks("web") {
		if tk.Spec.Container.Image == image {
			tried[tk.Slot]++
		}
	}
	if tried[1] == 0 || len(tried) != 1 {
		t.Errorf("tasks of %s by slot %v: want slot 1 only, the first batch, to have tried it", image, tried)
	}
}

func TestServiceRollbackReturnsToThePreviousSpec(t *testing.T) {
	n := startHive(t)
	port := createWeb(n, "web", 3, "--rollback-parallelism", "0")
	n.must("service", "update", "--image", imageV2, "--update-monitor", "1s", "web")
	n.allOn("web", 3, imageV2, 10*time.Second)

	out := n.must("service", "rollback", "web")
	if !strings.Contains(out, "rollback: manually requested rollback") || !strings.Contains(out, "verify: Service converged") {
		t.Errorf("service rollback printed:\n%s", out)
	}
	n.allOn("web", 3, imageV1, 10*time.Second)
	st := n.inspect("web")
	if st.UpdateStatus == nil || st.UpdateStatus.State != "rollback_completed" || st.PreviousSpec == nil || st.PreviousSpec.Task.Container.Image != imageV2 {
		t.Errorf("after the rollback: status %+v, previous %+v", st.UpdateStatus, st.PreviousSpec)
	}
	if got := answers(t, port, 9); got["v1"] != 9 {
		t.Errorf("answers %v, want v1 only", got)
	}

	n.must("service", "create", "-d", "--name", "fresh", imageV1)
	if _, errOut, err := n.run("service", "rollback", "fresh"); err == nil || !strings.Contains(errOut, "has no previous spec") {
		t.Errorf("rollback of a service never updated: %v, %q", err, errOut)
	}
}

func TestKill9MidUpdateCompletesAfterRestartWithNoSlotRunningTwice(t *testing.T) {
	n := startHive(t)
	port := createWeb(n, "web", 4)
	// Watch the engine itself: never two running containers in a slot.
	var (
		mu      sync.Mutex
		twice   []string
		stopped = make(chan struct{})
		watched = make(chan struct{})
	)
	go func() {
		defer close(watched)
		for {
			select {
			case <-stopped:
				return
			case <-time.After(50 * time.Millisecond):
			}
			out, err := exec.Command("docker", "ps", "--filter", "label=hive.node.id="+n.nodeID, "--filter", "label=hive.service.name=web",
				"--filter", "status=running", "--format", `{{.Label "hive.task.slot"}}`).Output()
			if err != nil {
				continue
			}
			seen := map[string]int{}
			for _, slot := range strings.Fields(string(out)) {
				seen[slot]++
				if seen[slot] == 2 {
					mu.Lock()
					twice = append(twice, time.Now().Format("15:04:05.000")+" slot "+slot)
					mu.Unlock()
				}
			}
		}
	}()
	defer func() { close(stopped); <-watched }()

	n.must("service", "update", "-d", "--image", imageV2, "--update-delay", "2s", "--update-monitor", "1s", "web")
	n.eventually(30*time.Second, "two slots on v2", func() error {
		imgs := n.runningImages("web")
		if imgs[1] != imageV2 || imgs[2] != imageV2 {
			return fmt.Errorf("running by slot %v", imgs)
		}
		return nil
	})
	if st := n.inspect("web").UpdateStatus; st == nil || st.State != "updating" {
		t.Fatalf("update status %+v before the kill, want updating", st)
	}
	n.kill9()
	// While hive is down its routing mesh does not answer: the load loop
	// must see (and count) that, which shows it counts failures at all.
	l := startLoad(t, "127.0.0.1:"+port, 1)
	eventually(t, 10*time.Second, "the load loop to count a failed request", func() error {
		if l.failed.Load() == 0 {
			return fmt.Errorf("%d answered, none failed", l.ok.Load())
		}
		return nil
	})
	l.stop()
	n.start()
	n.eventually(60*time.Second, "the update completed after the restart", func() error {
		if st := n.inspect("web").UpdateStatus; st == nil || st.State != "completed" {
			return fmt.Errorf("update status %+v", st)
		}
		return nil
	})
	n.allOn("web", 4, imageV2, 10*time.Second)
	mu.Lock()
	defer mu.Unlock()
	if len(twice) > 0 {
		t.Errorf("a slot ran two containers at once: %v", twice)
	}
	bySlot := map[uint64]int{}
	for _, tk := range n.fullTasks("web") {
		bySlot[tk.Slot]++
	}
	for slot := uint64(1); slot <= 4; slot++ {
		if bySlot[slot] != 2 {
			t.Errorf("slot %d has %d tasks, want 2: its v1 task and one v2 replacement (tasks by slot: %v)", slot, bySlot[slot], bySlot)
		}
	}
	if got := len(n.runningContainers("web")); got != 4 {
		t.Errorf("%d containers run, want 4", got)
	}
}
