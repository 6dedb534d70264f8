package commands

import (
	"strings"
	"testing"
)

func TestDockerEnv(t *testing.T) {
	h := newHarness(t)
	if _, stderr, code := h.run("docker-env"); code != 1 || !strings.Contains(stderr, "this manager serves no Docker API: docker_api.socket is empty") {
		t.Errorf("docker-env with the API off: exit %d, %s", code, stderr)
	}
	h.b.InfoValue.DockerAPI = "unix:///var/lib/hive/docker.sock"
	if out := h.mustRun("docker-env"); !strings.HasPrefix(out, "export DOCKER_HOST=unix:///var/lib/hive/docker.sock\n") {
		t.Errorf("docker-env:\n%s", out)
	}
	if out := h.mustRun("info"); !strings.Contains(out, "Docker API:  unix:///var/lib/hive/docker.sock") {
		t.Errorf("info:\n%s", out)
	}
	if out := h.mustRun("docker-env", "--unset"); out != "unset DOCKER_HOST\n" {
		t.Errorf("docker-env --unset: %q", out)
	}
	h.b.InfoValue.Role, h.b.InfoValue.DockerAPI = "worker", ""
	if _, stderr, code := h.run("docker-env"); code != 1 || !strings.Contains(stderr, "is a worker: only managers serve the Docker API") {
		t.Errorf("docker-env on a worker: exit %d, %s", code, stderr)
	}
}
