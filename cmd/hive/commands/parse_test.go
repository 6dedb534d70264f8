package commands

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/hiveorch/hive/core/types"
)

func TestParsePublish(t *testing.T) {
	tcp, udp := types.ProtocolTCP, types.ProtocolUDP
	ingress, host := types.PublishIngress, types.PublishHost
	tests := []struct {
		in   string
		want types.PortConfig
		err  string
	}{
		{in: "8080:80", want: types.PortConfig{Protocol: tcp, PublishedPort: 8080, TargetPort: 80, PublishMode: ingress}},
		{in: "8080:80/udp", want: types.PortConfig{Protocol: udp, PublishedPort: 8080, TargetPort: 80, PublishMode: ingress}},
		{in: "80", want: types.PortConfig{Protocol: tcp, TargetPort: 80, PublishMode: ingress}},
		{in: "53/UDP", want: types.PortConfig{Protocol: udp, TargetPort: 53, PublishMode: ingress}},
		{in: "published=8080,target=80", want: types.PortConfig{Protocol: tcp, PublishedPort: 8080, TargetPort: 80, PublishMode: ingress}},
		{in: "published=8080,target=80,protocol=udp,mode=host", want: types.PortConfig{Protocol: udp, PublishedPort: 8080, TargetPort: 80, PublishMode: host}},
		{in: "target=80", want: types.PortConfig{Protocol: tcp, TargetPort: 80, PublishMode: ingress}},
		{in: "8080:80/sctp", err: `invalid --publish "8080:80/sctp": protocol "sctp": want tcp or udp`},
		{in: "8080:0", err: "target port 0: want a port number from 1 to 65535"},
		{in: "70000:80", err: "published port 70000: want a port number from 1 to 65535"},
		{in: "127.0.0.1:8080:80", err: "a host IP cannot be given"},
		{in: "8080-8081:80-81", err: "port ranges are not supported"},
		{in: ":80", err: "the published port before ':' is empty"},
		{in: "web", err: "target port web: want a port number"},
		{in: "published=8080", err: "target is missing"},
		{in: "published=8080,target=80,mode=mesh", err: "mode=mesh: want ingress or host"},
		{in: "published=8080,taget=80", err: `unknown field "taget" (did you mean "target"?)`},
		{in: "target=80,mode=host", err: "mode=host needs a published port"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parsePublish("--publish", tt.in)
			checkErr(t, err, tt.err)
			if tt.err == "" && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// checkErr fails t unless err matches want: nil for "", else an error
// containing want.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("error %q does not contain %q", err, want)
	}
}

func TestParseMount(t *testing.T) {
	tests := []struct {
		in   string
		want types.Mount
		err  string
	}{
		{in: "type=volume,source=data,target=/var/lib/data", want: types.Mount{Type: types.MountVolume, Source: "data", Target: "/var/lib/data"}},
		{in: "src=data,dst=/data", want: types.Mount{Type: types.MountVolume, Source: "data", Target: "/data"}},
		{in: "type=bind,source=/srv/www,destination=/usr/share/nginx/html,readonly", want: types.Mount{Type: types.MountBind, Source: "/srv/www", Target: "/usr/share/nginx/html", ReadOnly: true}},
		{in: "type=bind,src=/a,dst=/b,ro=true", want: types.Mount{Type: types.MountBind, Source: "/a", Target: "/b", ReadOnly: true}},
		{in: "type=bind,src=/a,dst=/b,readonly=false", want: types.Mount{Type: types.MountBind, Source: "/a", Target: "/b"}},
		{in: "type=tmpfs,target=/tmp", want: types.Mount{Type: types.MountTmpfs, Target: "/tmp"}},
		{in: "target=/cache", want: types.Mount{Type: types.MountVolume, Target: "/cache"}},
		{in: `type=bind,"source=/a,b",target=/c`, want: types.Mount{Type: types.MountBind, Source: "/a,b", Target: "/c"}},
		{in: "type=volume,soure=data,destination=/var/lib/data", err: `unknown field "soure" (did you mean "source"?)`},
		{in: "type=volume,size=1g,target=/d", err: `unknown field "size" (known: type`},
		{in: "type=bind,source=./data,target=/data", err: "the source of a bind mount must be an absolute path"},
		{in: "type=bind,target=/data", err: "a bind mount needs source="},
		{in: "type=tmpfs,source=x,target=/t", err: "a tmpfs mount takes no source"},
		{in: "type=nfs,target=/t", err: "type=nfs: want bind, volume or tmpfs"},
		{in: "source=data", err: "target is missing"},
		{in: "source=data,target=data", err: `target "data" must be an absolute path`},
		{in: "source,target=/d", err: `field "source" has no value`},
		{in: "src=a,dst=/d,ro=maybe", err: "ro=maybe: want true or false"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseMount("--mount", tt.in)
			checkErr(t, err, tt.err)
			if tt.err == "" && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func lookupFrom(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestParseEnvFile(t *testing.T) {
	lookup := lookupFrom(map[string]string{"HOME": "/home/me", "EMPTY": ""})
	tests := []struct {
		name, content string
		want          []string
		err           string
	}{
		{"plain", "A=1\nB=two words\n", []string{"A=1", "B=two words"}, ""},
		{"comments and blanks", "# settings\n\nA=1\n   # indented comment\n\t\nB=2\n", []string{"A=1", "B=2"}, ""},
		{"value kept as written", "Q=\"quoted\"\nE=\nX=a=b\n", []string{`Q="quoted"`, "E=", "X=a=b"}, ""},
		{"key alone takes the environment", "HOME\nEMPTY\nUNSET\n", []string{"HOME=/home/me", "EMPTY="}, ""},
		{"leading space and CRLF", "  A=1\r\nB=2\r\n", []string{"A=1", "B=2"}, ""},
		{"byte order mark", "\uFEFFA=1\n", []string{"A=1"}, ""},
		{"no name", "A=1\n=oops\n", nil, "line 2: \"=oops\": the variable name before '=' is empty"},
		{"space in name", "MY VAR=1\n", nil, "line 1: \"MY VAR=1\": the variable name \"MY VAR\" holds whitespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app.env")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := parseEnvFile("--env-file", path, lookup)
			checkErr(t, err, tt.err)
			if tt.err == "" && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	_, err := parseEnvFile("--env-file", filepath.Join(t.TempDir(), "missing.env"), lookup)
	checkErr(t, err, "read --env-file: open")
}

func TestParseEnv(t *testing.T) {
	lookup := lookupFrom(map[string]string{"TOKEN": "abc"})
	tests := []struct {
		in, want string
		ok       bool
		err      string
	}{
		{"A=1", "A=1", true, ""},
		{"A=", "A=", true, ""},
		{"TOKEN", "TOKEN=abc", true, ""},
		{"UNSET", "", false, ""},
		{"=1", "", false, "the variable name before '=' is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok, err := parseEnv("--env", tt.in, lookup)
			checkErr(t, err, tt.err)
			if got != tt.want || ok != tt.ok {
				t.Errorf("got %q %v, want %q %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestParseMemory(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  string
	}{
		{"512m", 512 << 20, ""},
		{"512M", 512 << 20, ""},
		{"1g", 1 << 30, ""},
		{"1.5g", 3 << 29, ""},
		{"1024", 1024, ""},
		{"64k", 64 << 10, ""},
		{"0", 0, ""},
		{"lots", 0, `invalid --limit-memory "lots": want a size such as 512m, 1g or 1073741824 (bytes)`},
		{"-1m", 0, "want a size"},
		{"", 0, "want a size"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseMemory("--limit-memory", tt.in)
			checkErr(t, err, tt.err)
			if got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestParseCPU(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  string
	}{
		{"0.5", 500_000_000, ""},
		{"2", 2_000_000_000, ""},
		{"1.25", 1_250_000_000, ""},
		{"0.000000001", 1, ""},
		{"0", 0, ""},
		{"0.0000000001", 0, "too precise"},
		{"-1", 0, `invalid --limit-cpu "-1": want a number of CPUs`},
		{"half", 0, "want a number of CPUs such as 0.5 or 2"},
		{"1e12", 0, "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseCPU("--limit-cpu", tt.in)
			checkErr(t, err, tt.err)
			if got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestParseDurationAndSignal(t *testing.T) {
	if d, err := parseDuration("--restart-delay", "1m30s"); err != nil || d.D() != 90*time.Second {
		t.Errorf("1m30s = %v, %v", d, err)
	}
	for _, bad := range []string{"5", "-5s", "soon"} {
		_, err := parseDuration("--restart-delay", bad)
		checkErr(t, err, `invalid --restart-delay "`+bad+`": want a duration such as 10s`)
	}
	signals := map[string]string{"SIGTERM": "SIGTERM", "term": "SIGTERM", "SIGQUIT": "SIGQUIT", "9": "9", "SIGRTMIN+3": "SIGRTMIN+3"}
	for in, want := range signals {
		if got, err := parseSignal("--stop-signal", in); err != nil || got != want {
			t.Errorf("parseSignal(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"SIGFOO", "0", "99"} {
		if _, err := parseSignal("--stop-signal", bad); err == nil {
			t.Errorf("parseSignal(%q) accepted", bad)
		}
	}
}

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{"sh -c", []string{"sh", "-c"}, false},
		{`/bin/sh -c "echo hi"`, []string{"/bin/sh", "-c", "echo hi"}, false},
		{`a 'b c' d\ e ""`, []string{"a", "b c", "d e", ""}, false},
		{"  spaced   out ", []string{"spaced", "out"}, false},
		{`"open`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := splitWords(tt.in)
			if (err != nil) != tt.err || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestParseTailAndSince(t *testing.T) {
	for in, want := range map[string]int{"all": -1, "": -1, "0": 0, "20": 20} {
		if got, err := parseTail(in); err != nil || got != want {
			t.Errorf("parseTail(%q) = %d, %v", in, got, err)
		}
	}
	for _, bad := range []string{"-1", "ten"} {
		_, err := parseTail(bad)
		checkErr(t, err, `invalid --tail "`+bad+`": want a number of lines, or all`)
	}

	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	sinces := map[string]time.Time{
		"10m":                  now.Add(-10 * time.Minute),
		"1h30m":                now.Add(-90 * time.Minute),
		"2024-05-01T10:00:00Z": time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC),
		"1714557600":           time.Unix(1714557600, 0),
		"":                     {},
	}
	for in, want := range sinces {
		if got, err := parseSince(in, now); err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"yesterday", "-10m"} {
		_, err := parseSince(bad, now)
		checkErr(t, err, `invalid --since "`+bad+`"`)
	}
}

func TestParseScaleArgs(t *testing.T) {
	got, err := parseScaleArgs([]string{"web=5", "api=0"})
	if err != nil || !reflect.DeepEqual(got, []scaleTarget{{"web", 5}, {"api", 0}}) {
		t.Fatalf("got %v, %v", got, err)
	}
	tests := map[string]string{
		"web":    `invalid scale argument "web": want SERVICE=REPLICAS, as in web=5`,
		"=3":     "want SERVICE=REPLICAS",
		"web=":   "want SERVICE=REPLICAS",
		"web=-1": "invalid replica count for web: -1: must be 0 or more",
		"web=x":  "invalid replica count for web: x: want a whole number",
	}
	for in, want := range tests {
		_, err := parseScaleArgs([]string{"ok=1", in})
		checkErr(t, err, want)
	}
}

func TestParsePsFilters(t *testing.T) {
	if got, err := parsePsFilters([]string{"desired-state=running"}); err != nil || got != "running" {
		t.Errorf("got %q, %v", got, err)
	}
	for in, want := range map[string]string{
		"node=laptop":            "want desired-state=running",
		"desired-state=sleeping": "desired-state is running, shutdown or accepted",
	} {
		_, err := parsePsFilters([]string{in})
		checkErr(t, err, want)
	}
	_, err := parsePsFilters([]string{"desired-state=running", "desired-state=shutdown"})
	checkErr(t, err, "only one desired-state")
}

// TestSpecOptions runs every flag of the option table through a flag set
// of create or update: what it does to the spec, and that a bad value is
// an error that names the flag as given.
func TestSpecOptions(t *testing.T) {
	d := func(v time.Duration) *types.Duration { x := types.Duration(v); return &x }
	current := func() types.ServiceSpec {
		return types.ServiceSpec{Name: "web", Labels: map[string]string{"a": "1"}, Mode: types.ModeReplicated, Replicas: 2,
			Task: types.TaskSpec{Container: types.ContainerSpec{Image: "web:1", Env: []string{"A=1", "B=2"}, Labels: map[string]string{"c": "1"},
				Mounts:      []types.Mount{{Type: types.MountTmpfs, Target: "/old"}},
				Secrets:     []types.SecretReference{{SecretName: "s1", File: types.FileTarget{Name: "s1"}}},
				Configs:     []types.ConfigReference{{ConfigName: "c1", File: types.FileTarget{Name: "/c1"}}},
				Healthcheck: &types.HealthConfig{Test: []string{"CMD-SHELL", "true"}}},
				Resources:     types.Requirements{Limits: types.Resources{NanoCPUs: 2e9}},
				RestartPolicy: types.RestartPolicy{Condition: types.RestartAny},
				Placement:     types.Placement{Constraints: []string{"node.role==worker"}}},
			Endpoint: types.EndpointSpec{Ports: []types.PortConfig{{Protocol: "tcp", TargetPort: 80, PublishedPort: 8080, PublishMode: "ingress"}}},
			Networks: []types.NetworkAttachmentConfig{{Target: "net1aaaaaaaaaaaaaaaaaaaaa"}}}
	}
	created := func() types.ServiceSpec {
		return types.ServiceSpec{Mode: types.ModeReplicated, Replicas: 1, Task: types.TaskSpec{RestartPolicy: types.RestartPolicy{Condition: types.RestartAny}}}
	}
	policy := func(f func(*types.UpdateConfig)) *types.UpdateConfig {
		c := types.DefaultUpdateConfig()
		f(c)
		return c
	}
	envFile := filepath.Join(t.TempDir(), "app.env")
	if err := os.WriteFile(envFile, []byte("F=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cmd  string
		args []string
		want func(*types.ServiceSpec) // the change to the spec; nil for an error
		err  string
	}{
		{"create", []string{"--name", "api"}, func(s *types.ServiceSpec) { s.Name = "api" }, ""},
		{"create", []string{"--name", "-api"}, nil, `invalid --name "-api"`},
		{"create", []string{"--mode", "global"}, func(s *types.ServiceSpec) { s.Mode, s.Replicas = types.ModeGlobal, 0 }, ""},
		{"create", []string{"--mode", "daemon"}, nil, `invalid --mode "daemon"`},
		{"create", []string{"--mode", "global", "--replicas", "2"}, nil, "invalid --replicas with --mode global: a global service runs one task on every node"},
		{"update", []string{"--replicas", "5"}, func(s *types.ServiceSpec) { s.Replicas = 5 }, ""},
		{"update", []string{"--replicas", "-1"}, nil, "invalid --replicas -1: must be 0 or more"},
		{"update", []string{"--image", "web:2"}, func(s *types.ServiceSpec) { s.Task.Container.Image = "web:2" }, ""},
		{"update", []string{"--image", "Web"}, nil, "invalid image reference"},
		{"update", []string{"--args", "-g 'daemon off;'"}, func(s *types.ServiceSpec) { s.Task.Container.Args = []string{"-g", "daemon off;"} }, ""},
		{"update", []string{"--args", `"x`}, nil, "invalid --args: unterminated quote"},
		{"update", []string{"--entrypoint", "sh -c"}, func(s *types.ServiceSpec) { s.Task.Container.Command = []string{"sh", "-c"} }, ""},
		{"update", []string{"--entrypoint", " "}, nil, "invalid --entrypoint: it is empty"},
		{"create", []string{"--env-file", envFile, "-e", "F=2", "-e", "G=1"}, func(s *types.ServiceSpec) { s.Task.Container.Env = []string{"F=2", "G=1"} }, ""},
		{"create", []string{"--env-file", "/nonexistent"}, nil, "read --env-file: open /nonexistent"},
		{"update", []string{"--env-add", "B=3", "--env-add", "C=1", "--env-rm", "A"}, func(s *types.ServiceSpec) { s.Task.Container.Env = []string{"B=3", "C=1"} }, ""},
		{"update", []string{"--env-add", "=1"}, nil, `invalid --env-add "=1": the variable name before '=' is empty`},
		{"update", []string{"--label-add", "b=2", "--label-rm", "a"}, func(s *types.ServiceSpec) { s.Labels = map[string]string{"b": "2"} }, ""},
		{"update", []string{"--label-add", "=x"}, nil, `invalid --label-add "=x": the label name before '=' is empty`},
		{"update", []string{"--container-label-add", "d=2", "--container-label-rm", "c"}, func(s *types.ServiceSpec) { s.Task.Container.Labels = map[string]string{"d": "2"} }, ""},
		{"create", []string{"--container-label", "=x"}, nil, `invalid --container-label "=x"`},
		{"update", []string{"--mount-add", "type=tmpfs,target=/new", "--mount-rm", "/old/"}, func(s *types.ServiceSpec) {
			s.Task.Container.Mounts = []types.Mount{{Type: types.MountTmpfs, Target: "/new"}}
		}, ""},
		{"update", []string{"--mount-add", "type=volume,source=v,target=/old"}, func(s *types.ServiceSpec) {
			s.Task.Container.Mounts = []types.Mount{{Type: types.MountVolume, Source: "v", Target: "/old"}}
		}, ""},
		{"update", []string{"--mount-add", "type=nfs,target=/x"}, nil, `invalid --mount-add "type=nfs,target=/x": type=nfs`},
		{"update", []string{"--mount-rm", "/x"}, nil, "invalid --mount-rm /x: the service has no mount at that target"},
		{"create", []string{"--mount", "target=/a", "--mount", "target=/a"}, nil, `invalid --mount "target=/a": /a is already a mount target`},
		{"update", []string{"--secret-add", "source=s2,target=s1", "--secret-rm", "nope"}, nil, "invalid --secret-rm nope: the service is not granted that secret"},
		{"update", []string{"--secret-add", "source=s2,target=s1"}, func(s *types.ServiceSpec) {
			s.Task.Container.Secrets = []types.SecretReference{{SecretName: "s2", File: types.FileTarget{Name: "s1"}}}
		}, ""},
		{"update", []string{"--secret-rm", "s1"}, func(s *types.ServiceSpec) { s.Task.Container.Secrets = []types.SecretReference{} }, ""},
		{"update", []string{"--secret-add", "target=x"}, nil, `invalid --secret-add "target=x": name the secret with source=NAME`},
		{"update", []string{"--config-add", "c2", "--config-rm", "c1"}, func(s *types.ServiceSpec) {
			s.Task.Container.Configs = []types.ConfigReference{{ConfigName: "c2"}}
		}, ""},
		{"update", []string{"--config-add", "target=/x"}, nil, `invalid --config-add "target=/x": name the config with source=NAME`},
		{"update", []string{"--config-rm", "nope"}, nil, "invalid --config-rm nope: the service is not granted that config"},
		{"update", []string{"--publish-add", "8080:81", "--publish-add", "9000"}, func(s *types.ServiceSpec) {
			s.Endpoint.Ports = []types.PortConfig{{Protocol: "tcp", TargetPort: 81, PublishedPort: 8080, PublishMode: "ingress"}, {Protocol: "tcp", TargetPort: 9000, PublishMode: "ingress"}}
		}, ""},
		{"update", []string{"--publish-rm", "8080:80"}, func(s *types.ServiceSpec) { s.Endpoint.Ports = []types.PortConfig{} }, ""},
		{"update", []string{"--publish-rm", "80/udp"}, nil, "invalid --publish-rm 80/udp: the service publishes no such port (it publishes *:8080->80/tcp)"},
		{"update", []string{"--publish-add", "1:2:3"}, nil, `invalid --publish-add "1:2:3"`},
		{"create", []string{"-p", "80:1", "-p", "80:2"}, nil, `invalid --publish "80:2": port 80/tcp is already published`},
		{"update", []string{"--constraint-add", "node.role==manager", "--constraint-add", "node.role==manager", "--constraint-rm", "node.role==worker"}, func(s *types.ServiceSpec) {
			s.Task.Placement.Constraints = []string{"node.role==manager"}
		}, ""},
		{"update", []string{"--constraint-add", "node.colour==red"}, nil, `invalid --constraint-add "node.colour==red": unknown key "node.colour"`},
		{"update", []string{"--limit-cpu", "0", "--limit-memory", "1g", "--reserve-cpu", "3", "--reserve-memory", "512m"}, func(s *types.ServiceSpec) {
			s.Task.Resources = types.Requirements{Limits: types.Resources{MemoryBytes: 1 << 30}, Reservations: types.Resources{NanoCPUs: 3e9, MemoryBytes: 512 << 20}}
		}, ""},
		{"update", []string{"--limit-cpu", "x"}, nil, `invalid --limit-cpu "x"`},
		{"update", []string{"--reserve-cpu", "-1"}, nil, `invalid --reserve-cpu "-1"`},
		{"update", []string{"--limit-memory", "lots"}, nil, `invalid --limit-memory "lots"`},
		{"update", []string{"--reserve-memory", "x"}, nil, `invalid --reserve-memory "x"`},
		{"update", []string{"--reserve-cpu", "3"}, nil, "invalid --reserve-cpu 3: more than --limit-cpu 2"},
		{"update", []string{"--limit-memory", "1m", "--reserve-memory", "2m"}, nil, "invalid --reserve-memory 2MiB: more than --limit-memory 1MiB"},
		{"update", []string{"--restart-condition", "none", "--restart-delay", "1s", "--restart-max-attempts", "3", "--restart-window", "1m"}, func(s *types.ServiceSpec) {
			s.Task.RestartPolicy = types.RestartPolicy{Condition: types.RestartNone, Delay: d(time.Second), MaxAttempts: 3, Window: d(time.Minute)}
		}, ""},
		{"update", []string{"--restart-condition", "always"}, nil, `invalid --restart-condition "always"`},
		{"update", []string{"--restart-delay", "1"}, nil, `invalid --restart-delay "1"`},
		{"update", []string{"--restart-max-attempts", "x"}, nil, "invalid --restart-max-attempts x: want a whole number"},
		{"update", []string{"--restart-window", "x"}, nil, `invalid --restart-window "x"`},
		{"update", []string{"--stop-grace-period", "3s", "--stop-signal", "int", "-w", "/app", "-u", "nobody"}, func(s *types.ServiceSpec) {
			c := &s.Task.Container
			c.StopGracePeriod, c.StopSignal, c.Dir, c.User = d(3*time.Second), "SIGINT", "/app", "nobody"
		}, ""},
		{"update", []string{"--stop-grace-period", "-1s"}, nil, `invalid --stop-grace-period "-1s"`},
		{"update", []string{"--stop-signal", "NOPE"}, nil, `invalid --stop-signal "NOPE"`},
		{"update", []string{"--workdir", "app"}, nil, `invalid --workdir "app"`},
		{"update", []string{"--hostname", "{{.Node.Hostname}}-{{.Task.Slot}}"}, func(s *types.ServiceSpec) { s.Task.Container.Hostname = "{{.Node.Hostname}}-{{.Task.Slot}}" }, ""},
		{"update", []string{"--hostname", "db_1"}, nil, `invalid --hostname "db_1": it is not a hostname`},
		{"update", []string{"--hostname", "{{.Node.Name}}"}, nil, `invalid --hostname "{{.Node.Name}}": it names a field there is not`},
		{"update", []string{"--health-cmd", "curl x", "--health-interval", "1s", "--health-timeout", "2s", "--health-start-period", "3s", "--health-retries", "4"}, func(s *types.ServiceSpec) {
			s.Task.Container.Healthcheck = &types.HealthConfig{Test: []string{"CMD-SHELL", "curl x"}, Interval: *d(time.Second), Timeout: *d(2 * time.Second), StartPeriod: *d(3 * time.Second), Retries: 4}
		}, ""},
		{"update", []string{"--health-cmd", ""}, nil, "invalid --health-cmd: it is empty"},
		{"update", []string{"--health-interval", "1ns"}, nil, "invalid --health-interval 1ns: use at least 1ms"},
		{"update", []string{"--health-timeout", "x"}, nil, `invalid --health-timeout "x"`},
		{"update", []string{"--health-start-period", "x"}, nil, `invalid --health-start-period "x"`},
		{"update", []string{"--health-retries", "-2"}, nil, "invalid --health-retries -2"},
		{"update", []string{"--no-healthcheck"}, func(s *types.ServiceSpec) { s.Task.Container.Healthcheck = &types.HealthConfig{Test: []string{"NONE"}} }, ""},
		{"update", []string{"--no-healthcheck", "--health-retries", "1"}, nil, "--no-healthcheck conflicts with --health-retries"},
		{"update", []string{"--update-parallelism", "0", "--update-delay", "1s", "--update-failure-action", "rollback", "--update-monitor", "2s", "--update-max-failure-ratio", "0.5", "--update-order", "start-first"},
			func(s *types.ServiceSpec) {
				s.Update = &types.UpdateConfig{Delay: *d(time.Second), FailureAction: types.FailureRollback, Monitor: d(2 * time.Second), MaxFailureRatio: 0.5, Order: types.OrderStartFirst}
			}, ""},
		{"create", []string{"--rollback-parallelism", "3", "--rollback-delay", "1s", "--rollback-failure-action", "continue", "--rollback-monitor", "2s", "--rollback-max-failure-ratio", "1", "--rollback-order", "start-first"},
			func(s *types.ServiceSpec) {
				s.Rollback = &types.UpdateConfig{Parallelism: 3, Delay: *d(time.Second), FailureAction: types.FailureContinue, Monitor: d(2 * time.Second), MaxFailureRatio: 1, Order: types.OrderStartFirst}
			}, ""},
		{"create", []string{"--update-parallelism", "2"}, func(s *types.ServiceSpec) { s.Update = policy(func(c *types.UpdateConfig) { c.Parallelism = 2 }) }, ""},
		{"update", []string{"--rollback-parallelism", "x"}, nil, "invalid --rollback-parallelism x"},
		{"update", []string{"--update-parallelism", "x"}, nil, "invalid --update-parallelism x"},
		{"update", []string{"--update-delay", "x"}, nil, `invalid --update-delay "x"`},
		{"update", []string{"--rollback-delay", "x"}, nil, `invalid --rollback-delay "x"`},
		{"update", []string{"--update-failure-action", "x"}, nil, `invalid --update-failure-action "x": want pause, continue or rollback`},
		{"update", []string{"--rollback-failure-action", "rollback"}, nil, `invalid --rollback-failure-action "rollback": want pause or continue`},
		{"update", []string{"--update-monitor", "x"}, nil, `invalid --update-monitor "x"`},
		{"update", []string{"--rollback-monitor", "x"}, nil, `invalid --rollback-monitor "x"`},
		{"update", []string{"--update-max-failure-ratio", "2"}, nil, `invalid --update-max-failure-ratio "2"`},
		{"update", []string{"--rollback-max-failure-ratio", "-1"}, nil, `invalid --rollback-max-failure-ratio "-1"`},
		{"update", []string{"--update-order", "x"}, nil, `invalid --update-order "x"`},
		{"update", []string{"--rollback-order", "x"}, nil, `invalid --rollback-order "x"`},
		{"update", []string{"--force", "--force"}, func(s *types.ServiceSpec) { s.Task.ForceUpdate = 1 }, ""},
		{"create", []string{"--network", "front", "--network", "name=back,alias=db,alias=cache"}, func(s *types.ServiceSpec) {
			s.Networks = []types.NetworkAttachmentConfig{{Target: "front"}, {Target: "back", Aliases: []string{"db", "cache"}}}
		}, ""},
		{"create", []string{"--network", "front", "--network", "target=front,alias=www"}, nil, `invalid --network "target=front,alias=www": network front is given twice`},
		{"create", []string{"--network", "alias=db"}, nil, `invalid --network "alias=db": name the network with name=NETWORK`},
		{"update", []string{"--network-rm", "net1aaa", "--network-add", "target=back"}, func(s *types.ServiceSpec) { s.Networks = []types.NetworkAttachmentConfig{{Target: "back"}} }, ""},
		{"update", []string{"--network-rm", "back"}, nil, "invalid --network-rm back: the service is not attached to that network (give its ID"},
		{"create", []string{"--endpoint-mode", "dnsrr"}, func(s *types.ServiceSpec) { s.Endpoint.Mode = types.EndpointDNSRR }, ""},
		{"update", []string{"--endpoint-mode", "vip"}, func(s *types.ServiceSpec) { s.Endpoint.Mode = types.EndpointVIP }, ""},
		{"update", []string{"--endpoint-mode", "rr"}, nil, `invalid --endpoint-mode "rr": want vip or dnsrr`},
	}
	used := map[string]map[string]bool{"create": {}, "update": {}}
	for _, tt := range tests {
		t.Run(tt.cmd+" "+strings.Join(tt.args, " "), func(t *testing.T) {
			fs := pflag.NewFlagSet(tt.cmd, pflag.ContinueOnError)
			addSpecFlags(fs, tt.cmd)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			fs.Visit(func(f *pflag.Flag) { used[tt.cmd][f.Name] = true })
			got, want := current(), current()
			if tt.cmd == "create" {
				got, want = created(), created()
			}
			err := applySpecFlags(fs, tt.cmd, &got, lookupFrom(nil))
			checkErr(t, err, tt.err)
			if tt.want == nil {
				return
			}
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("spec:\n%+v\nwant:\n%+v", got, want)
			}
		})
	}
	for _, cmd := range []string{"create", "update"} {
		fs := pflag.NewFlagSet(cmd, pflag.ContinueOnError)
		addSpecFlags(fs, cmd)
		fs.VisitAll(func(f *pflag.Flag) {
			if !used["create"][f.Name] && !used["update"][f.Name] && !used["update"][f.Name+"-add"] {
				t.Errorf("service %s --%s is not tested", cmd, f.Name)
			}
		})
	}
}

// TestUpdateHasEveryOptionOfCreate checks that update can change whatever
// create sets, but the name, the mode and the env files.
func TestUpdateHasEveryOptionOfCreate(t *testing.T) {
	create, update := pflag.NewFlagSet("create", pflag.ContinueOnError), pflag.NewFlagSet("update", pflag.ContinueOnError)
	addSpecFlags(create, "create")
	addSpecFlags(update, "update")
	create.VisitAll(func(f *pflag.Flag) {
		switch f.Name {
		case "name", "mode", "env-file":
			return
		}
		if update.Lookup(f.Name) == nil && (update.Lookup(f.Name+"-add") == nil || update.Lookup(f.Name+"-rm") == nil) {
			t.Errorf("service update cannot change what service create --%s sets", f.Name)
		}
	})
}
