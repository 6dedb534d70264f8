package conformance

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Helpers for the two ways the suite's images reach a runtime without
// the internet: loaded from an archive (Options.LoadImage, for instance
// with DockerSave's output) or pulled from a registry the test starts
// (Options.PullImage, with StartRegistry and PushWithDocker). They need
// the docker CLI and, for the registry, Debian's docker-registry; a test
// that uses them runs where hive's own tests run.

// DockerSave returns `docker save` output for refs: an archive a runtime
// can import (containerd's client Import reads it).
func DockerSave(ctx context.Context, refs ...string) ([]byte, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", append([]string{"save"}, refs...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("docker save %s: %v: %s", strings.Join(refs, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// StartRegistry runs a Docker registry (Debian's docker-registry binary)
// on a free loopback port with its storage in a temporary directory, and
// returns its host:port. It stops when t ends. Runtimes treat loopback
// registries as plain HTTP. With RequireBasicAuth it serves only the
// credential given.
func StartRegistry(t *testing.T, opts ...RegistryOption) string {
	t.Helper()
	var rc registryConfig
	for _, o := range opts {
		o(&rc)
	}
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Fatalf("docker-registry is not installed (apt-get install docker-registry): %v", err)
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := fmt.Sprintf("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\nlog:\n  level: warn\n",
		filepath.Join(dir, "data"), addr)
	if rc.basicAuth != nil {
		cfg += htpasswdConfig(t, dir, *rc.basicAuth)
	}
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfgPath)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start docker-registry: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("the registry at %s did not answer within 10s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// PushWithDocker pushes the local Docker image to registry under a name
// unique to the test, removes that name from Docker again (so that a
// Docker runtime must pull it), and returns the reference.
func PushWithDocker(t *testing.T, registry, image string) string {
	t.Helper()
	return pushWithDocker(t, nil, registry+"/hive-conformance/pulled", image)
}

// pushWithDocker is PushWithDocker with global docker options (such as
// --config DIR) and a repository to push to.
func pushWithDocker(t *testing.T, dockerOpts []string, repo, image string) string {
	t.Helper()
	ref := fmt.Sprintf("%s:%d", repo, time.Now().UnixNano())
	for _, args := range [][]string{{"tag", image, ref}, {"push", ref}, {"rmi", ref}} {
		if out, err := exec.Command("docker", append(slices.Clone(dockerOpts), args...)...).CombinedOutput(); err != nil {
			t.Fatalf("docker %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", ref).Run() })
	return ref
}
