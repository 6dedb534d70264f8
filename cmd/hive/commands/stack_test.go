package commands

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/testutil"
)

const stackFile = `services:
  web:
    image: hive-test/web:v1
    networks: [front]
    ports: ["8080:80"]
    depends_on: [api]
  api:
    image: hive-test/web:v1
    networks: [front, back]
    secrets: [db_password]
    configs: [api_conf]
  db:
    image: hive-test/web:v1
    networks: [back]
networks:
  front: {}
  back: {}
secrets:
  db_password:
    file: ./pw.txt
configs:
  api_conf:
    content: "level: debug"
`

// writeStack writes compose.yaml (and the secret's file) to a new
// directory and returns the compose file's path.
func writeStack(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pw.txt"), []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// taskIDs returns the IDs of the service's tasks, of every state.
func (h *harness) taskIDs(service string) []string {
	var ids []string
	for _, t := range h.b.TasksOf(service) {
		ids = append(ids, t.ID)
	}
	return ids
}

func TestStackDeployRedeployPruneRm(t *testing.T) {
	h := newHarness(t)
	// Objects outside the stack, which stack rm must leave alone.
	h.mustRun("network", "create", "other")
	h.mustRun("service", "create", "-d", "--name", "lone", "hive-test/web:v1")
	f := writeStack(t, stackFile)

	out := h.mustRun("stack", "deploy", "-c", f, "app")
	for _, want := range []string{"Creating network app_back", "Creating network app_front", "Creating secret app_db_password",
		"Creating config app_api_conf", "Creating service app_api", "Creating service app_db", "Creating service app_web"} {
		if !strings.Contains(out, want) {
			t.Errorf("deploy output lacks %q:\n%s", want, out)
		}
	}
	// The test backend delivers no secret, so app_api (and app_web, which
	// depends on it) stay pending; app_db runs.
	h.waitTasks("app_db", 1)
	// Each service's task is made asynchronously after its create; the
	// snapshot below must hold the pending ones too.
	for _, s := range []string{"app_web", "app_api"} {
		testutil.Eventually(t, 10*time.Second, s+" has its task", func() bool { return len(h.taskIDs(s)) == 1 })
	}
	if v, ok := h.b.SecretValue("app_db_password"); !ok || string(v) != "s3cret" {
		t.Errorf("secret app_db_password holds %d bytes, ok %v", len(v), ok)
	}
	if !strings.Contains(out, "Creating network app_back\n") || strings.Index(out, "Creating network") > strings.Index(out, "Creating service") {
		t.Errorf("networks are not created before the services:\n%s", out)
	}

	versions := map[string]uint64{}
	tasks := map[string][]string{}
	for _, s := range []string{"app_web", "app_api", "app_db"} {
		versions[s] = h.b.Service(s).Version
		tasks[s] = h.taskIDs(s)
	}

	// Unchanged: no update call at all, no task replaced.
	calls := len(h.b.Calls())
	out = h.mustRun("stack", "deploy", "-c", f, "app")
	for _, s := range []string{"app_web", "app_api", "app_db"} {
		if !strings.Contains(out, "Service "+s+" unchanged") {
			t.Errorf("re-deploy does not say %s is unchanged:\n%s", s, out)
		}
		if got := h.b.Service(s).Version; got != versions[s] {
			t.Errorf("%s version %d -> %d on an unchanged re-deploy", s, versions[s], got)
		}
		if got := h.taskIDs(s); !sameStrings(got, tasks[s]) {
			t.Errorf("%s tasks %v -> %v on an unchanged re-deploy", s, tasks[s], got)
		}
	}
	for _, c := range h.b.Calls()[calls:] {
		if c == "UpdateService" || c == "CreateService" || c == "CreateNetwork" || c == "CreateSecret" || c == "UpdateConfig" {
			t.Errorf("unchanged re-deploy called %s", c)
		}
	}
	// The secret's value went to the managers, which found it equal.
	if sec := h.b.Secret("app_db_password"); sec.ValueVersion != 1 || strings.Contains(out, "Updating secret") {
		t.Errorf("an unchanged secret went to value version %d:\n%s", sec.ValueVersion, out)
	}

	// One image changed: only that service is updated.
	f2 := writeStack(t, strings.Replace(stackFile, "  db:\n    image: hive-test/web:v1", "  db:\n    image: hive-test/web:v2", 1))
	out = h.mustRun("stack", "deploy", "-c", f2, "app")
	if !strings.Contains(out, "Updating service app_db (id: ") {
		t.Errorf("deploy of a new db image:\n%s", out)
	}
	if got := h.b.Service("app_db").Spec.Task.Container.Image; got != "hive-test/web:v2" {
		t.Errorf("app_db image %q", got)
	}
	for _, s := range []string{"app_web", "app_api"} {
		if got := h.b.Service(s).Version; got != versions[s] {
			t.Errorf("%s version %d -> %d when only db changed", s, versions[s], got)
		}
		if got := h.taskIDs(s); !sameStrings(got, tasks[s]) {
			t.Errorf("%s tasks %v -> %v when only db changed", s, tasks[s], got)
		}
	}

	// --prune removes what the files no longer name.
	f3 := writeStack(t, strings.Replace(strings.Replace(stackFile, "    depends_on: [api]\n", "", 1),
		"  api:\n    image: hive-test/web:v1\n    networks: [front, back]\n    secrets: [db_password]\n    configs: [api_conf]\n", "", 1))
	h.mustRun("stack", "deploy", "-c", f3, "app")
	if h.b.Service("app_api") == nil {
		t.Errorf("app_api removed without --prune")
	}
	out = h.mustRun("stack", "deploy", "--prune", "-c", f3, "app")
	if !strings.Contains(out, "Removing service app_api") || h.b.Service("app_api") != nil {
		t.Errorf("--prune did not remove app_api:\n%s", out)
	}

	out = h.mustRun("stack", "ls")
	if out != "NAME   SERVICES\napp    2\n" {
		t.Errorf("stack ls:\n%q", out)
	}
	out = h.mustRun("stack", "services", "app")
	if !strings.Contains(out, "app_db") || !strings.Contains(out, "app_web") || strings.Contains(out, "lone") ||
		!strings.HasPrefix(out, "ID ") {
		t.Errorf("stack services:\n%s", out)
	}
	if out := h.mustRun("stack", "services", "-q", "app"); len(strings.Fields(out)) != 2 {
		t.Errorf("stack services -q:\n%s", out)
	}
	out = h.mustRun("stack", "ps", "app")
	if !strings.Contains(out, "app_db.1") || !strings.Contains(out, "app_web.1") || strings.Contains(out, "lone") {
		t.Errorf("stack ps:\n%s", out)
	}
	if out := h.mustRun("stack", "ps", "--format", "json", "app"); !strings.HasPrefix(out, "[") {
		t.Errorf("stack ps --format json:\n%s", out)
	}

	out = h.mustRun("stack", "rm", "app")
	for _, want := range []string{"Removing service app_db", "Removing service app_web", "Removing network app_back",
		"Removing network app_front", "Removing secret app_db_password", "Removing config app_api_conf"} {
		if !strings.Contains(out, want) {
			t.Errorf("stack rm output lacks %q:\n%s", want, out)
		}
	}
	if h.b.Service("lone") == nil {
		t.Errorf("stack rm removed the service lone outside the stack")
	}
	if out := h.mustRun("network", "ls", "-q"); len(strings.Fields(out)) != 1 {
		t.Errorf("networks left after stack rm (want only 'other'):\n%s", out)
	}
	if out := h.mustRun("stack", "ls"); out != "NAME   SERVICES\n" {
		t.Errorf("stack ls after rm:\n%q", out)
	}
	_, errOut, code := h.run("stack", "rm", "app")
	if code == 0 || !strings.Contains(errOut, "stack app not found") {
		t.Errorf("stack rm of a missing stack: %d %s", code, errOut)
	}
}

func TestStackDeployBadInputCreatesNothing(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"unknown key", strings.Replace(stackFile, "    networks: [back]\n", "    networks: [back]\n    colour: blue\n", 1), []string{"colour"}},
		{"undefined secret", strings.Replace(stackFile, "secrets: [db_password]", "secrets: [db_password, nope]", 1), []string{"nope"}},
		{"cycle", strings.Replace(stackFile, "    configs: [api_conf]\n", "    configs: [api_conf]\n    depends_on: [web]\n", 1), []string{"cycle", "api -> web -> api"}},
		{"port taken", strings.Replace(stackFile, `"8080:80"`, `"9999:80"`, 1), []string{"9999"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.mustRun("service", "create", "-d", "--name", "taken", "-p", "9999:80", "hive-test/web:v1")
			_, errOut, code := h.run("stack", "deploy", "-c", writeStack(t, tc.file), "app")
			if code == 0 {
				t.Fatalf("deploy succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("error lacks %q:\n%s", w, errOut)
				}
			}
			for _, c := range h.b.Calls() {
				if strings.HasPrefix(c, "Create") && c != "CreateService" || c == "CreateService" && len(h.b.Services()) != 1 {
					t.Errorf("bad input created something: %s", c)
				}
			}
			if len(h.b.Services()) != 1 {
				t.Errorf("services: %d", len(h.b.Services()))
			}
		})
	}
}

func TestStackDeployFailureMidwayIsCompletedByTheNext(t *testing.T) {
	h := newHarness(t)
	f := writeStack(t, stackFile)
	h.b.Err["CreateService"] = errors.New("injected: the API is down")
	if _, _, code := h.run("stack", "deploy", "-c", f, "app"); code == 0 {
		t.Fatal("deploy succeeded despite the failing API")
	}
	delete(h.b.Err, "CreateService")
	out := h.mustRun("stack", "deploy", "-c", f, "app")
	if strings.Contains(out, "Creating network") || strings.Contains(out, "Creating secret") || !strings.Contains(out, "Creating service app_web") {
		t.Errorf("second deploy:\n%s", out)
	}
	if len(h.b.Services()) != 3 {
		t.Errorf("services: %d", len(h.b.Services()))
	}
}

func TestStackDeployFollowsConvergence(t *testing.T) {
	h := newHarness(t)
	file := `services:
  web:
    image: hive-test/web:v1
    depends_on: [db]
  db:
    image: hive-test/web:v1
    deploy:
      replicas: 2
`
	out := h.mustRun("stack", "deploy", "--detach=false", "-c", writeStack(t, file), "app")
	db, web := strings.Index(out, "Waiting for service app_db"), strings.Index(out, "Waiting for service app_web")
	if db < 0 || web < db || !strings.HasSuffix(out, "Stack app converged\n") || !strings.Contains(out, "Creating network app_default") {
		t.Errorf("deploy --detach=false:\n%s", out)
	}
	unplaceable := strings.Replace(file, "replicas: 2", "replicas: 2\n      placement:\n        constraints: [node.labels.zone==nowhere]", 1)
	_, errOut, code := h.run("stack", "deploy", "--detach=false", "-c", writeStack(t, unplaceable), "app")
	if code == 0 || !strings.Contains(errOut, "stack app did not converge") || !strings.Contains(errOut, "app_db") {
		t.Errorf("deploy --detach=false of an unplaceable db: %d %s", code, errOut)
	}
}

func TestStackConfigPrintsTheMergedModel(t *testing.T) {
	h := newHarness(t)
	f := writeStack(t, stackFile)
	over := filepath.Join(filepath.Dir(f), "over.yaml")
	if err := os.WriteFile(over, []byte("services:\n  db:\n    image: hive-test/web:${TAG:-v9}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := h.mustRun("stack", "config", "-c", f, "-c", over)
	if !strings.Contains(out, "hive-test/web:v9") || strings.Contains(out, "s3cret") {
		t.Errorf("stack config:\n%s", out)
	}
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		seen[s]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

// A re-deploy with a new secret value rotates the secret in place and
// rolls only the service that uses it, once.
func TestStackDeployRotatesSecrets(t *testing.T) {
	h := newHarness(t)
	f := writeStack(t, stackFile)
	h.mustRun("stack", "deploy", "-c", f, "app")
	versions := map[string]uint64{}
	for _, s := range []string{"app_web", "app_api", "app_db"} {
		versions[s] = h.b.Service(s).SpecVersion
	}
	specVersion := versions["app_api"]
	if out := h.mustRun("stack", "deploy", "-c", f, "app"); strings.Contains(out, "Updating") {
		t.Errorf("re-deploy of the same values:\n%s", out)
	}
	fs := writeStack(t, stackFile)
	if err := os.WriteFile(filepath.Join(filepath.Dir(fs), "pw.txt"), []byte("n3w-s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := h.mustRun("stack", "deploy", "-c", fs, "app")
	if !strings.Contains(out, "Updating secret app_db_password (id: ") || strings.Contains(out, "Updating service") {
		t.Errorf("deploy of a new secret value:\n%s", out)
	}
	if v, ok := h.b.SecretValue("app_db_password"); !ok || string(v) != "n3w-s3cret" {
		t.Errorf("secret app_db_password holds %d bytes after rotation, ok %v", len(v), ok)
	}
	if got, was := h.b.Service("app_api").SpecVersion, specVersion; got != was+1 {
		t.Errorf("app_api spec version %d -> %d when its secret rotated: want one rolling update", was, got)
	}
	for _, s := range []string{"app_web", "app_db"} {
		if got := h.b.Service(s).SpecVersion; got != versions[s] {
			t.Errorf("%s spec version %d -> %d when app_api's secret rotated", s, versions[s], got)
		}
	}
}

// --resolve-image pins the services' images to their registry's digests:
// a push under the same tag updates the services that use it on the next
// deploy (always), or only the changed ones (changed); a registry that
// cannot be reached leaves every pin as it is.
func TestStackDeployResolvesImages(t *testing.T) {
	digest := "sha256:" + strings.Repeat("a", 64)
	reachable := true
	saved := testPinImage
	t.Cleanup(func() { testPinImage = saved })
	testPinImage = func(_ context.Context, image string, _ *types.RegistryAuth) (string, error) {
		if !reachable {
			return "", errors.New("dial tcp 127.0.0.1:5000: connect: connection refused")
		}
		return image + "@" + digest, nil
	}
	h := newHarness(t)
	f := writeStack(t, stackFile)
	h.mustRun("stack", "deploy", "-c", f, "app")
	pinned := "hive-test/web:v1@" + digest
	specs := map[string]uint64{}
	for _, s := range []string{"app_web", "app_api", "app_db"} {
		svc := h.b.Service(s)
		if got := svc.Spec.Task.Container.Image; got != pinned {
			t.Errorf("%s runs image %s, want %s", s, got, pinned)
		}
		if got := svc.Spec.Labels["com.docker.stack.image"]; got != "hive-test/web:v1" {
			t.Errorf("%s's com.docker.stack.image label %q, want the image as written", s, got)
		}
		specs[s] = svc.SpecVersion
	}
	unchanged := func(what string, out string) {
		t.Helper()
		for s, v := range specs {
			if got := h.b.Service(s).SpecVersion; got != v {
				t.Errorf("%s: %s went from spec version %d to %d:\n%s", what, s, v, got, out)
			}
		}
	}
	out := h.mustRun("stack", "deploy", "-c", f, "app")
	unchanged("same digest", out)

	// The registry cannot be reached: a warning, and the pins stay.
	reachable = false
	out, stderr, code := h.run("stack", "deploy", "-c", f, "app")
	if code != 0 || !strings.Contains(stderr, "Warning: image hive-test/web:v1 could not be resolved on its registry") || strings.Count(stderr, "could not be resolved") != 1 {
		t.Errorf("deploy with no registry: exit %d, stderr:\n%s", code, stderr)
	}
	unchanged("no registry", out)

	// A new image pushed under the tag: changed leaves the running
	// services alone, always updates them.
	reachable = true
	digest = "sha256:" + strings.Repeat("b", 64)
	out = h.mustRun("stack", "deploy", "--resolve-image", "changed", "-c", f, "app")
	unchanged("--resolve-image changed", out)
	out = h.mustRun("stack", "deploy", "-c", f, "app")
	for s := range specs {
		if got := h.b.Service(s).Spec.Task.Container.Image; got != "hive-test/web:v1@"+digest || !strings.Contains(out, "Updating service "+s) {
			t.Errorf("after a push, %s runs %s:\n%s", s, got, out)
		}
	}

	if _, stderr, code := h.run("stack", "deploy", "--resolve-image", "sometimes", "-c", f, "app"); code != 1 || !strings.Contains(stderr, `invalid --resolve-image "sometimes": use always, changed or never`) {
		t.Errorf("--resolve-image sometimes: exit %d, %s", code, stderr)
	}
}

// A secret held by a driver is created once and left alone by every
// re-deploy: an update would only roll the services that use it.
func TestStackDeployLeavesDriverSecrets(t *testing.T) {
	h := newHarness(t)
	f := writeStack(t, `services:
  api:
    image: hive-test/web:v1
    secrets: [vaulted]
secrets:
  vaulted:
    driver: vault
    driver_opts: {path: "secret/data/app#key"}
`)
	h.mustRun("stack", "deploy", "-c", f, "app")
	spec := h.b.Service("app_api").SpecVersion
	calls := len(h.b.Calls())
	h.mustRun("stack", "deploy", "-c", f, "app")
	for _, c := range h.b.Calls()[calls:] {
		if c == "UpdateSecret" || c == "UpdateService" {
			t.Errorf("re-deploy with a driver secret called %s", c)
		}
	}
	if got := h.b.Service("app_api").SpecVersion; got != spec {
		t.Errorf("app_api spec version %d -> %d on a re-deploy", spec, got)
	}
}
