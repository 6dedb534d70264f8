//go:build acceptance

package acceptance

import (
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// createWeb creates a replicated service of the test image with a
// published port and returns that port. It waits for convergence the way a
// user does: the CLI's own progress ends with "verify: Service converged".
func createWeb(n *node, name string, replicas int, extra ...string) string {
	n.t.Helper()
	port := freePort(n.t)
	args := append([]string{"service", "create", "--name", name, "--replicas", fmt.Sprint(replicas), "-p", port + ":80"}, extra...)
	out := n.must(append(args, imageV1)...)
	if !strings.Contains(out, "verify: Service converged") {
		n.t.Fatalf("service create did not report convergence:\n%s", out)
	}
	return port
}

func TestReplicasAnswerThroughThePublishedPortBalanced(t *testing.T) {
	n := startHive(t)
	port := createWeb(n, "web", 3)

	if got := len(n.runningContainers("web")); got != 3 {
		t.Fatalf("%d containers running, want 3", got)
	}
	hosts := map[string]int{}
	for range 30 {
		body, err := get("127.0.0.1:"+port, "/")
		if err != nil {
			t.Fatalf("request through the published port: %v", err)
		}
		hosts[strings.Fields(body)[0]]++
	}
	if len(hosts) != 3 {
		t.Fatalf("answers came from %d containers (%v), want all 3", len(hosts), hosts)
	}
	for h, c := range hosts {
		if c < 5 {
			t.Errorf("container %s answered %d of 30 requests: not balanced (%v)", h, c, hosts)
		}
	}
}

func TestAKilledContainerIsReplacedWithinTenSeconds(t *testing.T) {
	n := startHive(t)
	createWeb(n, "web", 3)
	before := n.running("web")
	victim := before[2]

	start := time.Now()
	if out, err := exec.Command("docker", "kill", victim).CombinedOutput(); err != nil {
		t.Fatalf("docker kill: %v: %s", err, out)
	}
	n.eventually(10*time.Second, "a replacement running in slot 2", func() error {
		now := n.running("web")
		if len(now) != 3 || now[2] == "" || now[2] == victim {
			return fmt.Errorf("running by slot: %v", now)
		}
		return nil
	})
	t.Logf("replacement running %v after the kill", time.Since(start).Round(100*time.Millisecond))
	after := n.running("web")
	if after[1] != before[1] || after[3] != before[3] {
		t.Errorf("other slots were disturbed: before %v after %v", before, after)
	}
	var failed bool
	for _, tk := range n.tasks("web") {
		if tk.Slot == 2 && tk.Status.State == "failed" && strings.Contains(tk.Status.Err, "137") {
			failed = true
		}
	}
	if !failed {
		t.Error("the killed task is not in the slot's history as failed with exit code 137")
	}
}

func TestScaleUpThenDownKeepsTheLowestSlots(t *testing.T) {
	n := startHive(t)
	createWeb(n, "web", 3)

	out := n.must("service", "scale", "web=5")
	if !strings.Contains(out, "verify: Service converged") {
		t.Fatalf("scale output:\n%s", out)
	}
	if got := slices.Sorted(maps.Keys(n.running("web"))); fmt.Sprint(got) != "[1 2 3 4 5]" {
		t.Fatalf("running slots after scale to 5: %v", got)
	}
	n.must("service", "scale", "web=2")
	n.eventually(20*time.Second, "2 containers left", func() error {
		if got := len(n.containers("web")); got != 2 {
			return fmt.Errorf("%d containers", got)
		}
		return nil
	})
	if got := slices.Sorted(maps.Keys(n.running("web"))); fmt.Sprint(got) != "[1 2]" {
		t.Fatalf("running slots after scale to 2: %v", got)
	}
	ls := n.must("service", "ls")
	if !strings.Contains(ls, "2/2") {
		t.Errorf("service ls does not show 2/2:\n%s", ls)
	}
}

func TestGlobalServiceRunsOneTaskOnTheNode(t *testing.T) {
	n := startHive(t)
	out := n.must("service", "create", "--name", "agent", "--mode", "global", imageV1)
	if !strings.Contains(out, "verify: Service converged") {
		t.Fatalf("create output:\n%s", out)
	}
	ts := n.tasks("agent")
	if len(ts) != 1 || ts[0].NodeID != n.nodeID || ts[0].Slot != 0 || ts[0].Status.State != "running" {
		t.Fatalf("tasks of the global service: %+v", ts)
	}
}

func TestAConstraintNoNodeMeetsStaysPendingWithTheReason(t *testing.T) {
	n := startHive(t)
	n.must("service", "create", "-d", "--name", "picky", "--constraint", "node.labels.zone==mars", imageV1)
	n.eventually(10*time.Second, "the task pending with a reason", func() error {
		ts := n.tasks("picky")
		// Until the node has registered, the reason is that no node is
		// ready; then it must be the constraint.
		if len(ts) != 1 || ts[0].Status.State != "pending" || !strings.Contains(ts[0].Status.Err, "scheduling constraints not satisfied") {
			return fmt.Errorf("tasks: %+v", ts)
		}
		return nil
	})
	ps := n.must("service", "ps", "--no-trunc", "picky")
	if !strings.Contains(ps, "no suitable node (scheduling constraints not satisfied on 1 node)") {
		t.Fatalf("service ps does not say why:\n%s", ps)
	}
	if got := len(n.containers("picky")); got != 0 {
		t.Fatalf("%d containers exist for an unschedulable service", got)
	}
}

func TestAKilledHiveComesBackAndAdoptsItsContainers(t *testing.T) {
	n := startHive(t)
	port := createWeb(n, "web", 3)
	before := n.running("web")
	beforeContainers := slices.Sorted(slices.Values(n.containers("web")))

	n.kill9()
	n.start()

	// Same containers, same tasks, nothing restarted or duplicated.
	n.eventually(15*time.Second, "the service converged again", func() error {
		if got := n.running("web"); !maps.Equal(got, before) {
			return fmt.Errorf("running by slot %v, want %v", got, before)
		}
		return nil
	})
	if after := slices.Sorted(slices.Values(n.containers("web"))); !slices.Equal(after, beforeContainers) {
		t.Fatalf("containers changed across the restart:\nbefore %v\nafter  %v", beforeContainers, after)
	}
	for _, id := range beforeContainers {
		out, err := exec.Command("docker", "inspect", "-f", "{{.RestartCount}} {{.State.Running}} {{.State.StartedAt}}", id).Output()
		if err != nil || !strings.Contains(string(out), "true") {
			t.Errorf("container %s: %s %v", id, out, err)
		}
	}
	// The mesh binds the port again once the restarted node has its
	// routes from the dispatcher.
	n.eventually(10*time.Second, "the published port answers after the restart", func() error {
		_, err := get("127.0.0.1:"+port, "/")
		return err
	})
	// Let the orchestrator run a few passes: still exactly 3.
	time.Sleep(2 * time.Second)
	if got := len(n.containers("web")); got != 3 {
		t.Fatalf("%d containers after the restart settled, want 3", got)
	}
}

func TestAKilledRuntimePluginIsRestartedAndTasksAreUntouched(t *testing.T) {
	n := startHive(t, "HIVE_PLUGINS_HEALTH_INTERVAL=1s")
	port := createWeb(n, "web", 2)
	before := n.running("web")
	pid := n.pluginPID("runtime-docker")

	if err := exec.Command("kill", "-9", fmt.Sprint(pid)).Run(); err != nil {
		t.Fatalf("kill the plugin: %v", err)
	}
	n.eventually(20*time.Second, "the runtime plugin restarted", func() error {
		if p := n.pluginPID("runtime-docker"); p == 0 || p == pid {
			return fmt.Errorf("plugin pid %d (was %d)", p, pid)
		}
		return nil
	})
	if got := n.running("web"); !maps.Equal(got, before) {
		t.Fatalf("tasks changed across the plugin restart: %v -> %v", before, got)
	}
	if _, err := get("127.0.0.1:"+port, "/"); err != nil {
		t.Fatalf("service stopped answering: %v", err)
	}
	// The restarted plugin drives the tasks: a kill is still healed.
	victim := before[1]
	exec.Command("docker", "kill", victim).Run()
	n.eventually(15*time.Second, "slot 1 replaced by the restarted plugin", func() error {
		if now := n.running("web"); now[1] == "" || now[1] == victim {
			return fmt.Errorf("running %v", now)
		}
		return nil
	})
}

func (n *node) pluginPID(name string) int {
	n.t.Helper()
	out := n.must("plugin", "ls", "--format", "json")
	var ps []struct {
		Name  string `json:"name"`
		PID   int    `json:"pid"`
		State string `json:"state"`
	}
	mustJSON(n.t, out, &ps)
	for _, p := range ps {
		if p.Name == name && p.State == "running" {
			return p.PID
		}
	}
	return 0
}

func TestServiceRmRemovesEveryContainer(t *testing.T) {
	n := startHive(t)
	port := createWeb(n, "web", 3)
	out := n.must("service", "rm", "web")
	if strings.TrimSpace(out) != "web" {
		t.Errorf("service rm printed %q", out)
	}
	n.eventually(20*time.Second, "every container removed", func() error {
		if ids := n.containers("web"); len(ids) > 0 {
			return fmt.Errorf("%d containers left", len(ids))
		}
		return nil
	})
	n.eventually(5*time.Second, "the published port closed", func() error {
		if _, err := get("127.0.0.1:"+port, "/"); err == nil {
			return fmt.Errorf("port %s still answers", port)
		}
		return nil
	})
	if ls := n.must("service", "ls", "-q"); strings.TrimSpace(ls) != "" {
		t.Fatalf("service ls after rm: %q", ls)
	}
}
