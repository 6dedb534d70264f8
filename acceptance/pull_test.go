//go:build acceptance

package acceptance

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startRegistry runs Debian's docker-registry on a free loopback port with
// its storage in a temp dir, and returns its address. The engine treats
// 127.0.0.0/8 registries as insecure, so plain HTTP works.
func startRegistry(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Fatalf("docker-registry is not installed (apt-get install docker-registry; .ci/run does it): %v", err)
	}
	dir := t.TempDir()
	addr := "127.0.0.1:" + freePort(t)
	cfg := fmt.Sprintf("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\nlog:\n  level: warn\n", filepath.Join(dir, "data"), addr)
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
