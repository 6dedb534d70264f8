//go:build acceptance

package acceptance

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestANamedVolumeMountOutlivesTheTask(t *testing.T) {
	vol := uniq("hive-acc-vol")
	// Registered before the node, so it runs once the node's containers,
	// which hold the volume, are gone.
	t.Cleanup(func() {
		if out, err := exec.Command("docker", "volume", "rm", "-f", vol).CombinedOutput(); err != nil {
			t.Errorf("docker volume rm %s: %v: %s", vol, err, out)
		}
	})
	n := startHive(t)

	n.must("service", "create", "--name", "writer", "--mount", "type=volume,source="+vol+",target=/var/lib/data",
		imageV1, "write", "/var/lib/data/greeting", "hello from hive")
	n.must("service", "rm", "writer")
	n.must("service", "create", "--name", "reader", "--mount", "type=volume,source="+vol+",target=/data,readonly",
		imageV1, "cat", "/data/greeting")
	n.eventually(15*time.Second, "the reader printing the file", func() error {
		out, _, err := n.run("service", "logs", "reader")
		if err != nil || !strings.Contains(out, "hello from hive") {
			return fmt.Errorf("logs %q %v", out, err)
		}
		return nil
	})
}

func TestServiceLogsArePrefixedWithTheTaskAndNode(t *testing.T) {
	n := startHive(t)
	n.must("service", "create", "--name", "talker", "--replicas", "2", imageV1, "print", "3")
	host := n.info()["hostname"].(string)
	n.eventually(15*time.Second, "every task's lines", func() error {
		out, stderr, err := n.run("service", "logs", "--no-task-ids", "talker")
		if err != nil {
			return err
		}
		for _, want := range []string{"talker.1@" + host, "talker.2@" + host, "| line 3"} {
			if !strings.Contains(out, want) {
				return fmt.Errorf("no %q in stdout:\n%s", want, out)
			}
		}
		// As with docker service logs, the tasks' stderr goes to stderr.
		if !strings.Contains(stderr, "| err line") {
			return fmt.Errorf("no stderr line in:\n%s", stderr)
		}
		return nil
	})
	out, stderr, err := n.run("service", "logs", "--tail", "1", "-t", "talker")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out+stderr), "\n")
	if len(lines) != 2 {
		t.Fatalf("--tail 1 gave %d lines for 2 tasks:\n%s", len(lines), out)
	}
	for _, l := range lines {
		if !strings.Contains(l, time.Now().UTC().Format("2006-01-02")) {
			t.Errorf("-t line without a timestamp: %q", l)
		}
	}
}

func TestHostModePublishingBindsTheTaskPortOnTheNode(t *testing.T) {
	n := startHive(t)
	port := freePort(t)
	n.must("service", "create", "--name", "direct", "--publish", "published="+port+",target=80,mode=host", imageV1)
	body, err := get("127.0.0.1:"+port, "/")
	if err != nil {
		t.Fatalf("host-mode port: %v", err)
	}
	ids := n.containers("direct")
	if len(ids) != 1 || !strings.HasPrefix(ids[0], strings.Fields(body)[0]) {
		t.Fatalf("answer %q did not come from the task's container %v", body, ids)
	}
	out, _ := exec.Command("docker", "port", ids[0]).Output()
	if !strings.Contains(string(out), port) {
		t.Fatalf("docker port does not show the binding: %s", out)
	}
}

func TestEnvLimitsAndRestartPolicyReachTheContainer(t *testing.T) {
	n := startHive(t)
	n.must("service", "create", "--name", "tuned", "-e", "GREETING=hi", "--limit-memory", "64m", "--limit-cpu", "0.5",
		"--workdir", "/tmp", "--label", "team=core", "--restart-condition", "on-failure", imageV1)
	id := n.containers("tuned")[0]
	out, err := exec.Command("docker", "inspect", "-f",
		"{{json .Config.Env}} {{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.Config.WorkingDir}} {{index .Config.Labels \"hive.task.name\"}}", id).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, want := range []string{"GREETING=hi", "67108864", "500000000", "/tmp", "tuned.1"} {
		if !strings.Contains(got, want) {
			t.Errorf("docker inspect %q lacks %q", got, want)
		}
	}

	// on-failure: a clean exit is not restarted.
	addr := n.taskAddr("tuned")
	get(addr+":80", "/exit?code=0")
	n.eventually(10*time.Second, "the task complete", func() error {
		for _, tk := range n.tasks("tuned") {
			if tk.Status.State == "complete" {
				return nil
			}
		}
		return fmt.Errorf("tasks %+v", n.tasks("tuned"))
	})
	time.Sleep(6 * time.Second) // longer than the default restart delay
	if got := len(n.tasks("tuned")); got != 1 {
		t.Fatalf("on-failure restarted a task that exited 0: %d tasks", got)
	}
}

// taskAddr returns the container address of the service's first task.
func (n *node) taskAddr(service string) string {
	n.t.Helper()
	id := n.containers(service)[0]
	out, err := exec.Command("docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", id).Output()
	if err != nil {
		n.t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func TestHiveDownLeavesTasksRunningAndUpAdoptsThem(t *testing.T) {
	n := startHive(t)
	createWeb(n, "web", 2)
	before := n.running("web")
	out := n.must("down")
	if !strings.Contains(out, "hive stopped") {
		t.Fatalf("down printed %q", out)
	}
	<-n.exited
	if got := len(n.runningContainers("web")); got != 2 {
		t.Fatalf("%d containers running while hive is down, want 2", got)
	}
	n.start()
	n.eventually(10*time.Second, "the same tasks running", func() error {
		if got := n.running("web"); fmt.Sprint(got) != fmt.Sprint(before) {
			return fmt.Errorf("running %v, want %v", got, before)
		}
		return nil
	})
}
