package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPrecedenceAcrossLayers(t *testing.T) {
	const file = "log:\n  level: debug\nraft:\n  heartbeat_timeout: 1s\n  election_timeout: 10s\ndata_dir: from-file\n"
	tests := []struct {
		name       string
		file       bool
		env        []string
		args       []string
		wantLevel  string
		wantSource string
		wantHB     time.Duration
		wantDir    string // relative to the fixture: "work/..." or "home/..."
	}{
		{name: "defaults only", wantLevel: "info", wantSource: "default", wantHB: 500 * time.Millisecond, wantDir: "home/.local/share/hive"},
		{name: "file overrides default", file: true, wantLevel: "debug", wantSource: "file", wantHB: time.Second, wantDir: "work/from-file"},
		{name: "env overrides file", file: true,
			env:       []string{"HIVE_LOG_LEVEL=warn", "HIVE_RAFT_HEARTBEAT_TIMEOUT=2s", "HIVE_DATA_DIR=~/from-env"},
			wantLevel: "warn", wantSource: "env HIVE_LOG_LEVEL", wantHB: 2 * time.Second, wantDir: "home/from-env"},
		{name: "flag overrides env and file", file: true,
			env:       []string{"HIVE_LOG_LEVEL=warn", "HIVE_RAFT_HEARTBEAT_TIMEOUT=2s", "HIVE_DATA_DIR=/x"},
			args:      []string{"--log-level=error", "--raft-heartbeat=3s", "--data-dir=from-flag"},
			wantLevel: "error", wantSource: "flag --log-level", wantHB: 3 * time.Second, wantDir: "work/from-flag"},
		{name: "unchanged flag does not override", file: true,
			env:       []string{"HIVE_LOG_LEVEL=warn"},
			args:      []string{"--verbose"},
			wantLevel: "warn", wantSource: "env HIVE_LOG_LEVEL", wantHB: time.Second, wantDir: "work/from-file"},
		{name: "empty env var counts as unset", file: true,
			env:       []string{"HIVE_LOG_LEVEL="},
			wantLevel: "debug", wantSource: "file", wantHB: time.Second, wantDir: "work/from-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			var path string
			if tt.file {
				path = write(t, f.work, "hive.yaml", file)
			}
			opts := LoadOptions{Env: tt.env, FlagKeys: testFlagKeys}
			if tt.args != nil {
				opts.Flags = flags(t, tt.args...)
			}
			c := f.mustLoad(t, opts)
			if c.Log.Level != tt.wantLevel {
				t.Errorf("log.level = %q, want %q", c.Log.Level, tt.wantLevel)
			}
			wantSource := tt.wantSource
			if wantSource == "file" {
				wantSource = "file " + path
			}
			if got := entry(t, c, "log.level").Source; got != wantSource {
				t.Errorf("log.level source = %q, want %q", got, wantSource)
			}
			if c.Raft.HeartbeatTimeout != tt.wantHB {
				t.Errorf("raft.heartbeat_timeout = %v, want %v", c.Raft.HeartbeatTimeout, tt.wantHB)
			}
			wantDir := filepath.Join(filepath.Dir(f.work), tt.wantDir)
			if c.DataDir != wantDir {
				t.Errorf("data_dir = %q, want %q", c.DataDir, wantDir)
			}
			if c.File != path {
				t.Errorf("File = %q, want %q", c.File, path)
			}
		})
	}
}

func TestFileFormats(t *testing.T) {
	tests := []struct {
		name, file, content string
	}{
		{"yaml", "hive.yaml", `
data_dir: /srv/hive
log: {level: debug, format: json}
plugins:
  health_interval: 10s
  config:
    runtime-docker: {socket_path: /run/docker.sock, max_pulls: 3, debug: true}
tasks: {history_limit: 7}
raft: {snapshot_threshold: 100}
`},
		{"yml", "hive.yml", `
data_dir: /srv/hive
log:
  level: debug
  format: json
plugins:
  health_interval: "10s"
  config:
    runtime-docker:
      socket_path: /run/docker.sock
      max_pulls: 3
      debug: true
tasks:
  history_limit: 7
raft:
  snapshot_threshold: 100
`},
		{"toml", "hive.toml", `
data_dir = "/srv/hive"
[log]
level = "debug"
format = "json"
[plugins]
health_interval = "10s"
[plugins.config.runtime-docker]
socket_path = "/run/docker.sock"
max_pulls = 3
debug = true
[tasks]
history_limit = 7
[raft]
snapshot_threshold = 100
`},
		{"json", "hive.json", `{
  "data_dir": "/srv/hive",
  "log": {"level": "debug", "format": "json"},
  "plugins": {"health_interval": "10s",
    "config": {"runtime-docker": {"socket_path": "/run/docker.sock", "max_pulls": 3, "debug": true}}},
  "tasks": {"history_limit": 7},
  "raft": {"snapshot_threshold": 100}
}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			path := write(t, f.work, tt.file, tt.content)
			c := f.mustLoad(t, LoadOptions{})
			if c.File != path {
				t.Errorf("File = %q, want %q", c.File, path)
			}
			if c.DataDir != "/srv/hive" || c.Log.Level != "debug" || c.Log.Format != "json" {
				t.Errorf("data_dir, log = %q, %+v", c.DataDir, c.Log)
			}
			if c.Plugins.HealthInterval != 10*time.Second || c.Tasks.HistoryLimit != 7 || c.Raft.SnapshotThreshold != 100 {
				t.Errorf("health_interval %v, history_limit %d, snapshot_threshold %d",
					c.Plugins.HealthInterval, c.Tasks.HistoryLimit, c.Raft.SnapshotThreshold)
			}
			want := map[string]string{"socket_path": "/run/docker.sock", "max_pulls": "3", "debug": "true"}
			got := c.Plugins.Config["runtime-docker"]
			if len(got) != len(want) {
				t.Fatalf("plugin settings = %v, want %v", got, want)
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("plugins.config.runtime-docker.%s = %q, want %q", k, got[k], v)
				}
			}
			if got := entry(t, c, "log.format").Source; got != "file "+path {
				t.Errorf("log.format source = %q", got)
			}
		})
	}
}

func TestFileSelection(t *testing.T) {
	type files map[string]string // "work/hive.yaml" -> content
	tests := []struct {
		name     string
		files    files
		file     string   // LoadOptions.File, relative to the fixture root unless absolute
		env      []string // HIVE_CONFIG values are relative to the fixture root
		wantFile string   // relative to the fixture root; "" for none
		wantErr  []string
	}{
		{name: "no file anywhere"},
		{name: "working directory first",
			files:    files{"work/hive.yaml": "", "home/.config/hive/hive.yaml": "", "etc-hive/hive.yaml": ""},
			wantFile: "work/hive.yaml"},
		{name: "home before system",
			files:    files{"home/.config/hive/hive.toml": "", "etc-hive/hive.yaml": ""},
			wantFile: "home/.config/hive/hive.toml"},
		{name: "system last", files: files{"etc-hive/hive.json": "{}"}, wantFile: "etc-hive/hive.json"},
		{name: "yaml before yml, toml and json in one directory",
			files:    files{"work/hive.json": "{}", "work/hive.toml": "", "work/hive.yml": "", "work/hive.yaml": ""},
			wantFile: "work/hive.yaml"},
		{name: "yml before toml", files: files{"work/hive.toml": "", "work/hive.yml": ""}, wantFile: "work/hive.yml"},
		{name: "toml before json", files: files{"work/hive.json": "{}", "work/hive.toml": ""}, wantFile: "work/hive.toml"},
		{name: "explicit file beats the search path",
			files: files{"work/hive.yaml": "", "other/my.toml": ""},
			file:  "other/my.toml", wantFile: "other/my.toml"},
		{name: "explicit file beats HIVE_CONFIG",
			files: files{"a.yaml": "", "b.yaml": ""},
			file:  "a.yaml", env: []string{"HIVE_CONFIG=b.yaml"}, wantFile: "a.yaml"},
		{name: "HIVE_CONFIG beats the search path",
			files: files{"work/hive.yaml": "", "b.json": "{}"},
			env:   []string{"HIVE_CONFIG=b.json"}, wantFile: "b.json"},
		{name: "missing explicit file is an error", file: "nope.yaml",
			wantErr: []string{"config file ", "nope.yaml (from --config) does not exist"}},
		{name: "missing HIVE_CONFIG file is an error", env: []string{"HIVE_CONFIG=nope.yaml"},
			wantErr: []string{"nope.yaml (from env HIVE_CONFIG) does not exist"}},
		{name: "unknown extension", files: files{"hive.conf": ""}, file: "hive.conf",
			wantErr: []string{`unknown format ".conf": name it .yaml, .yml, .toml or .json`}},
		{name: "syntax error names the file", files: files{"work/hive.json": "{"},
			wantErr: []string{"config: read file ", "hive.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			root := filepath.Dir(f.work)
			for name, content := range tt.files {
				write(t, root, name, content)
			}
			opts := LoadOptions{}
			if tt.file != "" {
				opts.File = filepath.Join(root, tt.file)
			}
			for _, e := range tt.env {
				name, value, _ := strings.Cut(e, "=")
				opts.Env = append(opts.Env, name+"="+filepath.Join(root, value))
			}
			c, err := f.load(opts)
			if tt.wantErr != nil {
				wantErrContains(t, err, tt.wantErr...)
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := ""
			if tt.wantFile != "" {
				want = filepath.Join(root, tt.wantFile)
			}
			if c.File != want {
				t.Errorf("File = %q, want %q", c.File, want)
			}
		})
	}
}

func TestRelativePathsInFileResolveAgainstItsDirectory(t *testing.T) {
	f := newFixture(t)
	path := write(t, f.system, "hive.yaml", "data_dir: state\nplugins:\n  runtime: ./bin/my-runtime\n")
	c := f.mustLoad(t, LoadOptions{Env: []string{"HIVE_PLUGINS_DIR=plugins"}})
	if want := filepath.Join(filepath.Dir(path), "state"); c.DataDir != want {
		t.Errorf("data_dir = %q, want %q", c.DataDir, want)
	}
	if want := filepath.Join(f.system, "bin", "my-runtime"); c.Plugins.Runtime != want {
		t.Errorf("plugins.runtime = %q, want %q", c.Plugins.Runtime, want)
	}
	if want := filepath.Join(f.work, "plugins"); c.Plugins.Dir != want {
		t.Errorf("plugins.dir from env = %q, want %q (relative to the working directory)", c.Plugins.Dir, want)
	}
}

func TestDerivedValuesFollowDataDir(t *testing.T) {
	tests := []struct {
		name                   string
		file                   string
		env                    []string
		wantHost, wantPlugins  string
		hostSource, plugSource string
	}{
		{name: "from env data_dir", env: []string{"HIVE_DATA_DIR=/srv/h"},
			wantHost: "unix:///srv/h/hive.sock", wantPlugins: "/srv/h/plugins",
			hostSource: "derived from data_dir", plugSource: "derived from data_dir"},
		{name: "from file data_dir", file: "data_dir: /opt/hive\n",
			wantHost: "unix:///opt/hive/hive.sock", wantPlugins: "/opt/hive/plugins",
			hostSource: "derived from data_dir", plugSource: "derived from data_dir"},
		{name: "explicit values are kept", file: "data_dir: /opt/hive\nhost: tcp://10.0.0.1:2375\nplugins: {dir: /usr/lib/hive}\n",
			wantHost: "tcp://10.0.0.1:2375", wantPlugins: "/usr/lib/hive",
			hostSource: "file", plugSource: "file"},
		{name: "empty values mean derived", file: "data_dir: /opt/hive\nhost: ''\nplugins: {dir: ''}\n",
			wantHost: "unix:///opt/hive/hive.sock", wantPlugins: "/opt/hive/plugins",
			hostSource: "derived from data_dir", plugSource: "derived from data_dir"},
		{name: "env host overrides derived", file: "data_dir: /opt/hive\n", env: []string{"HIVE_HOST=/run/hive.sock"},
			wantHost: "unix:///run/hive.sock", wantPlugins: "/opt/hive/plugins",
			hostSource: "env HIVE_HOST", plugSource: "derived from data_dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			var path string
			if tt.file != "" {
				path = write(t, f.work, "hive.yaml", tt.file)
			}
			c := f.mustLoad(t, LoadOptions{Env: tt.env})
			if c.Host != tt.wantHost || c.Plugins.Dir != tt.wantPlugins {
				t.Errorf("host, plugins.dir = %q, %q; want %q, %q", c.Host, c.Plugins.Dir, tt.wantHost, tt.wantPlugins)
			}
			for key, want := range map[string]string{"host": tt.hostSource, "plugins.dir": tt.plugSource} {
				if want == "file" {
					want = "file " + path
				}
				if got := entry(t, c, key).Source; got != want {
					t.Errorf("%s source = %q, want %q", key, got, want)
				}
			}
		})
	}
}

// docker_api.socket sits beside the data unless set; set empty, the
// Docker API is off.
func TestDockerAPISocket(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		env        []string
		want       string
	}{
		{"derived", "data_dir: /opt/hive\n", nil, "/opt/hive/docker.sock"},
		{"off in the file", "data_dir: /opt/hive\ndocker_api: {socket: ''}\n", nil, ""},
		{"off in the environment", "data_dir: /opt/hive\n", []string{"HIVE_DOCKER_API_SOCKET="}, ""},
		{"elsewhere", "data_dir: /opt/hive\n", []string{"HIVE_DOCKER_API_SOCKET=/run/hive-docker.sock"}, "/run/hive-docker.sock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			write(t, f.work, "hive.yaml", tc.file)
			if c := f.mustLoad(t, LoadOptions{Env: tc.env}); c.DockerAPI.Socket != tc.want {
				t.Errorf("docker_api.socket = %q, want %q", c.DockerAPI.Socket, tc.want)
			}
		})
	}
}

// docker_api.listen is off unless set; an empty host means all
// addresses.
func TestDockerAPIListen(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		env        []string
		want       string
	}{
		{"off by default", "", nil, ""},
		{"empty in the environment", "", []string{"HIVE_DOCKER_API_LISTEN="}, ""},
		{"in the file", "docker_api: {listen: '127.0.0.1:2376'}\n", nil, "127.0.0.1:2376"},
		{"all addresses", "", []string{"HIVE_DOCKER_API_LISTEN=:2376"}, ":2376"},
		{"IPv6", "", []string{"HIVE_DOCKER_API_LISTEN=[::1]:2376"}, "[::1]:2376"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			write(t, f.work, "hive.yaml", tc.file)
			if c := f.mustLoad(t, LoadOptions{Env: tc.env}); c.DockerAPI.Listen != tc.want {
				t.Errorf("docker_api.listen = %q, want %q", c.DockerAPI.Listen, tc.want)
			}
		})
	}
}

func TestMetricsListen(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"default", nil, "127.0.0.1:9323"},
		{"empty turns it off", []string{"HIVE_METRICS_LISTEN="}, ""},
		{"port 0", []string{"HIVE_METRICS_LISTEN=127.0.0.1:0"}, "127.0.0.1:0"},
		{"all addresses", []string{"HIVE_METRICS_LISTEN=:9323"}, ":9323"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if c := f.mustLoad(t, LoadOptions{Env: tc.env}); c.Metrics.Listen != tc.want {
				t.Errorf("metrics.listen = %q, want %q", c.Metrics.Listen, tc.want)
			}
		})
	}
}

func TestDefaultDataDir(t *testing.T) {
	tests := []struct {
		name      string
		euid      int
		xdg, home string
		want      string
	}{
		{"root", 0, "/xdg", "/root", "/var/lib/hive"},
		{"xdg data home", 1000, "/xdg", "/home/u", "/xdg/hive"},
		{"relative xdg is ignored", 1000, "xdg", "/home/u", "/home/u/.local/share/hive"},
		{"home", 1000, "", "/home/u", "/home/u/.local/share/hive"},
		{"no home", 1000, "", "", "/var/lib/hive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := defaultDataDir(tt.euid, tt.xdg, tt.home); got != tt.want {
				t.Errorf("defaultDataDir = %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("Load as root", func(t *testing.T) {
		f := newFixture(t)
		c, err := load(LoadOptions{Env: []string{}, Home: f.home, WorkDir: f.work}, sysEnv{euid: 0, systemDir: f.system})
		if err != nil {
			t.Fatal(err)
		}
		if c.DataDir != "/var/lib/hive" || c.Host != "unix:///var/lib/hive/hive.sock" {
			t.Errorf("data_dir, host = %q, %q", c.DataDir, c.Host)
		}
	})
	t.Run("Load with XDG_DATA_HOME", func(t *testing.T) {
		f := newFixture(t)
		c := f.mustLoad(t, LoadOptions{Env: []string{"XDG_DATA_HOME=/xdg"}})
		if c.DataDir != "/xdg/hive" {
			t.Errorf("data_dir = %q", c.DataDir)
		}
	})
	t.Run("DefaultHost", func(t *testing.T) {
		if got, want := DefaultHost(), "unix://"+filepath.Join(DefaultDataDir(), "hive.sock"); got != want {
			t.Errorf("DefaultHost = %q, want %q", got, want)
		}
	})
}

func TestLoadWithExplicitFile(t *testing.T) {
	f := newFixture(t)
	path := write(t, f.work, "custom.yaml", "data_dir: /srv/hive\n")
	c, err := Load(LoadOptions{File: "custom.yaml", Env: []string{"HIVE_LOG_FORMAT=json"}, Home: f.home, WorkDir: f.work})
	if err != nil {
		t.Fatal(err)
	}
	if c.File != path || c.DataDir != "/srv/hive" || c.Log.Format != "json" || c.Host != "unix:///srv/hive/hive.sock" {
		t.Errorf("got File %q, data_dir %q, log.format %q, host %q", c.File, c.DataDir, c.Log.Format, c.Host)
	}
}

func TestOtherSoftwaresHiveVariablesAreLeftAlone(t *testing.T) {
	f := newFixture(t)
	cfg := f.mustLoad(t, LoadOptions{Env: []string{"HIVE_HOME=/opt/apache-hive", "HIVE_CONF_DIR=/etc/hive/conf", "HIVE_LOG_LEVEL=debug"}})
	if cfg.Log.Level != "debug" {
		t.Fatalf("log.level = %q, want debug from HIVE_LOG_LEVEL", cfg.Log.Level)
	}
}
