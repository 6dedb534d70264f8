//go:build acceptance

package acceptance

import (
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// startRegistry runs Debian's docker-registry on a free loopback port with
// its storage in a temp dir, and returns its address. The engine treats
// 127.0.0.0/8 registries as insecure, so plain HTTP works.
func startRegistry(t *testing.T) string { return runRegistry(t, "") }

// startPrivateRegistry is startRegistry with htpasswd authentication: only
// user with password may pull or push.
func startPrivateRegistry(t *testing.T, user, password string) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(file, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return runRegistry(t, fmt.Sprintf("auth:\n  htpasswd:\n    realm: hive-test\n    path: %s\n", file))
}

// runRegistry runs docker-registry with extra configuration.
func runRegistry(t *testing.T, extra string) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Fatalf("docker-registry is not installed (apt-get install docker-registry; .ci/run does it): %v", err)
	}
	dir := t.TempDir()
	addr := "127.0.0.1:" + freePort(t)
	cfg := fmt.Sprintf("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\nlog:\n  level: warn\n%s", filepath.Join(dir, "data"), addr, extra)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfgPath)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start docker-registry: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	eventually(t, 10*time.Second, "the registry answers", func() error {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	return addr
}

func TestAMissingImageIsPulledBeforeTheTaskStarts(t *testing.T) {
	reg := startRegistry(t)
	image := reg + "/hive-test/pulled:v1"
	for _, args := range [][]string{{"tag", imageV1, image}, {"push", image}, {"rmi", image}} {
		if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
			t.Fatalf("docker %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", image).Run() })
	if exec.Command("docker", "image", "inspect", image).Run() == nil {
		t.Fatal("the image is still present locally: the pull would not be exercised")
	}

	n := startHive(t)
	out := n.must("service", "create", "--name", "pulled", "--replicas", "2", image)
	if !strings.Contains(out, "verify: Service converged") {
		t.Fatalf("create did not converge:\n%s", out)
	}
	if err := exec.Command("docker", "image", "inspect", image).Run(); err != nil {
		t.Fatalf("the image was not pulled: %v", err)
	}
	if got := len(n.runningContainers("pulled")); got != 2 {
		t.Fatalf("%d containers running, want 2", got)
	}
}

// TestPrivateRegistryCredentials pulls from a registry that wants a
// password: without credentials the task is rejected saying so; with
// --with-registry-auth (hive's CLI, and the docker CLI through hive's
// Docker API) the nodes pull with the credential 'docker login' stored.
// The password is in no log, no output and no file of the data directory.
func TestPrivateRegistryCredentials(t *testing.T) {
	const user, password = "ci", "reg-pass-41f7a9"
	leaks.secret(t.Name(), "a registry password", password)
	reg := startPrivateRegistry(t, user, password)
	config := t.TempDir() // the docker CLI's configuration, with the login
	docker := func(args ...string) {
		t.Helper()
		cmd := exec.Command("docker", append([]string{"--config", config}, args...)...)
		if args[0] == "login" {
			cmd.Stdin = strings.NewReader(password)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("docker %s: %v: %s", args[0], err, out)
		}
	}
	image := reg + "/hive-test/private:v1"
	docker("login", "-u", user, "--password-stdin", reg)
	docker("tag", imageV1, image)
	docker("push", image)
	drop := func() {
		_ = exec.Command("docker", "rmi", "-f", image).Run()
		if exec.Command("docker", "image", "inspect", image).Run() == nil {
			t.Fatal("the image is still present locally: the pull would not be exercised")
		}
	}
	drop()
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", image).Run() })
	t.Setenv("DOCKER_CONFIG", config)

	n := startHive(t)
	_, _, err := n.run("service", "create", "--name", "anon", image)
	if err == nil {
		t.Fatal("a service pulling from a private registry without credentials converged")
	}
	rejected := false
	for _, tk := range n.tasks("anon") {
		rejected = rejected || tk.Status.State == "rejected" && strings.Contains(tk.Status.Err, "requires credentials") &&
			strings.Contains(tk.Status.Err, "--with-registry-auth")
	}
	if !rejected {
		t.Fatalf("no task of anon was rejected saying the registry requires credentials: %+v", n.tasks("anon"))
	}
	n.must("service", "rm", "anon")

	out := n.must("service", "create", "--with-registry-auth", "--name", "priv", image)
	if !strings.Contains(out, "verify: Service converged") {
		t.Fatalf("create --with-registry-auth did not converge:\n%s", out)
	}
	if got := len(n.runningContainers("priv")); got != 1 {
		t.Fatalf("%d containers of priv running, want 1", got)
	}
	inspect := n.must("service", "inspect", "priv")
	if !strings.Contains(inspect, "pull_secret") {
		t.Fatalf("service inspect shows no pull secret:\n%s", inspect)
	}
	if ls := n.must("secret", "ls"); strings.Contains(ls, "registry-auth") {
		t.Fatalf("secret ls shows the pull secret:\n%s", ls)
	}

	// The docker CLI through hive's Docker API, with the same login.
	drop()
	d := newDockerCLI(t, n, "")
	d.config = config
	out, stderr, err := d.run("service", "create", "--with-registry-auth", "--name", "dpriv", image)
	if err != nil || !strings.Contains(out, "converged") {
		t.Fatalf("docker service create --with-registry-auth: %v\n%s\n%s", err, out, stderr)
	}
	if strings.Contains(stderr, "could not be accessed on a registry") {
		t.Errorf("the docker CLI could not resolve the digest with the credential: %s", stderr)
	}
	if !strings.Contains(d.must("service", "inspect", "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}", "dpriv"), "@sha256:") {
		t.Error("the docker CLI did not pin the image to its digest on the private registry")
	}
	if got := len(n.runningContainers("dpriv")); got != 1 {
		t.Fatalf("%d containers of dpriv running, want 1", got)
	}

	n.must("service", "rm", "priv", "dpriv")
	err = filepath.WalkDir(n.dataDir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !e.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err == nil && strings.Contains(string(b), password) {
			return fmt.Errorf("the registry password is in plain text in %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
