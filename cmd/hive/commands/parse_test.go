package commands

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

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
			got, err := parsePublish(tt.in)
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
			got, err := parseMount(tt.in)
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
			got, err := parseEnvFile(path, lookup)
			checkErr(t, err, tt.err)
			if tt.err == "" && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	_, err := parseEnvFile(filepath.Join(t.TempDir(), "missing.env"), lookup)
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
			got, ok, err := parseEnv(tt.in, lookup)
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
			got, err := parseMemory("limit-memory", tt.in)
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
			got, err := parseCPU("limit-cpu", tt.in)
			checkErr(t, err, tt.err)
			if got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestParseDurationAndSignal(t *testing.T) {
	if d, err := parseDuration("restart-delay", "1m30s"); err != nil || d.D() != 90*time.Second {
		t.Errorf("1m30s = %v, %v", d, err)
	}
	for _, bad := range []string{"5", "-5s", "soon"} {
		_, err := parseDuration("restart-delay", bad)
		checkErr(t, err, `invalid --restart-delay "`+bad+`": want a duration such as 10s`)
	}
	signals := map[string]string{"SIGTERM": "SIGTERM", "term": "SIGTERM", "SIGQUIT": "SIGQUIT", "9": "9", "SIGRTMIN+3": "SIGRTMIN+3"}
	for in, want := range signals {
		if got, err := parseSignal(in); err != nil || got != want {
			t.Errorf("parseSignal(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"SIGFOO", "0", "99"} {
		if _, err := parseSignal(bad); err == nil {
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
