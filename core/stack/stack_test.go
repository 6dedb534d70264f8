package stack

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hiveorch/hive/core/types"
)

// files writes the named files into a new directory and returns it.
func files(t *testing.T, fs map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range fs {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// load loads the compose files named (in dir) with env.
func load(t *testing.T, dir string, env map[string]string, names ...string) (*Model, []Warning, error) {
	t.Helper()
	if len(names) == 0 {
		names = []string{"compose.yaml"}
	}
	var paths []string
	for _, n := range names {
		paths = append(paths, filepath.Join(dir, n))
	}
	return Load(context.Background(), Options{Files: paths, Env: env})
}

// translate loads compose.yaml from fs and translates it as stack app.
func translate(t *testing.T, fs map[string]string, env map[string]string) *Objects {
	t.Helper()
	m, _, err := load(t, files(t, fs), env)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	objs, err := Translate(m, "app")
	if err != nil {
		t.Fatalf("Translate: %v", err)
	}
	return objs
}

func service(t *testing.T, objs *Objects, name string) types.ServiceSpec {
	t.Helper()
	for _, s := range objs.Services {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no service %s among %d", name, len(objs.Services))
	return types.ServiceSpec{}
}

func ptr[T any](v T) *T { return &v }

// fullCompose uses every key Translate translates.
const fullCompose = `
services:
  web:
    image: nginx:1.27
    entrypoint: ["/docker-entrypoint.sh"]
    command: nginx -g "daemon off;"
    environment:
      MODE: prod
      FROM_ENV:
      UNSET:
    env_file: [web.env]
    labels: {tier: front}
    user: "101:101"
    working_dir: /srv
    hostname: "{{.Service.Name}}-{{.Task.Slot}}"
    stop_signal: QUIT
    stop_grace_period: 20s
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost"]
      interval: 10s
      timeout: 2s
      retries: 5
      start_period: 30s
    ports:
      - "8080:80"
      - "443"
    volumes:
      - data:/var/lib/data
      - ./conf:/etc/conf:ro
      - type: tmpfs
        target: /cache
      - shared:/shared
      - type: volume
        target: /anon
    tmpfs: [/run]
    secrets:
      - db_password
      - source: tls
        target: certs/tls.pem
        uid: "101"
        gid: "102"
        mode: 0400
    configs:
      - site
      - source: site
        target: /etc/nginx/site.conf
        mode: 0440
    networks:
      front:
        aliases: [www]
      back: {}
      outside: {}
    depends_on:
      api:
        condition: service_healthy
      init:
        condition: service_completed_successfully
    deploy:
      mode: replicated
      replicas: 3
      labels: {team: web}
      endpoint_mode: vip
      resources:
        limits: {cpus: "1.5", memory: 512M}
        reservations: {cpus: "0.25", memory: 128M}
      restart_policy: {condition: on-failure, delay: 3s, max_attempts: 4, window: 1m}
      placement:
        constraints: [node.role==worker, node.labels.zone!=east]
      update_config: {parallelism: 2, delay: 5s, failure_action: rollback, monitor: 30s, max_failure_ratio: 0.2, order: start-first}
      rollback_config: {parallelism: 0, delay: 1s, failure_action: continue, monitor: 10s, max_failure_ratio: 0.5, order: stop-first}
  api:
    image: hive-test/api:v1
    depends_on: [db]
    networks: [back]
    ports:
      - target: 9000
        published: 9000
        protocol: udp
        mode: host
    deploy:
      endpoint_mode: dnsrr
      mode: global
  db:
    image: postgres:16
    healthcheck:
      disable: true
  init:
    image: busybox
    command: ["true"]
    healthcheck:
      test: echo ok
    deploy:
      restart_policy: {condition: none}
networks:
  front:
    driver: overlay
    driver_opts: {mtu: "1400"}
    attachable: true
    labels: {net: front}
    ipam:
      config:
        - subnet: 10.20.0.0/24
          gateway: 10.20.0.1
          ip_range: 10.20.0.128/25
  back:
    internal: true
    name: shared-back
  outside:
    external: true
    name: corp-net
  unused: {}
volumes:
  data: {}
  shared:
    external: true
    name: common-data
secrets:
  db_password:
    file: ./db_password.txt
  tls:
    environment: TLS_PEM
    labels: {kind: tls}
  vaulted:
    driver: vault
    driver_opts: {path: "secret/data/app#key"}
  old:
    external: true
    name: legacy-secret
configs:
  site:
    content: "server {}"
  fromfile:
    file: ./site.conf
    name: site-conf-v2
  ext:
    external: true
`

var fullFiles = map[string]string{
	"compose.yaml":    fullCompose,
	"web.env":         "# comment\nFILE_VAR=\"quoted\"\nMODE=overridden-by-environment\nFROM_ENV_FILE\n",
	"db_password.txt": "s3cret-file",
	"site.conf":       "server { listen 80; }",
}

var fullEnv = map[string]string{"FROM_ENV": "env-value", "FROM_ENV_FILE": "file-lookup", "TLS_PEM": "-----PEM-----"}

func TestTranslateEveryKey(t *testing.T) {
	objs := translate(t, fullFiles, fullEnv)
	web := service(t, objs, "app_web")
	wc := web.Task.Container
	api := service(t, objs, "app_api")
	db := service(t, objs, "app_db")
	initSvc := service(t, objs, "app_init")
	d := func(s string) types.Duration {
		v, err := parseTestDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		key       string
		got, want any
	}{
		{"service order", names(objs.Services), []string{"app_api", "app_db", "app_init", "app_web"}},
		{"image", wc.Image, "nginx:1.27"},
		{"entrypoint -> Command", wc.Command, []string{"/docker-entrypoint.sh"}},
		{"command -> Args", wc.Args, []string{"nginx", "-g", "daemon off;"}},
		{"command list form", initSvc.Task.Container.Args, []string{"true"}},
		{"environment, env_file (docker's reading: quotes kept), lookups", wc.Env, []string{"FILE_VAR=\"quoted\"", "FROM_ENV=env-value", "FROM_ENV_FILE=file-lookup", "MODE=prod"}},
		{"labels -> container labels", wc.Labels, map[string]string{"tier": "front", LabelNamespace: "app"}},
		{"deploy.labels -> service labels", web.Labels, map[string]string{"team": "web", LabelNamespace: "app", LabelImage: "nginx:1.27"}},
		{"user", wc.User, "101:101"},
		{"working_dir", wc.Dir, "/srv"},
		{"hostname", wc.Hostname, "{{.Service.Name}}-{{.Task.Slot}}"},
		{"stop_signal", wc.StopSignal, "SIGQUIT"},
		{"stop_grace_period", *wc.StopGracePeriod, d("20s")},
		{"healthcheck CMD", *wc.Healthcheck, types.HealthConfig{Test: []string{"CMD", "curl", "-f", "http://localhost"}, Interval: d("10s"), Timeout: d("2s"), Retries: 5, StartPeriod: d("30s")}},
		{"healthcheck disable -> NONE", db.Task.Container.Healthcheck.Test, []string{"NONE"}},
		{"healthcheck string -> CMD-SHELL", initSvc.Task.Container.Healthcheck.Test, []string{"CMD-SHELL", "echo ok"}},
		{"ports short, long, mode host", web.Endpoint.Ports, []types.PortConfig{
			{Protocol: types.ProtocolTCP, TargetPort: 80, PublishedPort: 8080, PublishMode: types.PublishIngress},
			{Protocol: types.ProtocolTCP, TargetPort: 443, PublishMode: types.PublishIngress},
		}},
		{"ports long form, mode host", api.Endpoint.Ports, []types.PortConfig{{Protocol: types.ProtocolUDP, TargetPort: 9000, PublishedPort: 9000, PublishMode: types.PublishHost}}},
		{"volumes and tmpfs", wc.Mounts, []types.Mount{
			{Type: types.MountVolume, Source: "app_data", Target: "/var/lib/data"},
			{Type: types.MountBind, Source: "CONF", Target: "/etc/conf", ReadOnly: true},
			{Type: types.MountTmpfs, Target: "/cache"},
			{Type: types.MountVolume, Source: "common-data", Target: "/shared"},
			{Type: types.MountVolume, Target: "/anon"},
			{Type: types.MountTmpfs, Target: "/run"},
		}},
		{"top-level volumes used", objs.Volumes, []Volume{{Name: "app_data"}, {Name: "common-data", External: true}}},
		{"secrets short and long", wc.Secrets, []types.SecretReference{
			{SecretName: "app_db_password", File: types.FileTarget{Name: "db_password", UID: "0", GID: "0", Mode: 0o444}},
			{SecretName: "app_tls", File: types.FileTarget{Name: "certs/tls.pem", UID: "101", GID: "102", Mode: 0o400}},
		}},
		{"configs short and long", wc.Configs, []types.ConfigReference{
			{ConfigName: "app_site", File: types.FileTarget{Name: "/site", UID: "0", GID: "0", Mode: 0o444}},
			{ConfigName: "app_site", File: types.FileTarget{Name: "/etc/nginx/site.conf", UID: "0", GID: "0", Mode: 0o440}},
		}},
		{"networks: aliases, named, external", web.Networks, []types.NetworkAttachmentConfig{
			{Target: "shared-back", Aliases: []string{"web"}}, {Target: "app_front", Aliases: []string{"www", "web"}}, {Target: "corp-net", Aliases: []string{"web"}},
		}},
		{"default network", db.Networks, []types.NetworkAttachmentConfig{{Target: "app_default", Aliases: []string{"db"}}}},
		{"networks to create (used ones only)", netNames(objs.Networks), []string{"app_default", "app_front", "shared-back"}},
		{"network front", objs.Networks[1], types.NetworkSpec{Name: "app_front", Driver: "overlay", Subnet: "10.20.0.0/24", Gateway: "10.20.0.1", IPRange: "10.20.0.128/25",
			Attachable: true, Labels: map[string]string{"net": "front", LabelNamespace: "app"}, Options: map[string]string{"mtu": "1400"}}},
		{"network internal", objs.Networks[2].Internal, true},
		{"external references", objs.External, External{Networks: []string{"corp-net"}, Secrets: []string{"legacy-secret"}, Configs: []string{"ext"}}},
		{"secrets to create", secretNames(objs.Secrets), []string{"app_db_password", "app_tls", "app_vaulted"}},
		{"secret from file", string(objs.Secrets[0].Value.Reveal()), "s3cret-file"},
		{"secret from environment", string(objs.Secrets[1].Value.Reveal()), "-----PEM-----"},
		{"secret labels", objs.Secrets[1].Spec.Labels, map[string]string{"kind": "tls", LabelNamespace: "app"}},
		{"secret driver", *objs.Secrets[2].Spec.Driver, types.Driver{Name: "vault", Options: map[string]string{"path": "secret/data/app#key"}}},
		{"configs to create", configNames(objs.Configs), []string{"app_site", "site-conf-v2"}},
		{"config content", string(objs.Configs[0].Data), "server {}"},
		{"config file", string(objs.Configs[1].Data), "server { listen 80; }"},
		{"depends_on long form, full names", web.DependsOn, []types.ServiceDependency{{Service: "app_api", Condition: types.DependencyHealthy}, {Service: "app_init", Condition: types.DependencyCompleted}}},
		{"depends_on short form", api.DependsOn, []types.ServiceDependency{{Service: "app_db", Condition: types.DependencyStarted}}},
		{"replicas", web.Replicas, uint64(3)},
		{"replicas default", db.Replicas, uint64(1)},
		{"mode global", [2]any{api.Mode, api.Replicas}, [2]any{types.ModeGlobal, uint64(0)}},
		{"endpoint_mode", [2]types.EndpointMode{web.Endpoint.Mode, api.Endpoint.Mode}, [2]types.EndpointMode{types.EndpointVIP, types.EndpointDNSRR}},
		{"resources", web.Task.Resources, types.Requirements{Limits: types.Resources{NanoCPUs: 1_500_000_000, MemoryBytes: 512 << 20}, Reservations: types.Resources{NanoCPUs: 250_000_000, MemoryBytes: 128 << 20}}},
		{"restart_policy", web.Task.RestartPolicy, types.RestartPolicy{Condition: types.RestartOnFailure, Delay: ptr(d("3s")), MaxAttempts: 4, Window: ptr(d("1m"))}},
		{"restart_policy none", initSvc.Task.RestartPolicy.Condition, types.RestartNone},
		{"placement constraints", web.Task.Placement.Constraints, []string{"node.role==worker", "node.labels.zone!=east"}},
		{"update_config", *web.Update, types.UpdateConfig{Parallelism: 2, Delay: d("5s"), FailureAction: types.FailureRollback, Monitor: ptr(d("30s")), MaxFailureRatio: 0.2, Order: types.OrderStartFirst}},
		{"rollback_config", *web.Rollback, types.UpdateConfig{Parallelism: 0, Delay: d("1s"), FailureAction: types.FailureContinue, Monitor: ptr(d("10s")), MaxFailureRatio: 0.5, Order: types.OrderStopFirst}},
		{"update_config default", *db.Update, *types.DefaultUpdateConfig()},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got := tt.got
			if mounts, ok := got.([]types.Mount); ok && len(mounts) > 1 {
				// the bind source is made absolute against the working dir
				if !strings.HasSuffix(mounts[1].Source, "/conf") || !filepath.IsAbs(mounts[1].Source) {
					t.Fatalf("bind source %q: want an absolute path ending in /conf", mounts[1].Source)
				}
				mounts = slices.Clone(mounts)
				mounts[1].Source = "CONF"
				got = mounts
			}
			if !equalJSON(got, tt.want) {
				t.Errorf("got  %s\nwant %s", toJSON(got), toJSON(tt.want))
			}
		})
	}
}

// A service answers to its key on each of its networks, as with docker
// stack deploy, unless the key is no DNS name.
func TestServicesAnswerToTheirKey(t *testing.T) {
	objs := translate(t, map[string]string{"compose.yaml": `services:
  db:
    image: pg
    networks:
      back:
        aliases: [db, primary]
  my_cache:
    image: redis
    networks: [back]
networks:
  back: {}
`}, nil)
	if got := service(t, objs, "app_db").Networks; !equalJSON(got, []types.NetworkAttachmentConfig{{Target: "app_back", Aliases: []string{"db", "primary"}}}) {
		t.Errorf("db's networks: %s", toJSON(got))
	}
	if got := service(t, objs, "app_my_cache").Networks; !equalJSON(got, []types.NetworkAttachmentConfig{{Target: "app_back"}}) {
		t.Errorf("my_cache's networks: %s", toJSON(got))
	}
}
