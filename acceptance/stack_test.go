//go:build acceptance

package acceptance

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/hiveorch/hive/internal/testutil"
)

// Stacks against the real engine on two nodes of one host: a five-service
// application from a compose file, with two networks, a secret, a config,
// a named volume, placement constraints and depends_on service_healthy;
// its services reach each other by their compose names only where they
// share a network; a re-deploy with one changed image replaces only that
// service's tasks; stack rm removes the stack and nothing else; bad files
// are refused with the file, the line and the key, and create nothing.

// shopFile is the application. DB_UNHEALTHY is replaced: db's /healthz
// answers 503 while UNHEALTHY is set, so api (service_healthy) waits.
const shopFile = `services:
  web:
    image: hive-test/web:v1
    networks: [front]
    ports: ["PORT:80"]
    depends_on: [api]
    configs:
      - source: site
        target: /etc/site.conf
    deploy:
      replicas: 2
  api:
    image: hive-test/web:v1
    networks: [front, back]
    environment:
      DB_HOST: db
    secrets: [db_password]
    depends_on:
      db:
        condition: service_healthy
  db:
    image: hive-test/web:v1
    networks: [back]
    environment:
      VERSION: db
DB_UNHEALTHY    healthcheck:
      test: ["CMD", "/web", "healthcheck"]
      interval: 1s
      timeout: 2s
      retries: 1
    volumes: [dbdata:/data]
    deploy:
      placement:
        constraints: [node.role == manager]
  cache:
    image: hive-test/web:CACHE_VERSION
    networks: [back]
    deploy:
      placement:
        constraints: [node.role == worker]
  probe:
    image: hive-test/web:v1
    networks: [front]
networks:
  front: {}
  back: {}
volumes:
  dbdata: {}
secrets:
  db_password:
    file: ./db_password.txt
configs:
  site:
    content: "greeting: hello"
`

// shopSecret is the secret's test value; it is never printed.
const shopSecret = "stack-s3cret-value"

// shop is one deployed copy of shopFile.
type shop struct {
	t      *testing.T
	m, w   *node
	name   string // the stack
	port   string // web's published port
	dir    string
	front  string // network IDs
	back   string
	volume string
}

// file writes a variant of shopFile and returns its path.
func (s *shop) file(dbHealthy bool, cacheVersion string) string {
	s.t.Helper()
	content := strings.NewReplacer("PORT", s.port, "CACHE_VERSION", cacheVersion).Replace(shopFile)
	unhealthy := "      UNHEALTHY: \"1\"\n"
	if dbHealthy {
		unhealthy = ""
	}
	content = strings.Replace(content, "DB_UNHEALTHY", unhealthy, 1)
	f := filepath.Join(s.dir, fmt.Sprintf("compose-%t-%s.yaml", dbHealthy, cacheVersion))
	if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
		s.t.Fatal(err)
	}
	return f
}

func (s *shop) svc(key string) string { return s.name + "_" + key }

// stackContainers lists the engine's containers (any state) labelled
// with the stack.
func stackContainers(t *testing.T, stack string) []string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=com.docker.stack.namespace="+stack).Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	return strings.Fields(string(out))
}

// objectNames reads the names from an `ls --format json`: of services
// (their summaries hold the service) or of networks, secrets and configs.
func objectNames(t *testing.T, out string) []string {
	t.Helper()
	type spec struct {
		Spec struct {
			Name string `json:"name"`
		} `json:"spec"`
	}
	var objs []struct {
		spec
		Service *spec `json:"service"`
	}
	mustJSON(t, out, &objs)
	var names []string
	for _, o := range objs {
		if o.Service != nil {
			o.spec = *o.Service
		}
		names = append(names, o.Spec.Name)
	}
	return names
}

func TestStackOnTwoNodes(t *testing.T) {
	testutil.RequireRoot(t, "overlay networks")
	name := uniq("shop")
	// Registered before the nodes, so it runs once they and their
	// containers are gone. Volumes outlive stack rm (as with Docker): the
	// test's goes here.
	t.Cleanup(func() {
		if out, err := exec.Command("docker", "volume", "rm", "-f", name+"_dbdata").CombinedOutput(); err != nil {
			t.Errorf("docker volume rm %s_dbdata: %v: %s", name, err, out)
		}
	})
	m, w, _ := nodesSharingAHost(t, "4891", "4892")

	s := &shop{t: t, m: m, w: w, name: name, port: publishPort(t, m, w), dir: t.TempDir()}
	s.volume = s.svc("dbdata")
	if err := os.WriteFile(filepath.Join(s.dir, "db_password.txt"), []byte(shopSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	// Objects outside the stack, which stack rm must leave alone.
	m.must("network", "create", "other")
	m.must("service", "create", "-d", "--name", "lone", "--network", "other", imageV1)

	t.Run("BadFilesCreateNothing", func(t *testing.T) {
		good, err := os.ReadFile(s.file(true, "v1"))
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name, content string
			want          []string
		}{
			{"YAML error", strings.Replace(string(good), "    networks: [back]\n    deploy:", "    networks: [back\n    deploy:", 1),
				[]string{"bad.yaml:37: YAML syntax error at column 11"}},
			{"wrong type", strings.Replace(string(good), "      replicas: 2", "      replicas: many", 1),
				[]string{"bad.yaml", "replicas", "many"}},
			{"undefined network", strings.Replace(string(good), "    networks: [front]\n    ports", "    networks: [front, nowhere]\n    ports", 1),
				[]string{"bad.yaml", "services.web.networks", "network nowhere is not defined", "top-level networks"}},
		}
		for _, tc := range tests {
			f := filepath.Join(s.dir, "bad.yaml")
			if err := os.WriteFile(f, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, stderr, err := m.run("stack", "deploy", "-c", f, s.name)
			if err == nil {
				t.Errorf("%s: deploy succeeded", tc.name)
				continue
			}
			for _, want := range tc.want {
				if !strings.Contains(stderr, want) {
					t.Errorf("%s: the error lacks %q:\n%s", tc.name, want, stderr)
				}
			}
			t.Logf("%s: %s", tc.name, strings.TrimSpace(stderr))
		}
		if out := m.must("stack", "ls"); strings.Contains(out, s.name) {
			t.Errorf("a refused deploy left objects of the stack:\n%s", out)
		}
		if c := stackContainers(t, s.name); len(c) > 0 {
			t.Errorf("a refused deploy left containers: %v", c)
		}
		// compose-go's own test files that a stack can run parse.
		out := m.must("stack", "config", "-c", filepath.Join("..", "core", "stack", "testdata", "compose-go", "simple.yaml"),
			"-c", filepath.Join("..", "core", "stack", "testdata", "compose-go", "simple-with-overrides.yaml"))
		if !strings.Contains(out, "haproxy") {
			t.Errorf("stack config of compose-go's simple.yaml + simple-with-overrides.yaml:\n%s", out)
		}
	})

	t.Run("DependantsWaitForAHealthyDependency", func(t *testing.T) {
		out := m.must("stack", "deploy", "-c", s.file(false, "v1"), s.name)
		for _, want := range []string{"Creating network " + s.svc("front"), "Creating network " + s.svc("back"),
			"Creating secret " + s.svc("db_password"), "Creating config " + s.svc("site"),
			"Creating service " + s.svc("web"), "Creating service " + s.svc("db")} {
			if !strings.Contains(out, want) {
				t.Errorf("deploy output lacks %q:\n%s", want, out)
			}
		}
		s.front, s.back = m.networkID(s.svc("front")), m.networkID(s.svc("back"))
		m.runningTasks(s.svc("cache"), 1)
		// db starts but never passes its health check (hive restarts
		// it): api waits and says why; web (service_started on api)
		// waits for api.
		for svc, why := range map[string]string{"api": "waiting for service " + s.svc("db") + ": service_healthy",
			"web": "waiting for service " + s.svc("api") + ": service_started"} {
			m.eventually(30*time.Second, svc+" pending on its dependency", func() error {
				ts := m.netTasks(s.svc(svc))
				if len(ts) == 0 {
					return fmt.Errorf("no task")
				}
				for _, tk := range ts {
					if tk.Status.State != "pending" || tk.Status.ContainerID != "" {
						return stop(fmt.Errorf("task %s of %s is %s with db unhealthy: %s", tk.ID, svc, tk.Status.State, prettyJSON(tk)))
					}
					if tk.Status.Message != "waiting for dependencies" || !strings.Contains(tk.Status.Err, why) {
						return fmt.Errorf("task %s says %q (%q), want %q", tk.ID, tk.Status.Message, tk.Status.Err, why)
					}
				}
				return nil
			})
		}
		// A healthy db (a re-deploy that changes db only) lets them
		// start; --detach=false follows it to convergence.
		out = m.must("stack", "deploy", "--detach=false", "-c", s.file(true, "v1"), s.name)
		if !strings.Contains(out, "Updating service "+s.svc("db")) || !strings.HasSuffix(out, "Stack "+s.name+" converged\n") {
			t.Errorf("deploy with a healthy db:\n%s", out)
		}
		for _, key := range []string{"cache", "probe"} {
			if !strings.Contains(out, "Service "+s.svc(key)+" unchanged") {
				t.Errorf("deploy with a healthy db does not leave %s unchanged:\n%s", key, out)
			}
		}
		m.runningTasks(s.svc("api"), 1)
		m.runningTasks(s.svc("web"), 2)
	})

	t.Run("PlacementConstraints", func(t *testing.T) {
		if got := m.runningTasks(s.svc("db"), 1)[0].NodeID; got != m.nodeID {
			t.Errorf("db (node.role == manager) runs on %s, not the manager %s", got, m.nodeID)
		}
		if got := m.runningTasks(s.svc("cache"), 1)[0].NodeID; got != w.nodeID {
			t.Errorf("cache (node.role == worker) runs on %s, not the worker %s", got, w.nodeID)
		}
	})

	t.Run("NamesResolveOnlyOnSharedNetworks", func(t *testing.T) {
		probe := taskNetns(t, m.runningTasks(s.svc("probe"), 1)[0])
		api := taskNetns(t, m.runningTasks(s.svc("api"), 1)[0])
		apiVIP := m.vip(s.svc("api"), s.front)
		dbVIP := m.vip(s.svc("db"), s.back)
		cacheVIP := m.vip(s.svc("cache"), s.back)
		// The compose key and the full name, where the networks meet.
		awaitLookup(t, probe, "api", []string{apiVIP})
		awaitLookup(t, probe, s.svc("api"), []string{apiVIP})
		awaitLookup(t, api, "db", []string{dbVIP})
		awaitLookup(t, api, "cache", []string{cacheVIP})
		awaitLookup(t, api, "web", []string{m.vip(s.svc("web"), s.front)})
		// probe shares no network with db and cache.
		for _, name := range []string{"db", "cache", s.svc("db"), "tasks.db"} {
			addrs, rcode, err := probe.lookup(name)
			if err != nil || rcode != dns.RcodeNameError {
				t.Errorf("probe (front only) resolving %s: %v, rcode %s, %v; want NXDOMAIN", name, addrs, dns.RcodeToString[rcode], err)
			}
		}
		// And the names carry traffic: api reaches db on this node and
		// cache on the other over the VXLAN; probe reaches api.
		db := m.runningTasks(s.svc("db"), 1)[0]
		cache := m.runningTasks(s.svc("cache"), 1)[0]
		for _, c := range []struct {
			from *inTask
			addr string
			want string
		}{{api, dbVIP + ":80", db.hostname() + " db"}, {api, cacheVIP + ":80", cache.hostname() + " v1"}} {
			testutil.EventuallyWhy(t, 20*time.Second, c.from.name+" reaching "+c.addr, func() (bool, string) {
				body, err := c.from.get(c.addr, 2*time.Second)
				return err == nil && body == c.want, fmt.Sprintf("%q, %v; want %q", body, err, c.want)
			})
		}
		// The secret reached api, through /file from probe.
		testutil.EventuallyWhy(t, 20*time.Second, "api's secret file through the VIP", func() (bool, string) {
			body, err := probe.getPath(apiVIP+":80", "/file?path=/run/secrets/db_password", 2*time.Second)
			return err == nil && body == shopSecret, fmt.Sprintf("%d bytes, %v", len(body), err)
		})
		// The named volume is db's /data: a file written into it on the
		// host is what db serves.
		var vols []struct{ Mountpoint string }
		out, err := exec.Command("docker", "volume", "inspect", s.volume).Output()
		if err != nil {
			t.Fatalf("docker volume inspect %s: %v", s.volume, err)
		}
		mustJSON(t, string(out), &vols)
		if err := os.WriteFile(filepath.Join(vols[0].Mountpoint, "hello"), []byte("persisted"), 0o644); err != nil {
			t.Fatal(err)
		}
		if body, err := api.getPath(dbVIP+":80", "/file?path=/data/hello", 2*time.Second); err != nil || body != "persisted" {
			t.Errorf("db's /data/hello: %q, %v; want the volume's file", body, err)
		}
		// The config, through web's published port on both nodes.
		for _, n := range []*node{m, w} {
			testutil.EventuallyWhy(t, 20*time.Second, "web's config through "+n.ip()+":"+s.port, func() (bool, string) {
				body, err := get(n.ip()+":"+s.port, "/file?path=/etc/site.conf")
				return err == nil && body == "greeting: hello", fmt.Sprintf("%q, %v", body, err)
			})
		}
	})

	t.Run("RedeployReplacesOnlyTheChangedService", func(t *testing.T) {
		keys := []string{"web", "api", "db", "cache", "probe"}
		before := map[string][]string{}
		for _, k := range keys {
			for _, tk := range m.netTasks(s.svc(k)) {
				before[k] = append(before[k], tk.ID+"/"+tk.Status.ContainerID)
			}
		}
		out := m.must("stack", "deploy", "--detach=false", "-c", s.file(true, "v2"), s.name)
		if !strings.Contains(out, "Updating service "+s.svc("cache")) {
			t.Errorf("deploy of cache v2:\n%s", out)
		}
		if got := m.runningTasks(s.svc("cache"), 1)[0]; got.Spec.Container.Image != "hive-test/web:v2" || slices.Contains(before["cache"], got.ID+"/"+got.Status.ContainerID) {
			t.Errorf("cache's running task after the deploy: %s", prettyJSON(got))
		}
		for _, k := range keys {
			if k == "cache" {
				continue
			}
			var after []string
			for _, tk := range m.netTasks(s.svc(k)) {
				after = append(after, tk.ID+"/"+tk.Status.ContainerID)
			}
			if !slices.Equal(after, before[k]) {
				t.Errorf("%s's tasks changed when only cache did: %v -> %v", k, before[k], after)
			}
			if !strings.Contains(out, "Service "+s.svc(k)+" unchanged") {
				t.Errorf("the deploy does not say %s is unchanged:\n%s", k, out)
			}
		}
	})

	t.Run("StackLsServicesPs", func(t *testing.T) {
		if out := m.must("stack", "ls"); !strings.Contains(out, s.name+" ") || !strings.Contains(out, "5") {
			t.Errorf("stack ls:\n%s", out)
		}
		names := objectNames(t, m.must("stack", "services", "--format", "json", s.name))
		slices.Sort(names)
		want := []string{s.svc("api"), s.svc("cache"), s.svc("db"), s.svc("probe"), s.svc("web")}
		if !slices.Equal(names, want) {
			t.Errorf("stack services: %v, want %v", names, want)
		}
		if out := m.must("stack", "ps", s.name); !strings.Contains(out, s.svc("web")+".2") || strings.Contains(out, "lone") {
			t.Errorf("stack ps:\n%s", out)
		}
	})

	t.Run("StackRmRemovesTheStackAndNothingElse", func(t *testing.T) {
		if len(stackContainers(t, s.name)) == 0 {
			t.Fatal("the stack has no containers before stack rm")
		}
		out := m.must("stack", "rm", s.name)
		for _, want := range []string{"Removing service " + s.svc("web"), "Removing network " + s.svc("back"),
			"Removing secret " + s.svc("db_password"), "Removing config " + s.svc("site")} {
			if !strings.Contains(out, want) {
				t.Errorf("stack rm output lacks %q:\n%s", want, out)
			}
		}
		m.eventually(60*time.Second, "the stack's containers gone", func() error {
			if c := stackContainers(t, s.name); len(c) > 0 {
				return fmt.Errorf("containers left: %v", c)
			}
			return nil
		})
		left := map[string][]string{}
		for _, kind := range []string{"service", "network", "secret", "config"} {
			left[kind] = objectNames(t, m.must(kind, "ls", "--format", "json"))
		}
		for kind, names := range left {
			for _, n := range names {
				if strings.HasPrefix(n, s.name+"_") {
					t.Errorf("%s %s is left after stack rm", kind, n)
				}
			}
		}
		if !slices.Contains(left["service"], "lone") || !slices.Contains(left["network"], "other") {
			t.Errorf("stack rm took what is not the stack's: %s", prettyJSON(left))
		}
		m.runningTasks("lone", 1)
		// As with docker stack rm, named volumes stay (their data is not
		// the cluster's to drop).
		if err := exec.Command("docker", "volume", "inspect", s.volume).Run(); err != nil {
			t.Errorf("volume %s is gone after stack rm: %v", s.volume, err)
		}
		if _, stderr, err := m.run("stack", "rm", s.name); err == nil || !strings.Contains(stderr, "not found") {
			t.Errorf("stack rm of a removed stack: %v, %s", err, stderr)
		}
	})
}

// TestStackPinsImagesOnARegistry deploys a stack whose image is on a real
// registry (Debian's docker-registry): the service is pinned to the
// digest the registry holds; a new image pushed under the same tag is
// rolled out by the next deploy of the unchanged file.
func TestStackPinsImagesOnARegistry(t *testing.T) {
	reg := startRegistry(t)
	image := reg + "/hive-test/pinned:v1"
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", image).Run() })
	push := func(from string) string {
		t.Helper()
		for _, args := range [][]string{{"tag", from, image}, {"push", image}} {
			if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
				t.Fatalf("docker %s: %v: %s", strings.Join(args, " "), err, out)
			}
		}
		out, err := exec.Command("docker", "image", "inspect", "--format", "{{range .RepoDigests}}{{println .}}{{end}}", image).Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range strings.Fields(string(out)) {
			if strings.HasPrefix(d, reg+"/hive-test/pinned@") {
				_, digest, _ := strings.Cut(d, "@")
				return digest
			}
		}
		t.Fatalf("no digest of %s on the registry: %s", image, out)
		return ""
	}
	n := startHive(t)
	name := uniq("pin")
	f := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(f, []byte("services:\n  web:\n    image: "+image+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	imageOf := func() string { return n.inspect(name + "_web").Spec.Task.Container.Image }

	v1 := push(imageV1)
	n.must("stack", "deploy", "--detach=false", "-c", f, name)
	t.Cleanup(func() { n.run("stack", "rm", name) })
	if got := imageOf(); got != image+"@"+v1 {
		t.Fatalf("the service runs %s, want %s pinned to %s", got, image, v1)
	}
	if out := n.must("stack", "deploy", "-c", f, name); !strings.Contains(out, "Service "+name+"_web unchanged") {
		t.Errorf("re-deploy with the digest unchanged:\n%s", out)
	}

	v2 := push(imageV2)
	out := n.must("stack", "deploy", "--detach=false", "-c", f, name)
	if got := imageOf(); got != image+"@"+v2 || !strings.Contains(out, "Updating service "+name+"_web") {
		t.Fatalf("after a push under the same tag the service runs %s, want %s:\n%s", got, v2, out)
	}
	n.eventually(30*time.Second, "only the new image running", func() error {
		running := n.runningContainers(name + "_web")
		if len(running) != 1 {
			return fmt.Errorf("%d containers running, want 1", len(running))
		}
		for _, c := range running {
			out, err := exec.Command("docker", "inspect", "--format", "{{.Config.Image}}", c).Output()
			if err != nil || !strings.Contains(string(out), v2) {
				return fmt.Errorf("container %s runs %s (%v)", c, out, err)
			}
		}
		return nil
	})
}
