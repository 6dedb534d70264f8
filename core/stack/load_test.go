package stack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hiveorch/hive/core/types"
)

func TestMergeTwoFiles(t *testing.T) {
	dir := files(t, map[string]string{
		"compose.yaml": `
services:
  web:
    image: nginx:1
    environment: {A: base, B: base}
    ports: ["8080:80"]
    deploy: {replicas: 2}
  db:
    image: postgres
`,
		"override.yaml": `
services:
  web:
    image: nginx:2
    environment: {B: override}
    deploy: {replicas: 5}
  cache:
    image: redis
`,
	})
	m, _, err := load(t, dir, nil, "compose.yaml", "override.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Translate(m, "app")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(objs.Services); !equalJSON(got, []string{"app_cache", "app_db", "app_web"}) {
		t.Fatalf("services %v", got)
	}
	web := service(t, objs, "app_web")
	if web.Task.Container.Image != "nginx:2" || web.Replicas != 5 || !equalJSON(web.Task.Container.Env, []string{"A=base", "B=override"}) || len(web.Endpoint.Ports) != 1 {
		t.Fatalf("merged web: image %s replicas %d env %v ports %v", web.Task.Container.Image, web.Replicas, web.Task.Container.Env, web.Endpoint.Ports)
	}
}

func TestExtends(t *testing.T) {
	objs := translate(t, map[string]string{
		"compose.yaml": `
services:
  base:
    image: busybox
    environment: {LEVEL: base}
    deploy: {replicas: 2}
  worker:
    extends: base
    command: ["work"]
  remote:
    extends: {file: common.yaml, service: common}
`,
		"common.yaml": "services:\n  common:\n    image: alpine\n    user: nobody\n",
	}, nil)
	w := service(t, objs, "app_worker")
	if w.Task.Container.Image != "busybox" || w.Replicas != 2 || !equalJSON(w.Task.Container.Args, []string{"work"}) {
		t.Fatalf("worker: %+v", w)
	}
	if r := service(t, objs, "app_remote"); r.Task.Container.Image != "alpine" || r.Task.Container.User != "nobody" {
		t.Fatalf("remote: %+v", r.Task.Container)
	}
}

func TestInterpolation(t *testing.T) {
	compose := `
services:
  web:
    image: ${IMAGE}
    environment:
      PORT: ${PORT:-8080}
      FROM_DOTENV: ${DOTENV_ONLY}
      BOTH: ${BOTH}
    deploy:
      replicas: ${REPLICAS}
`
	dir := files(t, map[string]string{
		"compose.yaml": compose,
		".env":         "IMAGE=nginx:dotenv\nDOTENV_ONLY=from-dotenv\nBOTH=dotenv\nREPLICAS=4\n",
	})
	m, _, err := load(t, dir, map[string]string{"BOTH": "process", "IMAGE": "nginx:process"})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Translate(m, "app")
	if err != nil {
		t.Fatal(err)
	}
	web := service(t, objs, "app_web")
	want := []string{"BOTH=process", "FROM_DOTENV=from-dotenv", "PORT=8080"}
	if web.Task.Container.Image != "nginx:process" || web.Replicas != 4 || !equalJSON(web.Task.Container.Env, want) {
		t.Fatalf("image %s replicas %d env %v; want nginx:process (the process wins over .env), 4, %v", web.Task.Container.Image, web.Replicas, web.Task.Container.Env, want)
	}

	t.Run("required variable", func(t *testing.T) {
		dir := files(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: ${IMAGE:?give the image to run}\n"})
		_, _, err := load(t, dir, nil)
		if err == nil || !strings.Contains(err.Error(), "compose.yaml:3: ") || !strings.Contains(err.Error(), "required variable IMAGE is missing a value: give the image to run") {
			t.Fatalf("Load = %v; want the ${IMAGE:?...} message naming IMAGE", err)
		}
	})
}

func TestWarningsOncePerKeyAndService(t *testing.T) {
	dir := files(t, map[string]string{
		"compose.yaml": `
x-common: &common
  restart: always
services:
  web:
    image: nginx
    build: .
    container_name: web
    <<: *common
    x-hive-note: ignored, an extension
  api:
    image: api
    build: ./api
    links: [web]
    expose: ["80", "81"]
`,
		"override.yaml": "services:\n  web:\n    build: ./other\n    restart: unless-stopped\n",
	})
	m, warnings, err := load(t, dir, nil, "compose.yaml", "override.yaml")
	if err != nil || m == nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range warnings {
		got = append(got, w.Service+" "+w.Key)
	}
	want := []string{"api services.api.build", "api services.api.expose", "api services.api.links", "web services.web.build", "web services.web.container_name", "web services.web.restart"}
	if !equalJSON(got, want) {
		t.Fatalf("warnings\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if w := warnings[3]; !strings.HasPrefix(w.String(), filepath.Join(dir, "override.yaml")+":3: services.web.build is ignored: hive does not build images") {
		t.Errorf("warning %q: want it located in override.yaml, the last file that sets it", w)
	}
}

func TestLoadRefuses(t *testing.T) {
	tests := []struct {
		name    string
		compose string
		want    []string // each in the error
	}{
		{"malformed YAML, with its line", "services:\n  web:\n    image: nginx\n   ports: [\n", []string{"compose.yaml:3: YAML syntax error at column 4: did not find expected key"}},
		{"unknown key", "services:\n  web:\n    image: nginx\n    imagee: nginx\n", []string{`compose.yaml:4: services.web.imagee: not a compose key (did you mean "image"?)`}},
		{"unknown key in deploy", "services:\n  web:\n    image: nginx\n    deploy:\n      replicass: 2\n", []string{`compose.yaml:5: services.web.deploy.replicass: not a compose key (did you mean "replicas"?)`}},
		{"unknown top-level key", "services:\n  web:\n    image: nginx\nnetwork:\n  front: {}\n", []string{`compose.yaml:4: network: not a compose key (did you mean "networks"?)`}},
		{"wrong type", "services:\n  web:\n    image: nginx\n    deploy:\n      replicas: many\n", []string{`compose.yaml:5: services.web.deploy.replicas: "many" is not a whole number`}},
		{"not a list", "services:\n  web:\n    image: nginx\n    ports: 80\n", []string{"compose.yaml:4: services.web.ports: must be an array: write a list"}},
		{"a key hive cannot do", "services:\n  web:\n    image: nginx\n    cap_add: [NET_ADMIN]\n", []string{"compose.yaml:4: services.web.cap_add: hive's container spec has no such setting; remove the key"}},
		{"profiles", "services:\n  web:\n    image: nginx\n    profiles: [debug]\n", []string{"compose.yaml:4: services.web.profiles: a stack deploys every service"}},
		{"placement preferences", "services:\n  web:\n    image: nginx\n    deploy:\n      placement:\n        preferences:\n          - spread: node.labels.zone\n", []string{"compose.yaml:6: services.web.deploy.placement.preferences: hive has no placement preferences yet"}},
		{"host ip", "services:\n  web:\n    image: nginx\n    ports: [\"127.0.0.1:8080:80\"]\n", []string{"compose.yaml:4: services.web.ports[].host_ip: every node listens on a published port"}},
		{"jobs", "services:\n  web:\n    image: nginx\njobs:\n  migrate:\n    image: migrate\n    triggers: {manual: true}\n", []string{"compose.yaml:4: jobs: hive runs long-running services only"}},
		{"include", "include: [other.yaml]\nservices:\n  web:\n    image: nginx\n", []string{"compose.yaml:1: include: docker stack deploy cannot include files either; pass each file with -c instead"}},
		{"tmpfs size", "services:\n  web:\n    image: nginx\n    volumes:\n      - type: tmpfs\n        target: /t\n        tmpfs: {size: 1m}\n", []string{"compose.yaml:7: services.web.volumes[].tmpfs.size"}},
		{"volume driver options", "services:\n  web:\n    image: nginx\n    volumes: [data:/d]\nvolumes:\n  data:\n    driver_opts: {type: nfs}\n", []string{"compose.yaml:7: volumes.data.driver_opts"}},
		{"every one at once", "services:\n  web:\n    image: nginx\n    cap_add: [A]\n    privileged: true\n    sysctls: {a: b}\n  api:\n    image: api\n    dns: 1.1.1.1\n", []string{"services.web.cap_add", "services.web.sysctls", "services.api.dns"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := files(t, map[string]string{"compose.yaml": tt.compose})
			_, _, err := load(t, dir, nil)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	long := strings.Repeat("s", 60)
	dir := files(t, map[string]string{"compose.yaml": fmt.Sprintf(`
services:
  web:
    image: nginx
    ports: ["8080:80"]
    networks: [nowhere]
    secrets: [nosecret]
    configs: [noconfig]
    volumes: [novolume:/data]
    depends_on: [ghost, api]
  api:
    image: api
    ports: ["8080:81"]
    depends_on: [web]
    deploy:
      mode: replicated-job
  %s:
    image: busybox
  bad:
    image: UPPER/case
    stop_signal: SIGNOPE
    deploy:
      replicas: 20000
      update_config: {failure_action: explode}
`, long)})
	m, _, err := load(t, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = Validate(m, "app")
	want := []string{
		"services.web.networks: network nowhere is not defined: add it under the top-level networks: key",
		"services.web.secrets: secret nosecret is not defined",
		"services.web.configs: config noconfig is not defined",
		"services.web.volumes: volume novolume is not defined",
		"services.web.depends_on: service ghost is not in the stack",
		"services.web.ports: port 8080 is already published by service api of the stack",
		"depends_on makes a cycle, api -> web -> api",
		"services.api.deploy.mode: mode replicated-job: hive runs long-running services only; it has no jobs",
		fmt.Sprintf("services.%s: the service's name app_%s is 64 characters long, hive allows 63", long, long),
		"services.bad.stop_signal: invalid stop_signal \"SIGNOPE\"",
		`services.bad: invalid image reference "UPPER/case"`,
		"services.bad: invalid replicas 20000: at most 10000",
		`services.bad: invalid update failure action "explode"`,
	}
	if err == nil {
		t.Fatal("Validate succeeded")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not contain %q", w)
		}
	}
	if t.Failed() {
		t.Logf("error:\n%v", err)
	}
	if !strings.Contains(err.Error(), filepath.Join(dir, "compose.yaml")+":6: services.web.networks") {
		t.Errorf("the undefined network is not located at compose.yaml:6:\n%v", err)
	}
	var ke *KeyError
	if !errors.As(err, &ke) || ke.Service == "" {
		t.Errorf("errors are not KeyErrors naming their service: %v", ke)
	}
	if _, terr := Translate(m, "app"); terr == nil || terr.Error() != err.Error() {
		t.Errorf("Translate does not fail as Validate does: %v", terr)
	}
}

func TestValidateSecretsAndNames(t *testing.T) {
	dir := files(t, map[string]string{"compose.yaml": `
services:
  web:
    image: nginx
    secrets: [nofile, unset, empty]
    networks: [front]
networks:
  front:
    driver: bridge
    ipam:
      config: [{subnet: 10.1.0.0/24}, {subnet: 10.2.0.0/24}]
secrets:
  nofile: {file: ./missing.txt}
  unset: {environment: NOT_SET_ANYWHERE}
  empty: {environment: EMPTY}
`})
	m, _, err := load(t, dir, map[string]string{"EMPTY": ""})
	if err != nil {
		t.Fatal(err)
	}
	err = Validate(m, "app")
	for _, w := range []string{
		"secrets.nofile.file: cannot read it",
		"secrets.unset.environment: variable NOT_SET_ANYWHERE is not set or empty: set it in the environment or in the .env file",
		"secrets.empty.environment: variable EMPTY is not set or empty",
		"networks.front.ipam.config: a hive network has one subnet, this one lists 2: keep one",
		`networks.front: unknown network driver "bridge": use overlay`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error does not contain %q:\n%v", w, err)
		}
	}
	if err := Validate(m, "bad.name"); err == nil || !strings.Contains(err.Error(), `invalid stack name "bad.name"`) {
		t.Errorf("stack name: %v", err)
	}
}

func TestCheckPorts(t *testing.T) {
	objs := translate(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: nginx\n    ports: [\"8080:80\", \"9090:90\"]\n"}, nil)
	existing := []types.Service{
		{Spec: types.ServiceSpec{Name: "app_web", Endpoint: types.EndpointSpec{Ports: []types.PortConfig{{TargetPort: 80, PublishedPort: 8080, PublishMode: types.PublishIngress}}}}},
		{Spec: types.ServiceSpec{Name: "other"}, Endpoint: types.Endpoint{Ports: []types.PortConfig{{TargetPort: 1, PublishedPort: 9090, PublishMode: types.PublishIngress}}}},
		{Spec: types.ServiceSpec{Name: "hosty"}, Endpoint: types.Endpoint{Ports: []types.PortConfig{{TargetPort: 1, PublishedPort: 8080, PublishMode: types.PublishHost}}}},
	}
	err := CheckPorts(objs, existing)
	want := "services.web.ports: port 9090 is already published by service other, which is not in the stack: publish another port, or remove it there"
	if err == nil || err.Error() != want {
		t.Fatalf("CheckPorts = %v; want only %q (the stack's own app_web is updated, host ports do not clash)", err, want)
	}
}

func TestConfigPrintsNoSecretValue(t *testing.T) {
	dir := files(t, map[string]string{
		"compose.yaml": `
services:
  web:
    image: nginx
    env_file: [secret.env]
    secrets: [pw]
secrets:
  pw: {environment: DB_PASSWORD}
`,
		"secret.env": "TOKEN=from-env-file-value\n",
	})
	m, _, err := load(t, dir, map[string]string{"DB_PASSWORD": "hunter2-value"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Config(m)
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	if strings.Contains(out, "hunter2-value") || strings.Contains(out, "from-env-file-value") || !strings.Contains(out, "environment: DB_PASSWORD") {
		t.Fatalf("config shows a value, or not the variable's name:\n%s", out)
	}
	if strings.Contains(out, "name:") {
		t.Errorf("config shows names the files do not give:\n%s", out)
	}
	objs, err := Translate(m, "app")
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprintf("%v %+v %#v %s", objs.Secrets[0], objs.Secrets[0], objs.Secrets[0], toJSON(objs)); strings.Contains(s, "hunter2-value") {
		t.Fatalf("printing the objects shows the secret: %s", s)
	}
}

// TestComposeGoTestdata loads compose-go's own test files (testdata/compose-go).
func TestComposeGoTestdata(t *testing.T) {
	tests := []struct {
		files   []string
		env     map[string]string
		want    string // the error, "" for none
		service string // a service that must be there
		image   string
	}{
		{files: []string{"simple.yaml"}, service: "app_simple", image: "nginx"},
		{files: []string{"simple.yaml", "simple-with-overrides.yaml"}, service: "app_simple", image: "haproxy"},
		{files: []string{"simple-with-variables.yaml"}, env: map[string]string{"PUBLIC_PORT": "8088"}, service: "app_simple", image: "nginx"},
		{files: []string{"depends-on-cycle.yaml"}, want: "services.service1.depends_on: depends_on makes a cycle, service1 -> service2 -> service3 -> service1"},
		{files: []string{"with-version.yaml"}, want: "with-version.yaml:19: services.web.volumes_from: define a top-level volume and mount it in each service that shares it"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.files, "+"), func(t *testing.T) {
			var paths []string
			for _, f := range tt.files {
				paths = append(paths, filepath.Join("testdata", "compose-go", f))
			}
			m, _, err := Load(t.Context(), Options{Files: paths, Env: tt.env})
			if err == nil {
				_, err = Translate(m, "app")
			}
			switch {
			case tt.want == "" && err != nil:
				t.Fatal(err)
			case tt.want != "":
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v; want %q", err, tt.want)
				}
				return
			}
			objs, _ := Translate(m, "app")
			if s := service(t, objs, tt.service); s.Task.Container.Image != tt.image {
				t.Fatalf("image %s, want %s", s.Task.Container.Image, tt.image)
			}
		})
	}
}

// TestDocsListEveryKey keeps docs/stacks.md in step with keyRules.
func TestDocsListEveryKey(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "stacks.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, r := range keyRules {
		key := "`" + docKey(r.path) + "`"
		if !strings.Contains(doc, key) {
			t.Errorf("docs/stacks.md does not list %s", key)
		}
	}
}

// docKey is how docs/stacks.md writes a rule's path: without the
// top-level section and the name, as in deploy.resources.limits.cpus.
func docKey(p string) string {
	parts := strings.Split(strings.ReplaceAll(p, ".[]", "[]"), ".")
	if len(parts) > 2 {
		return strings.Join(parts[2:], ".")
	}
	return strings.ReplaceAll(strings.Join(parts, "."), "*", "NAME")
}

// The README's example stack loads and translates.
func TestTheExampleStack(t *testing.T) {
	m, warnings, err := Load(t.Context(), Options{Files: []string{filepath.Join("..", "..", "docs", "examples", "shop", "compose.yaml")},
		Env: map[string]string{"DB_PASSWORD": "example"}})
	if err != nil || len(warnings) > 0 {
		t.Fatalf("Load: %v, warnings %v", err, warnings)
	}
	objs, err := Translate(m, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(objs.Services); !equalJSON(got, []string{"shop_api", "shop_db", "shop_web"}) {
		t.Errorf("services %v", got)
	}
}
