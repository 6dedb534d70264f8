//go:build acceptance

package acceptance

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The nodes' runtime directory (core/daemon.RunDir): each node mounts its
// tasks' secrets under <RunDir>/<node-id>/secrets/<task-id>.
const runDir = "/run/hive"

// secretValue returns a value no other test, log line or file holds.
func secretValue(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	v := "pw-" + hex.EncodeToString(b)
	leaks.secret(t.Name(), "secret value", v)
	return v
}

// runStdin runs a hive CLI command against n with stdin.
func (n *node) runStdin(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, hiveBin, append([]string{"-H", n.host}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	leaks.output(args, o.String(), e.String())
	if err != nil {
		return o.String(), fmt.Errorf("hive %s: %w\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, o.String(), e.String())
	}
	return o.String(), nil
}

// createSecret is `echo -n value | hive secret create name -`.
func (n *node) createSecret(name, value string) {
	n.t.Helper()
	if _, err := n.runStdin(value, "secret", "create", name, "-"); err != nil {
		n.t.Fatal(err)
	}
}

// awaitLog waits until the service's logs hold want.
func (n *node) awaitLog(service, want string) {
	n.t.Helper()
	n.eventually(30*time.Second, service+" printing "+want, func() error {
		out, _, err := n.run("service", "logs", service)
		if err != nil {
			return err
		}
		if !strings.Contains(out, want) {
			return fmt.Errorf("logs of %s lack %q:\n%s\ntasks: %+v", service, want, out, n.tasks(service))
		}
		return nil
	})
}

// filesHolding lists the files under dir whose content holds value.
func filesHolding(t *testing.T, dir, value string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) || os.IsPermission(err) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil // a socket or a file removed meanwhile
		}
		if bytes.Contains(b, []byte(value)) {
			found = append(found, p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("scan %s: %v", dir, err)
	}
	return found
}

// assertNoPlaintext checks that neither the node's data directory (every
// file: Raft log, snapshots, state) nor its log holds value.
func (n *node) assertNoPlaintext(value string) {
	n.t.Helper()
	if files := filesHolding(n.t, n.dataDir, value); len(files) > 0 {
		n.t.Errorf("node %s: the secret's plaintext is on disk in %v", n.nodeID, files)
	}
	if strings.Contains(n.logs(), value) {
		n.t.Errorf("node %s: the secret's plaintext is in the log", n.nodeID)
	}
}

// forgetRunDir removes the node's runtime directory when the test ends,
// once the node has stopped (its services removed first): a tmpfs still
// mounted there then is a leak, an error.
func (n *node) forgetRunDir() {
	dir := filepath.Join(runDir, n.nodeID)
	n.t.Cleanup(func() {
		n.cleanup()
		mounts, _ := os.ReadFile("/proc/self/mounts")
		for _, line := range strings.Split(string(mounts), "\n") {
			if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], dir+"/") {
				n.t.Errorf("node %s left a tmpfs mounted at %s", n.nodeID, f[1])
				exec.Command("umount", "-l", f[1]).Run()
			}
		}
		os.RemoveAll(dir)
	})
}

// taskSecretsDir is where the node mounts the task's secrets.
func (n *node) taskSecretsDir(taskID string) string {
	return filepath.Join(runDir, n.nodeID, "secrets", taskID)
}

// runningTask waits for the service's one running task and returns it.
func (n *node) runningTask(service string) task {
	n.t.Helper()
	var got task
	n.eventually(30*time.Second, service+" running", func() error {
		for _, tk := range n.tasks(service) {
			if tk.DesiredState == "running" && tk.Status.State == "running" {
				got = tk
				return nil
			}
		}
		return fmt.Errorf("tasks of %s: %+v", service, n.tasks(service))
	})
	return got
}

// TestASecretIsAFileOnTmpfsInTheTaskContainer proves what a task granted
// a secret sees: /run/secrets/TARGET holds exactly the value, owned and
// moded as asked, on a tmpfs; a task not granted it has no such file;
// nothing of it lands in the container's writable layer, the node's data
// directory or its log; and the node's tmpfs goes away with the task.
func TestASecretIsAFileOnTmpfsInTheTaskContainer(t *testing.T) {
	n := startHive(t)
	n.forgetRunDir()
	value := secretValue(t)
	name := uniq("db_password")
	n.createSecret(name, value)

	n.must("service", "create", "--name", "reader",
		"--secret", "source="+name+",target=db,uid=1000,gid=1000,mode=0400",
		imageV1, "stat", "/run/secrets/db")
	n.awaitLog("reader", fmt.Sprintf(`/run/secrets/db uid=1000 gid=1000 mode=0400 fs=tmpfs content=%q`, value))

	n.must("service", "create", "--name", "nogrant", imageV1, "stat", "/run/secrets/db")
	n.awaitLog("nogrant", `/run/secrets/db error="no such file or directory"`)

	reader := n.runningTask("reader")
	out, err := exec.Command("docker", "diff", reader.Status.ContainerID).CombinedOutput()
	if err != nil {
		t.Fatalf("docker diff: %v: %s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.Contains(line, "/run/secrets/") {
			t.Errorf("docker diff shows a file under /run/secrets: %q (all: %s)", line, out)
		}
	}
	dir := n.taskSecretsDir(reader.ID)
	if b, err := os.ReadFile(filepath.Join(dir, "secrets", "db")); err != nil || string(b) != value {
		t.Errorf("the node's file for the secret: %q, %v", b, err)
	}
	if mounts, err := os.ReadFile("/proc/self/mounts"); err != nil || !strings.Contains(string(mounts), " "+dir+" tmpfs ") {
		t.Errorf("%s is not a tmpfs mount on the host (%v)", dir, err)
	}
	n.assertNoPlaintext(value)

	n.must("service", "rm", "reader")
	n.eventually(30*time.Second, "the task's tmpfs removed", func() error {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			return fmt.Errorf("%s still exists (%v)", dir, err)
		}
		return nil
	})
	n.assertNoPlaintext(value)
}

// TestASecretReachesOnlyTheNodesThatRunItsTasks proves, with two nodes,
// that the node that runs no task granted the secret never receives it:
// it is nowhere in that node's log, data directory or tmpfs directory,
// while the other node's task reads it. No node's data directory holds
// the plaintext.
func TestASecretReachesOnlyTheNodesThatRunItsTasks(t *testing.T) {
	m := startManager(t)
	w := joinNode(t, m, "worker")
	m.forgetRunDir()
	w.forgetRunDir()
	value := secretValue(t)
	name := uniq("api_key")
	m.createSecret(name, value)

	m.must("service", "create", "--name", "granted", "--constraint", "node.id=="+m.nodeID,
		"--secret", "source="+name+",target=key",
		imageV1, "stat", "/run/secrets/key")
	m.must("service", "create", "--name", "other", "--constraint", "node.id=="+w.nodeID,
		imageV1, "stat", "/run/secrets/key")
	m.awaitLog("granted", fmt.Sprintf(`/run/secrets/key uid=0 gid=0 mode=0444 fs=tmpfs content=%q`, value))
	m.awaitLog("other", `/run/secrets/key error="no such file or directory"`)
	if tk := m.runningTask("granted"); tk.NodeID != m.nodeID {
		t.Fatalf("the granted task runs on %s, want %s", tk.NodeID, m.nodeID)
	}

	if files := filesHolding(t, filepath.Join(runDir, w.nodeID), value); len(files) > 0 {
		t.Errorf("the worker holds the secret in %v", files)
	}
	if entries, _ := os.ReadDir(filepath.Join(runDir, w.nodeID, "secrets")); len(entries) > 0 {
		t.Errorf("the worker mounted secrets for tasks %v", entries)
	}
	if strings.Contains(w.logs(), value) {
		t.Error("the worker's log holds the secret")
	}
	for _, n := range []*node{m, w} {
		n.assertNoPlaintext(value)
	}
}

// TestAConfigIsAFileAtItsTarget proves a config granted to a service is a
// read-only file at its absolute target, with the mode asked, on a tmpfs.
func TestAConfigIsAFileAtItsTarget(t *testing.T) {
	n := startHive(t)
	n.forgetRunDir()
	name := uniq("app_conf")
	if _, err := n.runStdin("listen=80\n", "config", "create", name, "-"); err != nil {
		t.Fatal(err)
	}
	n.must("service", "create", "--name", "configured",
		"--config", "source="+name+",target=/etc/app.conf,mode=0440",
		imageV1, "stat", "/etc/app.conf")
	n.awaitLog("configured", `/etc/app.conf uid=0 gid=0 mode=0440 fs=tmpfs content="listen=80\n"`)
}
