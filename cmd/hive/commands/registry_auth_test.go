package commands

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dockerLogin writes a docker CLI configuration holding user's login to
// server, as 'docker login' does without a credential helper, and returns
// its directory.
func dockerLogin(t *testing.T, server, user, password string) string {
	t.Helper()
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{"`+server+`":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// --with-registry-auth sends the login of the image's registry; the
// managers keep it as the service's pull secret. Without a login it says
// how to log in, and creates nothing.
func TestWithRegistryAuthSendsTheDockerLogin(t *testing.T) {
	h := newHarness(t)
	const password = "cli-pw-7a1c"
	h.env = append(h.env, "DOCKER_CONFIG="+dockerLogin(t, "127.0.0.1:5000", "ci", password))

	out, errOut, code := h.run("service", "create", "-d", "--with-registry-auth", "--name", "app", "127.0.0.1:5000/team/app:1")
	if code != 0 {
		t.Fatalf("create --with-registry-auth exited %d: %s", code, errOut)
	}
	svc := h.b.Service("app")
	if svc == nil || svc.Spec.Task.Container.PullSecret == "" {
		t.Fatalf("the service has no pull secret: %+v", svc)
	}
	inspect := h.mustRun("service", "inspect", "app")
	if strings.Contains(out+inspect, password) {
		t.Fatal("the password is in the CLI's output")
	}
	if !strings.Contains(inspect, svc.Spec.Task.Container.PullSecret) {
		t.Errorf("service inspect does not show the pull secret's ID:\n%s", inspect)
	}

	_, errOut, code = h.run("service", "create", "-d", "--with-registry-auth", "--name", "other", "registry.example.com/team/app:1")
	if code == 0 || !strings.Contains(errOut, "no credential for registry.example.com") || !strings.Contains(errOut, "docker login registry.example.com") {
		t.Fatalf("create with no login for the registry: exit %d: %s", code, errOut)
	}
	if h.b.Service("other") != nil {
		t.Fatal("a service was created though its credential could not be read")
	}
	_, errOut, code = h.run("service", "create", "-d", "--with-registry-auth", "--name", "hub", "nginx")
	if code == 0 || !strings.Contains(errOut, "no credential for docker.io") || !strings.Contains(errOut, "(docker login)") {
		t.Fatalf("create with no Docker Hub login: exit %d: %s", code, errOut)
	}

	// An update keeps the pull secret, with or without a new credential.
	h.mustRun("service", "update", "-d", "--label-add", "k=v", "app")
	h.mustRun("service", "update", "-d", "--with-registry-auth", "app")
	if got := h.b.Service("app").Spec.Task.Container.PullSecret; got != svc.Spec.Task.Container.PullSecret {
		t.Fatalf("the pull secret changed to %q", got)
	}
}
