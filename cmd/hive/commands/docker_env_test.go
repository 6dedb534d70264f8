package commands

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/dockerapi"
	"github.com/hiveorch/hive/internal/testutil"
)

func TestDockerEnv(t *testing.T) {
	h := newHarness(t)
	if _, stderr, code := h.run("docker-env"); code != 1 || !strings.Contains(stderr, "this manager serves no Docker API on a unix socket: docker_api.socket is empty") {
		t.Errorf("docker-env with the API off: exit %d, %s", code, stderr)
	}
	if _, stderr, code := h.run("docker-env", "--tcp"); code != 1 || !strings.Contains(stderr, "this manager serves no Docker API over TCP: docker_api.listen is empty") {
		t.Errorf("docker-env --tcp with the API off: exit %d, %s", code, stderr)
	}
	if out := h.mustRun("info"); !strings.Contains(out, "Docker API:  off (docker_api.socket and docker_api.listen are empty)") {
		t.Errorf("info:\n%s", out)
	}
	h.b.InfoValue.DockerAPI = "unix:///var/lib/hive/docker.sock"
	if out := h.mustRun("docker-env"); !strings.HasPrefix(out, "export DOCKER_HOST=unix:///var/lib/hive/docker.sock\n") {
		t.Errorf("docker-env:\n%s", out)
	}
	if out := h.mustRun("info"); !strings.Contains(out, "Docker API:  unix:///var/lib/hive/docker.sock (eval $(hive docker-env) points the docker CLI at it)\n") {
		t.Errorf("info:\n%s", out)
	}
	if out := h.mustRun("docker-env", "--unset"); out != "unset DOCKER_HOST DOCKER_TLS_VERIFY DOCKER_CERT_PATH\n" {
		t.Errorf("docker-env --unset: %q", out)
	}

	// Over TCP, from the local CLI: the client certificate must be there.
	h.b.InfoValue.DockerAPITCP = "tcp://0.0.0.0:2376"
	if out := h.mustRun("info"); !strings.Contains(out, "; tcp://0.0.0.0:2376 with TLS (eval $(hive docker-env --tcp))\n") {
		t.Errorf("info:\n%s", out)
	}
	dir := filepath.Join(t.TempDir(), "my tls")
	_, stderr, code := h.run("--tls-dir", dir, "docker-env", "--tcp")
	if code != 1 || !strings.Contains(stderr, "no client certificate for the docker CLI: "+filepath.Join(dir, "ca.pem")+" does not exist: run 'hive cluster client-cert' again") {
		t.Errorf("docker-env --tcp without a certificate: exit %d, %s", code, stderr)
	}
	withCA(t, h)
	h.mustRun("cluster", "client-cert", "--out", dir)
	want := "export DOCKER_HOST=tcp://127.0.0.1:2376\nexport DOCKER_TLS_VERIFY=1\nexport DOCKER_CERT_PATH='" + dir + "'\n"
	if out := h.mustRun("--tls-dir", dir, "docker-env", "--tcp"); !strings.HasPrefix(out, want) {
		t.Errorf("docker-env --tcp:\n%s\nwant it to start\n%s", out, want)
	}

	h.b.InfoValue.DockerAPI = ""
	if _, stderr, code := h.run("docker-env"); code != 1 || !strings.Contains(stderr, "it serves it over TCP at tcp://0.0.0.0:2376: run 'hive docker-env --tcp'") {
		t.Errorf("docker-env with the TCP API only: exit %d, %s", code, stderr)
	}
	h.b.InfoValue.Role, h.b.InfoValue.DockerAPITCP = "worker", ""
	if _, stderr, code := h.run("docker-env"); code != 1 || !strings.Contains(stderr, "is a worker: only managers serve the Docker API") {
		t.Errorf("docker-env on a worker: exit %d, %s", code, stderr)
	}
}

func TestDockerTCPHost(t *testing.T) {
	for _, tc := range []struct{ served, hiveHost, want string }{
		{"tcp://10.0.0.5:2376", "tcp://manager.example.com:4242", "tcp://10.0.0.5:2376"},
		{"tcp://docker.example.com:2376", "unix:///var/lib/hive/hive.sock", "tcp://docker.example.com:2376"},
		{"tcp://0.0.0.0:2376", "tcp://10.0.0.5:4242", "tcp://10.0.0.5:2376"},
		{"tcp://[::]:2376", "tcp://[fd00::5]:4242", "tcp://[fd00::5]:2376"},
		{"tcp://:2376", "tcp://manager.example.com:4242", "tcp://manager.example.com:2376"},
		{"tcp://0.0.0.0:2376", "unix:///var/lib/hive/hive.sock", "tcp://127.0.0.1:2376"},
	} {
		got, err := dockerTCPHost(&api.Info{DockerAPITCP: tc.served}, tc.hiveHost)
		if err != nil || got != tc.want {
			t.Errorf("dockerTCPHost(%s, %s) = %q, %v; want %q", tc.served, tc.hiveHost, got, err, tc.want)
		}
	}
}

// TestDockerCLIOverTCPWithTLS serves the Docker API over TCP with a
// listener certificate, as a manager with docker_api.listen does, and
// drives it with the real docker CLI and the client certificate of
// 'hive cluster client-cert': it gets in with TLS verified, is refused
// without TLS or with another CA's certificate, and a worker's
// certificate gets a 403 that says which one to use. 'hive docker-env'
// run against the manager's cluster port prints what the docker CLI
// needs.
func TestDockerCLIOverTCPWithTLS(t *testing.T) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		testutil.Unavailable(t, "the docker CLI is not installed (apt-get install docker.io): %v", err)
	}
	h := newHarness(t)
	root, clusterAddr := withClusterPort(t, h)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dnsNames, ips, err := ca.ListenerNames("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	lc, err := ca.NewListenerCert(root, h.b.InfoValue.NodeID, dnsNames, ips, time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- dockerapi.NewServer(h.b, testutil.Logger(t)).ServeTLS(ctx, ln, lc.TLSConfig(), ca.OUManager, ca.OUClient)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeTLS: %v", err)
		}
	})
	port := ln.Addr().(*net.TCPAddr).Port
	// Served on all addresses, as the manager reports it: docker-env
	// gives the host the CLI dialed.
	h.b.InfoValue.DockerAPITCP = "tcp://0.0.0.0:" + strconv.Itoa(port)
	addr := "tcp://127.0.0.1:" + strconv.Itoa(port)

	dir := filepath.Join(t.TempDir(), "tls")
	h.mustRun("cluster", "client-cert", "--out", dir, "--name", "remote")

	config := t.TempDir()
	run := func(env []string, args ...string) (string, error) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), docker, args...)
		cmd.Env = []string{"DOCKER_CONFIG=" + config}
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "DOCKER_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		t.Logf("%s docker %s -> %v\n%s", strings.Join(env, " "), strings.Join(args, " "), err, out)
		return string(out), err
	}
	tlsEnv := func(certDir string) []string {
		return []string{"DOCKER_HOST=" + addr, "DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + certDir}
	}

	if out, err := run(tlsEnv(dir), "version", "--format", "{{.Server.APIVersion}}"); err != nil || strings.TrimSpace(out) != dockerapi.APIVersion {
		t.Fatalf("docker version over TLS: %v, %q", err, out)
	}
	if out, err := run(tlsEnv(dir), "node", "ls"); err != nil || !strings.Contains(out, "laptop") || !strings.Contains(out, "worker-1") {
		t.Fatalf("docker node ls over TLS: %v\n%s", err, out)
	}

	if out, err := run([]string{"DOCKER_HOST=" + addr}, "node", "ls"); err == nil || !strings.Contains(out, "Client sent an HTTP request to an HTTPS server") {
		t.Errorf("docker node ls over plain TCP: %v\n%s", err, out)
	}

	other, err := ca.NewRoot(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// With TLS 1.3 the client learns of the server's refusal of its
	// certificate from the alert, or, when it writes its request before
	// the alert arrives, from the reset of the connection the server closed.
	if out, err := run(tlsEnv(certDirOf(t, root, other, "intruder", ca.OUClient)), "node", "ls"); err == nil ||
		!(strings.Contains(out, "unknown certificate authority") || strings.Contains(out, "connection reset by peer")) {
		t.Errorf("docker node ls with another CA's certificate: %v\n%s", err, out)
	}
	workerDir := certDirOf(t, root, root, "worker1", ca.OUWorker)
	if code, body := getWith(t, workerDir, "https://127.0.0.1:"+strconv.Itoa(port)+"/v1.44/nodes"); code != http.StatusForbidden || !strings.HasPrefix(body, `{"message":"worker certificates (worker1) may not call hive's Docker API`) {
		t.Errorf("GET /nodes with a worker's certificate: %d %s, want a 403 in dockerd's format", code, body)
	}
	if out, err := run(tlsEnv(workerDir), "node", "ls"); err == nil ||
		!strings.Contains(out, "Error response from daemon: worker certificates (worker1) may not call hive's Docker API, only manager and client certificates") {
		t.Errorf("docker node ls with a worker's certificate: %v\n%s", err, out)
	}

	// hive docker-env against the manager's cluster port.
	remote := []string{"HIVE_HOST=tcp://" + clusterAddr, "HIVE_TLS_DIR=" + dir}
	out, errOut, code := runCLI(t, remote, "docker-env")
	if code != 0 {
		t.Fatalf("remote docker-env: exit %d: %s", code, errOut)
	}
	var env []string
	for _, line := range strings.Split(out, "\n") {
		if kv, ok := strings.CutPrefix(line, "export "); ok {
			env = append(env, kv)
		}
	}
	if want := tlsEnv(dir); strings.Join(env, " ") != strings.Join(want, " ") {
		t.Fatalf("remote docker-env exports %v, want %v", env, want)
	}
	if out, err := run(env, "node", "ls"); err != nil || !strings.Contains(out, "laptop") {
		t.Fatalf("docker node ls with docker-env's exports: %v\n%s", err, out)
	}
}

// certDirOf writes, for the docker CLI, the certificate of name with role
// ou signed by signer, and trust in root.
func certDirOf(t *testing.T, root, signer *ca.Root, name, ou string) string {
	t.Helper()
	key, _ := ca.GenerateKey()
	var certPEM []byte
	var err error
	if ou == ca.OUClient {
		certPEM, err = signer.IssueClient(&key.PublicKey, name, time.Now(), time.Hour)
	} else {
		certPEM, err = signer.Issue(&key.PublicKey, name, ou, time.Now(), time.Hour)
	}
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, _ := ca.MarshalKey(key)
	dir := t.TempDir()
	if err := writeClientCert(dir, root.PEM, certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	return dir
}

// getWith GETs url with the client certificate in the docker CLI's files
// of dir, and returns the status and body.
func getWith(t *testing.T, dir, url string) (int, string) {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, dockerCertFile), filepath.Join(dir, dockerKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, dockerCACertFile))
	if err != nil {
		t.Fatal(err)
	}
	root, err := ca.ParseRoot(caPEM, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: root.Pool(), MinVersion: tls.VersionTLS13}}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
