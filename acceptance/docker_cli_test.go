//go:build acceptance

package acceptance

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The real docker CLI (the system's, client 28) drives hive through the
// Docker-compatible API every manager serves on DATA_DIR/docker.sock, with
// a temporary DOCKER_CONFIG, at the negotiated API version and pinned to
// 1.41 and 1.44; what it makes is hive's, and the other way round.

// dockerCLI runs docker against n's Docker API; version pins
// DOCKER_API_VERSION unless "".
type dockerCLI struct {
	t       *testing.T
	host    string
	config  string
	version string
	// env is more of the CLI's environment: DOCKER_TLS_VERIFY and
	// DOCKER_CERT_PATH for a tcp:// host.
	env []string
}

func newDockerCLI(t *testing.T, n *node, version string) *dockerCLI {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		t.Fatalf("the docker CLI is not installed (apt-get install docker.io; .ci/run does it): %v", err)
	}
	sock := filepath.Join(n.dataDir, "docker.sock")
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("hive serves no Docker API socket at %s: %v", sock, err)
	}
	return &dockerCLI{t: t, host: "unix://" + sock, config: t.TempDir(), version: version}
}

func (d *dockerCLI) run(args ...string) (stdout, stderr string, err error) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	env := append([]string{"DOCKER_HOST=" + d.host, "DOCKER_CONFIG=" + d.config}, d.env...)
	if d.version != "" {
		env = append(env, "DOCKER_API_VERSION="+d.version)
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DOCKER_") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	leaks.output(append([]string{"docker"}, args...), out.String(), errOut.String())
	d.t.Logf("docker %s (API %s) -> %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), d.version, err, out.String(), errOut.String())
	return out.String(), errOut.String(), err
}

func (d *dockerCLI) must(args ...string) string {
	d.t.Helper()
	out, stderr, err := d.run(args...)
	if err != nil {
		d.t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return out
}

func TestDockerCLISystemNodesSecretsConfigs(t *testing.T) {
	n := startHive(t)
	forAPIVersions(t, n, []string{"", "1.41", "1.44"}, func(t *testing.T, d *dockerCLI, version string) {
		out := d.must("version", "--format", "{{.Server.Version}} {{.Server.APIVersion}} {{.Client.APIVersion}}")
		wantAPI := version
		if wantAPI == "" {
			wantAPI = "1.44"
		}
		if f := strings.Fields(out); len(f) != 3 || f[1] != "1.44" || f[2] != wantAPI {
			t.Errorf("docker version: %q, want the server's API 1.44 and the client's %s", out, wantAPI)
		}
		// The node's own record reaches the store a moment after
		// the API answers.
		n.eventually(10*time.Second, "docker info showing the node and its manager", func() error {
			info := d.must("info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.Swarm.NodeID}} {{.Swarm.Managers}}")
			if f := strings.Fields(info); len(f) != 4 || f[0] != "active" || f[1] != "true" || f[2] != n.nodeID || f[3] != "1" {
				return fmt.Errorf("docker info: %q, want active, a manager, node %s, 1 manager", info, n.nodeID)
			}
			return nil
		})
		n.eventually(10*time.Second, "docker node ls showing this node ready", func() error {
			ls := d.must("node", "ls")
			if !strings.Contains(ls, n.nodeID+" *") || !strings.Contains(ls, "Leader") || !strings.Contains(ls, "Ready") || !strings.Contains(ls, "Active") {
				return fmt.Errorf("docker node ls:\n%s", ls)
			}
			return nil
		})
		if got := strings.TrimSpace(d.must("node", "inspect", "self", "--format", "{{.ID}} {{.Spec.Role}}")); got != n.nodeID+" manager" {
			t.Errorf("docker node inspect self: %q", got)
		}

		// Secrets: made by docker, seen by hive, never read back.
		sec := uniq("dsec")
		leaks.secret(t.Name(), "a secret made with docker", "docker-made-s3cret")
		leaks.secret(t.Name(), "a secret made with hive", "hive-made-s3cret")
		cmd := exec.Command("docker", "secret", "create", "--label", "env=test", sec, "-")
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.host, "DOCKER_CONFIG="+d.config, "DOCKER_API_VERSION="+wantAPI)
		cmd.Stdin = strings.NewReader("docker-made-s3cret")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("docker secret create: %v: %s", err, out)
		}
		if out := n.must("secret", "ls"); !strings.Contains(out, sec) {
			t.Errorf("hive secret ls lacks %s:\n%s", sec, out)
		}
		if out := d.must("secret", "inspect", sec); strings.Contains(out, "docker-made-s3cret") || !strings.Contains(out, `"env": "test"`) {
			t.Errorf("docker secret inspect shows the value or lacks the label:\n%s", out)
		}
		hsec := uniq("hsec")
		if _, err := n.runStdin("hive-made-s3cret", "secret", "create", hsec, "-"); err != nil {
			t.Fatal(err)
		}
		if out := d.must("secret", "ls"); !strings.Contains(out, hsec) || !strings.Contains(out, sec) {
			t.Errorf("docker secret ls:\n%s", out)
		}
		d.must("secret", "rm", sec, hsec)
		if out := n.must("secret", "ls"); strings.Contains(out, sec) || strings.Contains(out, hsec) {
			t.Errorf("secrets left after docker secret rm:\n%s", out)
		}
		if _, stderr, err := d.run("secret", "inspect", sec); err == nil || !strings.Contains(stderr, "not found") {
			t.Errorf("docker secret inspect of a removed secret: %v, %s", err, stderr)
		}

		// Configs: their data comes back.
		cfg := uniq("dcfg")
		f := filepath.Join(t.TempDir(), "site.conf")
		if err := os.WriteFile(f, []byte("greeting: hello"), 0o600); err != nil {
			t.Fatal(err)
		}
		d.must("config", "create", cfg, f)
		if out := n.must("config", "inspect", "--pretty", cfg); !strings.Contains(out, "greeting: hello") {
			t.Errorf("hive config inspect:\n%s", out)
		}
		if out := d.must("config", "inspect", "--pretty", cfg); !strings.Contains(out, "greeting: hello") {
			t.Errorf("docker config inspect --pretty:\n%s", out)
		}
		d.must("config", "rm", cfg)
	})
}

// TestDockerCLIServices drives services with docker service: create with
// its progress display, ls, ps, inspect, scale, update, rollback, logs and
// rm, each visible through hive's own CLI.
func TestDockerCLIServices(t *testing.T) {
	n := startHive(t)
	forAPIVersions(t, n, []string{"", "1.41"}, func(t *testing.T, d *dockerCLI, version string) {
		svc := uniq("dweb")
		out := d.must("service", "create", "--name", svc, "--replicas", "2", "--label", "made=docker", imageV1)
		if !strings.Contains(out, "verify: Service") || !strings.Contains(out, "converged") {
			t.Errorf("docker service create did not follow the service to convergence:\n%s", out)
		}
		if got := len(n.runningContainers(svc)); got != 2 {
			t.Fatalf("%d containers of %s running, want 2", got, svc)
		}
		if out := n.must("service", "ls"); !strings.Contains(out, svc) || !strings.Contains(out, "2/2") {
			t.Errorf("hive service ls:\n%s", out)
		}
		if out := d.must("service", "ls"); !strings.Contains(out, svc) || !strings.Contains(out, "2/2") || !strings.Contains(out, "replicated") {
			t.Errorf("docker service ls:\n%s", out)
		}
		if out := d.must("service", "ps", svc); strings.Count(out, "Running") < 2 || !strings.Contains(out, svc+".1") {
			t.Errorf("docker service ps:\n%s", out)
		}
		if got := strings.TrimSpace(d.must("service", "inspect", "--format", "{{.Spec.Labels.made}} {{.Spec.TaskTemplate.ContainerSpec.Image}}", svc)); got != "docker "+imageV1 {
			t.Errorf("docker service inspect: %q", got)
		}
		d.must("service", "scale", svc+"=3")
		n.eventually(60*time.Second, "3 containers after docker service scale", func() error {
			if got := len(n.runningContainers(svc)); got != 3 {
				return fmt.Errorf("%d running", got)
			}
			return nil
		})
		d.must("service", "update", "--image", imageV2, svc)
		if got := n.inspect(svc).Spec.Task.Container.Image; got != imageV2 {
			t.Errorf("after docker service update, hive says the image is %s", got)
		}
		d.must("service", "rollback", svc)
		if got := n.inspect(svc).Spec.Task.Container.Image; got != imageV1 {
			t.Errorf("after docker service rollback, hive says the image is %s", got)
		}
		if out := d.must("service", "logs", svc); !strings.Contains(out, svc+".") {
			t.Errorf("docker service logs:\n%s", out)
		}
		d.must("service", "rm", svc)
		if _, _, err := n.run("service", "inspect", svc); err == nil {
			t.Errorf("hive still has %s after docker service rm", svc)
		}
		// And hive's service, seen and removed by docker.
		hsvc := uniq("hweb")
		n.must("service", "create", "-d", "--name", hsvc, imageV1)
		if out := d.must("service", "ls", "--filter", "name="+hsvc, "--format", "{{.Name}} {{.Mode}}"); strings.TrimSpace(out) != hsvc+" replicated" {
			t.Errorf("docker service ls --filter name=%s: %q", hsvc, out)
		}
		d.must("service", "rm", hsvc)
		n.eventually(60*time.Second, "the services' containers gone", func() error {
			if c := n.containers(svc); len(c) > 0 {
				return fmt.Errorf("%s: %v", svc, c)
			}
			if c := n.containers(hsvc); len(c) > 0 {
				return fmt.Errorf("%s: %v", hsvc, c)
			}
			return nil
		})
	})
}

// dockerStackFile is a stack for docker stack deploy: two networks, a
// secret and a config, both from files.
const dockerStackFile = `version: "3.8"
services:
  web:
    image: hive-test/web:v1
    networks: [front]
    ports: ["PORT:80"]
    configs:
      - source: site
        target: /etc/site.conf
    deploy:
      replicas: 2
  api:
    image: hive-test/web:v1
    networks: [front, back]
    secrets: [db_password]
networks:
  front: {}
  back: {}
secrets:
  db_password:
    file: ./db_password.txt
configs:
  site:
    file: ./site.conf
`

// TestDockerCLINetworksAndStacks drives docker network and docker stack
// against hive: the stack's objects are hive's, its services reach each
// other, and docker stack rm removes them all.
func TestDockerCLINetworksAndStacks(t *testing.T) {
	n := startHive(t)
	forAPIVersions(t, n, []string{"", "1.41"}, func(t *testing.T, d *dockerCLI, version string) {
		net := uniq("dnet")
		d.must("network", "create", "-d", "overlay", "--subnet", "10.123.0.0/24", "--label", "made=docker", net)
		if out := n.must("network", "ls"); !strings.Contains(out, net) || !strings.Contains(out, "10.123.0.0/24") {
			t.Errorf("hive network ls:\n%s", out)
		}
		if out := d.must("network", "ls", "--filter", "label=made=docker", "--format", "{{.Name}} {{.Driver}} {{.Scope}}"); strings.TrimSpace(out) != net+" overlay swarm" {
			t.Errorf("docker network ls: %q", out)
		}
		if _, stderr, err := d.run("network", "create", "-d", "bridge", uniq("bad")); err == nil || !strings.Contains(stderr, "Driver") {
			t.Errorf("docker network create -d bridge: %v, %s", err, stderr)
		}
		d.must("network", "rm", net)

		stack := uniq("dstk")
		dir := t.TempDir()
		port := freePort(t)
		for file, content := range map[string]string{
			"compose.yaml":    strings.Replace(dockerStackFile, "PORT", port, 1),
			"db_password.txt": "docker-stack-s3cret",
			"site.conf":       "greeting: from docker",
		} {
			if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		leaks.secret(t.Name(), "a docker stack's secret", "docker-stack-s3cret")
		cmd := exec.Command("docker", "stack", "deploy", "-c", "compose.yaml", stack)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.host, "DOCKER_CONFIG="+d.config)
		if version != "" {
			cmd.Env = append(cmd.Env, "DOCKER_API_VERSION="+version)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("docker stack deploy: %v\n%s", err, out)
		}
		for _, want := range []string{"Creating network " + stack + "_front", "Creating secret " + stack + "_db_password", "Creating config " + stack + "_site", "Creating service " + stack + "_web"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("docker stack deploy output lacks %q:\n%s", want, out)
			}
		}
		if ls := n.must("stack", "ls"); !strings.Contains(ls, stack+" ") {
			t.Errorf("hive stack ls lacks %s:\n%s", stack, ls)
		}
		n.eventually(60*time.Second, "the docker stack's 3 tasks running", func() error {
			if got := len(n.runningContainers(stack+"_web")) + len(n.runningContainers(stack+"_api")); got != 3 {
				return fmt.Errorf("%d running", got)
			}
			return nil
		})
		n.eventually(20*time.Second, "web's config through the published port", func() error {
			body, err := get("127.0.0.1:"+port, "/file?path=/etc/site.conf")
			if err != nil || body != "greeting: from docker" {
				return fmt.Errorf("%q, %v", body, err)
			}
			return nil
		})
		// The containers run before their tasks' status says so.
		n.eventually(20*time.Second, "docker stack services to count every task running", func() error {
			if out := d.must("stack", "services", stack); !strings.Contains(out, stack+"_web") || !strings.Contains(out, "2/2") || !strings.Contains(out, "1/1") {
				return fmt.Errorf("docker stack services:\n%s", out)
			}
			return nil
		})
		if out := d.must("stack", "ps", "--filter", "desired-state=running", "--format", "{{.Name}} {{.CurrentState}}", stack); strings.Count(out, " Running") != 3 {
			t.Errorf("docker stack ps:\n%s", out)
		}
		if out := d.must("stack", "ls"); !strings.Contains(out, stack) {
			t.Errorf("docker stack ls:\n%s", out)
		}
		d.must("stack", "rm", stack)
		n.eventually(60*time.Second, "the docker stack gone", func() error {
			if ls := n.must("stack", "ls"); strings.Contains(ls, stack+" ") {
				return fmt.Errorf("hive stack ls:\n%s", ls)
			}
			if c := append(n.containers(stack+"_web"), n.containers(stack+"_api")...); len(c) > 0 {
				return fmt.Errorf("containers left: %v", c)
			}
			return nil
		})
	})
}

// forAPIVersions runs fn as a subtest per API version, with a docker CLI
// pinned to it ("" negotiates).
// TestDockerCLIOverTLS: a manager with docker_api.listen serves the
// Docker API over TCP with TLS; the docker CLI gets in with the client
// certificate 'hive cluster client-cert' wrote and the variables 'hive
// docker-env --tcp' prints, and not without them.
func TestDockerCLIOverTLS(t *testing.T) {
	addr := "127.0.0.1:" + freePort(t)
	n := startHive(t, "HIVE_DOCKER_API_LISTEN="+addr)
	if got := n.info()["docker_api_tcp"]; got != "tcp://"+addr {
		t.Fatalf("hive info: docker_api_tcp %v, want tcp://%s", got, addr)
	}
	dir := filepath.Join(t.TempDir(), "tls")
	n.must("cluster", "client-cert", "--out", dir)
	var env []string
	for _, line := range strings.Split(n.must("--tls-dir", dir, "docker-env", "--tcp"), "\n") {
		if kv, ok := strings.CutPrefix(line, "export "); ok {
			env = append(env, kv)
		}
	}
	want := []string{"DOCKER_HOST=tcp://" + addr, "DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + dir}
	if strings.Join(env, " ") != strings.Join(want, " ") {
		t.Fatalf("hive docker-env --tcp exports %v, want %v", env, want)
	}
	d := &dockerCLI{t: t, host: "tcp://" + addr, config: t.TempDir(), env: env[1:]}
	n.eventually(10*time.Second, "docker node ls over TLS showing this node ready", func() error {
		if ls := d.must("node", "ls"); !strings.Contains(ls, n.nodeID+" *") || !strings.Contains(ls, "Ready") {
			return fmt.Errorf("docker node ls:\n%s", ls)
		}
		return nil
	})
	if out := d.must("service", "ls"); !strings.HasPrefix(out, "ID ") {
		t.Errorf("docker service ls over TLS:\n%s", out)
	}
	plain := &dockerCLI{t: t, host: "tcp://" + addr, config: d.config}
	if _, stderr, err := plain.run("node", "ls"); err == nil || !strings.Contains(stderr, "Client sent an HTTP request to an HTTPS server") {
		t.Errorf("docker node ls without TLS: %v, %s", err, stderr)
	}
}

func forAPIVersions(t *testing.T, n *node, versions []string, fn func(t *testing.T, d *dockerCLI, version string)) {
	for _, version := range versions {
		name := "negotiated"
		if version != "" {
			name = "API " + version
		}
		t.Run(name, func(t *testing.T) { fn(t, newDockerCLI(t, n, version), version) })
	}
}
