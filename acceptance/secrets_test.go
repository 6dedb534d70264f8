//go:build acceptance

package acceptance

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSecretAndConfigCommands proves the commands of the seed: a secret
// from a file and one from stdin, listed and inspected without their
// values, granted to a service that reads both; bad input refused with a
// clear error and nothing created; rm refused while a service uses one,
// naming the service, and accepted after.
func TestSecretAndConfigCommands(t *testing.T) {
	n := startHive(t)
	n.forgetRunDir()
	fromFile, fromStdin := secretValue(t), secretValue(t)
	fileName, stdinName := uniq("tls_key"), uniq("db_password")
	path := filepath.Join(t.TempDir(), "key.txt")
	if err := os.WriteFile(path, []byte(fromFile), 0o600); err != nil {
		t.Fatal(err)
	}
	n.must("secret", "create", "--label", "env=prod", fileName, path)
	n.createSecret(stdinName, fromStdin)

	ls := n.must("secret", "ls")
	for _, name := range []string{fileName, stdinName} {
		if !strings.Contains(ls, name) {
			t.Errorf("secret ls lacks %s:\n%s", name, ls)
		}
	}
	inspect := n.must("secret", "inspect", fileName)
	if !strings.Contains(inspect, fileName) || !strings.Contains(inspect, `"env": "prod"`) {
		t.Errorf("secret inspect %s:\n%s", fileName, inspect)
	}

	// Bad input: a clear error, and nothing created.
	big := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(big, make([]byte, 600*1024), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"secret", "create", "too_big", big}, "500 KB"},
		{[]string{"secret", "create", "bad name!", path}, "name"},
		{[]string{"secret", "create", fileName, path}, "already in use"},
		{[]string{"config", "create", "bad/conf", path}, "name"},
	} {
		_, stderr, err := n.run(tc.args...)
		if err == nil || !strings.Contains(stderr, tc.want) {
			t.Errorf("hive %s: err %v, stderr %q, want an error about %q", strings.Join(tc.args, " "), err, stderr, tc.want)
		}
	}
	if ls := n.must("secret", "ls"); strings.Contains(ls, "too_big") || strings.Contains(ls, "bad name") {
		t.Errorf("a refused secret was created:\n%s", ls)
	}

	conf := uniq("app_conf")
	if _, err := n.runStdin("mode=fast\n", "config", "create", conf, "-"); err != nil {
		t.Fatal(err)
	}
	if out := n.must("config", "inspect", conf); !strings.Contains(out, conf) {
		t.Errorf("config inspect %s:\n%s", conf, out)
	}

	n.must("service", "create", "--name", "both",
		"--secret", fileName, "--secret", "source="+stdinName+",target=db",
		"--config", "source="+conf+",target=/app.conf",
		imageV1, "stat", "/run/secrets/"+fileName, "/run/secrets/db", "/app.conf")
	n.awaitLog("both", fmt.Sprintf(`/run/secrets/%s uid=0 gid=0 mode=0444 fs=tmpfs content=%q`, fileName, fromFile))
	n.awaitLog("both", fmt.Sprintf(`/run/secrets/db uid=0 gid=0 mode=0444 fs=tmpfs content=%q`, fromStdin))
	n.awaitLog("both", `/app.conf uid=0 gid=0 mode=0444 fs=tmpfs content="mode=fast\n"`)

	for _, args := range [][]string{{"secret", "rm", stdinName}, {"config", "rm", conf}} {
		_, stderr, err := n.run(args...)
		if err == nil || !strings.Contains(stderr, "in use by service both") {
			t.Errorf("hive %s while the service uses it: err %v, stderr %q", strings.Join(args, " "), err, stderr)
		}
	}
	if ls := n.must("secret", "ls"); !strings.Contains(ls, stdinName) {
		t.Errorf("a refused rm removed the secret:\n%s", ls)
	}

	// Every view of the service and its tasks, none with a value.
	n.must("service", "inspect", "both")
	n.must("service", "ps", "both", "--format", "json")
	n.must("secret", "inspect", stdinName)
	n.must("info")

	n.must("service", "rm", "both")
	n.must("secret", "rm", fileName, stdinName)
	n.must("config", "rm", conf)
	if ls := n.must("secret", "ls", "-q"); strings.TrimSpace(ls) != "" {
		t.Errorf("secrets left after rm: %s", ls)
	}
	n.assertNoPlaintext(fromFile)
	n.assertNoPlaintext(fromStdin)
}

// TestSecretUpdateRollsTheServicesThatUseIt proves rotation in place:
// `secret update` stores a new version, and the service that uses it is
// rolled through its rolling update, one task at a time (one of its two
// tasks runs throughout), until every task sees the new value.
func TestSecretUpdateRollsTheServicesThatUseIt(t *testing.T) {
	n := startHive(t)
	n.forgetRunDir()
	v1, v2 := secretValue(t), secretValue(t)
	name := uniq("token")
	n.createSecret(name, v1)
	n.must("service", "create", "--name", "rotated", "--replicas", "2",
		"--update-parallelism", "1", "--update-delay", "1s",
		"--secret", "source="+name+",target=tok",
		imageV1, "stat", "/run/secrets/tok")
	seeing := func(v string) error {
		ids := n.runningContainers("rotated")
		if len(ids) != 2 {
			return fmt.Errorf("%d containers running", len(ids))
		}
		for _, id := range ids {
			out, err := exec.Command("docker", "logs", id).CombinedOutput()
			if err != nil || !strings.Contains(string(out), fmt.Sprintf("content=%q", v)) {
				return fmt.Errorf("container %s: %v: %s", id[:12], err, out)
			}
		}
		return nil
	}
	n.eventually(30*time.Second, "both tasks reading the first value", func() error { return seeing(v1) })
	before := n.running("rotated")

	var (
		mu         sync.Mutex
		minRunning = 2
	)
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
			count := len(n.runningContainers("rotated"))
			mu.Lock()
			minRunning = min(minRunning, count)
			mu.Unlock()
		}
	}()
	out, err := n.runStdin(v2, "secret", "update", name, "-")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "value version 2") {
		t.Errorf("secret update printed %q", out)
	}
	n.eventually(60*time.Second, "both tasks replaced and reading the new value", func() error { return seeing(v2) })
	n.eventually(30*time.Second, "the update completed", func() error {
		if st := n.inspect("rotated").UpdateStatus; st == nil || st.State != "completed" {
			return fmt.Errorf("update status %+v", st)
		}
		return nil
	})
	close(done)
	<-sampled
	after := n.running("rotated")
	for slot, id := range after {
		if before[slot] == id {
			t.Errorf("slot %d still runs task %s from before the update", slot, id)
		}
	}
	if minRunning < 1 {
		t.Errorf("the update stopped every task at once (fewest running: %d): it did not roll", minRunning)
	}
	n.assertNoPlaintext(v1)
	n.assertNoPlaintext(v2)
}

// unlockKeyPattern matches an unlock key as hive prints it.
var unlockKeyPattern = regexp.MustCompile(`HIVEKEY-1-[A-Za-z0-9_-]+`)

// TestAnAutolockedManagerRestartsLocked proves autolock: once it is on,
// the unlock key is in no file; a restarted manager serves nothing but
// info and unlock, a wrong key leaves it locked with a clear error, the
// right key unlocks it with its services, tasks and secrets intact; after
// a rotation only the new key opens it; with autolock off it restarts
// unattended.
func TestAnAutolockedManagerRestartsLocked(t *testing.T) {
	n := startHive(t)
	n.forgetRunDir()
	value := secretValue(t)
	name := uniq("locked_secret")
	n.createSecret(name, value)
	n.must("service", "create", "--name", "kept", "--secret", name, imageV1, "stat", "/run/secrets/"+name)
	n.awaitLog("kept", fmt.Sprintf("content=%q", value))

	out := n.must("cluster", "update", "--autolock=true")
	key := unlockKeyPattern.FindString(out)
	if key == "" {
		t.Fatalf("cluster update --autolock=true printed no key:\n%s", out)
	}
	leaks.secret(t.Name(), "unlock key", key)
	if got := strings.TrimSpace(n.must("unlock-key", "-q")); got != key {
		t.Errorf("unlock-key -q printed another key")
	}
	if files := filesHolding(t, n.dataDir, key); len(files) > 0 {
		t.Errorf("the unlock key is on disk in %v", files)
	}

	restartLocked := func() {
		t.Helper()
		n.must("down")
		<-n.exited
		n.start()
		_, stderr, err := n.run("service", "ls")
		if err == nil || !strings.Contains(stderr, "locked") {
			t.Fatalf("a restarted autolocked manager served service ls: err %v, stderr %q", err, stderr)
		}
		if _, stderr, err := n.run("secret", "inspect", name); err == nil || !strings.Contains(stderr, "locked") {
			t.Errorf("a locked manager served secret inspect: err %v, stderr %q", err, stderr)
		}
	}
	unlock := func(k string) (string, error) { return n.runStdin(k+"\n", "unlock") }
	restartLocked()

	wrong := make([]byte, 32)
	rand.Read(wrong)
	wrongKey := "HIVEKEY-1-" + base64.RawURLEncoding.EncodeToString(wrong)
	leaks.secret(t.Name(), "wrong unlock key", wrongKey)
	if _, err := unlock(wrongKey); err == nil || !strings.Contains(err.Error(), "not the one this manager was locked with") {
		t.Errorf("unlock with a wrong key: %v", err)
	}
	if _, err := unlock("HIVEKEY-1-short"); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("unlock with a damaged key: %v", err)
	}
	if _, stderr, err := n.run("service", "ls"); err == nil || !strings.Contains(stderr, "locked") {
		t.Fatalf("after wrong keys the manager is not locked: err %v", err)
	}
	if out, err := unlock(key); err != nil || !strings.Contains(out, "unlocked") {
		t.Fatalf("unlock with the key: %v %q", err, out)
	}
	if ls := n.must("service", "ls"); !strings.Contains(ls, "kept") {
		t.Errorf("after unlock, service ls:\n%s", ls)
	}
	// The keys are back: a new task gets the secret.
	n.must("service", "create", "--name", "after", "--secret", name, imageV1, "stat", "/run/secrets/"+name)
	n.awaitLog("after", fmt.Sprintf("content=%q", value))

	out = n.must("unlock-key", "--rotate")
	newKey := unlockKeyPattern.FindString(out)
	if newKey == "" || newKey == key {
		t.Fatalf("unlock-key --rotate printed no new key:\n%s", out)
	}
	leaks.secret(t.Name(), "rotated unlock key", newKey)
	restartLocked()
	if _, err := unlock(key); err == nil {
		t.Error("the key from before the rotation still unlocks the manager")
	}
	if _, err := unlock(newKey); err != nil {
		t.Fatal(err)
	}

	if out := n.must("cluster", "update", "--autolock=false"); !strings.Contains(out, "Autolock is off") {
		t.Errorf("cluster update --autolock=false: %s", out)
	}
	n.must("down")
	<-n.exited
	n.start()
	if ls := n.must("service", "ls"); !strings.Contains(ls, "kept") {
		t.Errorf("with autolock off a restarted manager serves: service ls:\n%s", ls)
	}
	for _, k := range []string{key, newKey} {
		if files := filesHolding(t, n.dataDir, k); len(files) > 0 {
			t.Errorf("an unlock key is on disk in %v", files)
		}
	}
	n.assertNoPlaintext(value)
}
