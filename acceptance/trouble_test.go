//go:build acceptance

package acceptance

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestUnreachableRuntimeIsShown starts hive in the background with the
// containerd runtime pointed at a socket where nothing listens: `hive up -d`
// warns that the runtime plugin is unhealthy, says why and that the node
// cannot run tasks, and `plugin ls` shows it unhealthy with the reason.
func TestUnreachableRuntimeIsShown(t *testing.T) {
	dir, err := os.MkdirTemp("", "hive-acc-")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "nothing-listens.sock")
	n := &node{t: t, dataDir: dir, host: "unix://" + filepath.Join(dir, "hive.sock"), listen: "127.0.0.1:" + freePort(t)}
	var pid int
	t.Cleanup(func() {
		n.run("down")
		if pid > 0 {
			// The daemon leads its own session and process group, which
			// its plugins join: whatever the down left goes with it.
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
		os.RemoveAll(dir)
	})
	env := []string{"HIVE_PLUGINS_RUNTIME=containerd", "HIVE_PLUGINS_CONFIG_RUNTIME_CONTAINERD_SOCKET=" + sock}
	out, errOut, err := runEnv(env, "up", "-d", "-H", n.host, "--data-dir", dir, "--listen-addr", n.listen)
	if m := regexp.MustCompile(`hive is up \(pid (\d+)\)`).FindStringSubmatch(out); m != nil {
		pid, _ = strconv.Atoi(m[1])
	}
	if err != nil {
		t.Fatalf("hive up -d: %v\nstdout: %s\nstderr: %s", err, out, errOut)
	}
	want := "warning: runtime plugin runtime-containerd is unhealthy: health check: containerd at " + sock + " is unreachable"
	if !strings.Contains(errOut, want) || !strings.Contains(errOut, "; this node cannot run tasks until it is healthy\n") {
		t.Errorf("hive up -d does not warn of the unreachable runtime:\nstdout: %s\nstderr: %s\nwant it to contain %q", out, errOut, want)
	}

	ls := n.must("plugin", "ls", "--no-trunc")
	line := ""
	for l := range strings.SplitSeq(ls, "\n") {
		if strings.HasPrefix(l, "runtime-containerd ") {
			line = l
		}
	}
	if !strings.Contains(line, " unhealthy ") || !strings.Contains(line, "containerd at "+sock+" is unreachable") {
		t.Errorf("plugin ls --no-trunc does not show the runtime unhealthy with its reason:\n%s", ls)
	}
	if short := n.must("plugin", "ls"); !strings.Contains(short, " unhealthy ") || !strings.Contains(short, "…") {
		t.Errorf("plugin ls does not show the runtime unhealthy with its reason cut short:\n%s", short)
	}

	// node ls says why the node is not ready, and a task waiting for a
	// node names the runtime.
	unreachable := "containerd at " + sock + " is unreachable"
	n.eventually(30*time.Second, "node ls to show the node down for its runtime", func() error {
		out := n.must("node", "ls", "--no-trunc")
		if !strings.Contains(out, "Down") || !strings.Contains(out, "runtime plugin runtime-containerd is unhealthy: ") || !strings.Contains(out, unreachable) {
			return fmt.Errorf("node ls --no-trunc:\n%s", out)
		}
		return nil
	})
	name := uniq("pending")
	n.must("service", "create", "-d", "--name", name, "hive-test/web:v1")
	n.eventually(30*time.Second, "the pending task's reason to name the runtime", func() error {
		out := n.must("service", "ps", "--no-trunc", name)
		if !strings.Contains(out, "Pending") || !strings.Contains(out, "not ready: ") || !strings.Contains(out, unreachable) {
			return fmt.Errorf("service ps --no-trunc:\n%s", out)
		}
		return nil
	})
}

// TestServiceRmWait removes a service of two replicas with --wait: when it
// returns, no container of the service runs, and the agent removes them
// right after.
func TestServiceRmWait(t *testing.T) {
	n := startHive(t)
	name := uniq("rmwait")
	createWeb(n, name, 2)
	if got := len(n.runningContainers(name)); got != 2 {
		t.Fatalf("%d running containers of %s before rm, want 2", got, name)
	}
	if out := n.must("service", "rm", "--wait", name); out != name+"\n" {
		t.Errorf("service rm --wait printed %q", out)
	}
	if ids := n.runningContainers(name); len(ids) != 0 {
		t.Errorf("containers of %s still running after service rm --wait: %v", name, ids)
	}
	n.eventually(10*time.Second, "the stopped containers to be removed", func() error {
		if ids := n.containers(name); len(ids) != 0 {
			return fmt.Errorf("containers left: %v", ids)
		}
		return nil
	})
}

// runEnv runs the hive CLI with env added to the environment.
func runEnv(env []string, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, hiveBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	leaks.output(args, o.String(), e.String())
	return o.String(), e.String(), err
}

// TestMakeUpDownLeavesNoContainer runs README's `make up` (hive in the
// background and a demo of three replicas) and `make down` on a data
// directory of its own: when make down returns, hive has stopped and no
// container of the demo is left, running or not.
func TestMakeUpDownLeavesNoContainer(t *testing.T) {
	dir, err := os.MkdirTemp("", "hive-acc-")
	if err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, dataDir: dir, host: "unix://" + filepath.Join(dir, "hive.sock"), listen: "127.0.0.1:" + freePort(t)}
	port := freePort(t)
	env := []string{"HIVE_DATA_DIR=" + dir, "HIVE_HOST=" + n.host, "HIVE_LISTEN_ADDR=" + n.listen}
	makeIn := func(target string) string {
		cmd := exec.Command("make", "-C", "..", "--no-print-directory", target, "HIVE="+hiveBin, "DEMO_PORT="+port)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		leaks.output([]string{"make", target}, string(out), "")
		if err != nil {
			t.Fatalf("make %s: %v\n%s", target, err, out)
		}
		return string(out)
	}
	var pid int
	t.Cleanup(func() {
		if pid > 0 {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
		n.removeContainers()
		os.RemoveAll(dir)
	})
	makeIn("up")
	info := n.info()
	n.nodeID = info["node_id"].(string)
	pid = int(info["pid"].(float64))
	n.eventually(60*time.Second, "the demo's 3 containers to run", func() error {
		if got := len(n.runningContainers("demo")); got != 3 {
			return fmt.Errorf("%d running", got)
		}
		return nil
	})
	if _, err := get("127.0.0.1:"+port, "/"); err != nil {
		t.Errorf("the demo does not answer on port %s: %v", port, err)
	}

	makeIn("down")
	if ids := n.containers("demo"); len(ids) != 0 {
		t.Errorf("containers of the demo left after make down: %v", ids)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("hive (pid %d) still runs after make down", pid)
	}
}
