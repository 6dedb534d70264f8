package config

import (
	"strings"
	"testing"
)

func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		name    string
		file    string // written to work/hive.yaml when set
		env     []string
		flagKey map[string]string
		args    []string
		want    []string // "FILE" is replaced by the file's path
	}{
		{name: "typo in file", file: "plugins:\n  runtme: runtime-docker\n",
			want: []string{`config: unknown key "plugins.runtme" in file FILE: did you mean "plugins.runtime"? (known keys: data_dir, host, `, "plugins.config.<plugin>.<key>)"}},
		{name: "unrelated key in file", file: "colour: blue\n",
			want: []string{`config: unknown key "colour" in file FILE (known keys: data_dir, `}},
		{name: "value where a section belongs", file: "log: debug\n",
			want: []string{`config: key "log" in file FILE is a section, not a value: set log.level, log.format`}},
		{name: "nested plugin setting", file: "plugins:\n  config:\n    secrets-vault:\n      tls:\n        ca: /x\n",
			want: []string{`config: unknown key "plugins.config.secrets-vault.tls.ca" in file FILE: plugin settings are plugins.config.<plugin>.<key>`}},
		{name: "bad plugin name", file: "plugins:\n  config:\n    'my plugin': {a: b}\n",
			want: []string{`config: plugins.config: invalid plugin name "my plugin" in file FILE`}},
		{name: "plugin section that is a value", file: "plugins:\n  config:\n    runtime-docker: on\n",
			want: []string{`config: plugins.config.runtime-docker in file FILE must be a map of settings`}},
		{name: "list as plugin setting", file: "plugins:\n  config:\n    runtime-docker:\n      hosts: [a, b]\n",
			want: []string{`config: plugins.config.runtime-docker.hosts: invalid value (a list) from file FILE: want a string, number or boolean`}},
		{name: "typo in env", env: []string{"HIVE_LOG_LEVLE=debug"},
			want: []string{"config: unknown key in env HIVE_LOG_LEVLE: did you mean HIVE_LOG_LEVEL? (known variables: HIVE_DATA_DIR, "}},
		{name: "unknown env in a section, even when empty", env: []string{"HIVE_RAFT_NOPE="},
			want: []string{"config: unknown key in env HIVE_RAFT_NOPE (known variables: "}},
		{name: "HIVE_PLUGINS_CONFIG without a key", env: []string{"HIVE_PLUGINS_CONFIG_RUNTIME_DOCKER=x"},
			want: []string{"config: env HIVE_PLUGINS_CONFIG_RUNTIME_DOCKER matches no known plugin"}},
		{name: "flag mapped to an unknown key", flagKey: map[string]string{"log-level": "log.lvl"}, args: []string{"--log-level=debug"},
			want: []string{`config: flag --log-level maps to unknown key "log.lvl"`}},
		{name: "every problem at once", file: "colour: blue\n", env: []string{"HIVE_MESH_NOPE=1", "HIVE_LOG_LEVEL=loud"},
			want: []string{`unknown key "colour"`, "HIVE_MESH_NOPE", `log.level: invalid value "loud" from env HIVE_LOG_LEVEL`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			var path string
			if tt.file != "" {
				path = write(t, f.work, "hive.yaml", tt.file)
			}
			opts := LoadOptions{Env: tt.env, FlagKeys: tt.flagKey}
			if tt.args != nil {
				opts.Flags = flags(t, tt.args...)
			}
			_, err := f.load(opts)
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = strings.ReplaceAll(w, "FILE", path)
			}
			wantErrContains(t, err, want...)
		})
	}
}

func TestReservedEnvIsAllowed(t *testing.T) {
	f := newFixture(t)
	c := f.mustLoad(t, LoadOptions{Env: []string{
		"HIVE_PLUGIN_MAGIC_COOKIE=abc", "HIVE_PLUGIN_PROTOCOL=1", "HIVE_TEST_DOCKER=1",
		"HIVE_CONFIG=", "PATH=/bin", "HIVEMIND=1", "HIVE_HOST=tcp://manager:2375",
	}})
	if c.Host != "tcp://manager:2375" {
		t.Errorf("host = %q: HIVE_HOST is the config key host", c.Host)
	}
}

func TestBadValues(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  []string
		args []string
		want string // exact error; FILE is replaced by the file's path
	}{
		{name: "metrics listen without port", env: []string{"HIVE_METRICS_LISTEN=127.0.0.1"},
			want: `config: metrics.listen: invalid value "127.0.0.1" from env HIVE_METRICS_LISTEN: want host:port with a port in 0-65535 (0 picks a free port), e.g. "127.0.0.1:9323", or empty for off (address 127.0.0.1: missing port in address)`},
		{name: "metrics listen bad port", env: []string{"HIVE_METRICS_LISTEN=127.0.0.1:99999"},
			want: `config: metrics.listen: invalid value "127.0.0.1:99999" from env HIVE_METRICS_LISTEN: want host:port with a port in 0-65535 (0 picks a free port), e.g. "127.0.0.1:9323", or empty for off (port "99999" is not a number in 0-65535)`},
		{name: "level from env", env: []string{"HIVE_LOG_LEVEL=verbose"},
			want: `config: log.level: invalid value "verbose" from env HIVE_LOG_LEVEL: want one of debug, info, warn, error`},
		{name: "format from file", file: "log: {format: xml}\n",
			want: `config: log.format: invalid value "xml" from file FILE: want one of text, json`},
		{name: "bare number as duration", file: "plugins: {health_interval: 5}\n",
			want: `config: plugins.health_interval: invalid value 5 from file FILE: want a duration such as "5s", "500ms" or "2m", greater than 0 (a bare number is not accepted: write the unit, e.g. "5s" for seconds)`},
		{name: "zero duration", env: []string{"HIVE_PLUGINS_HEALTH_INTERVAL=0s"},
			want: `config: plugins.health_interval: invalid value "0s" from env HIVE_PLUGINS_HEALTH_INTERVAL: want a duration such as "5s", "500ms" or "2m", greater than 0`},
		{name: "raft timeout too short", env: []string{"HIVE_RAFT_HEARTBEAT_TIMEOUT=5ms"},
			want: `config: raft.heartbeat_timeout: invalid value "5ms" from env HIVE_RAFT_HEARTBEAT_TIMEOUT: want a duration such as "5s", "500ms" or "2m", at least 10ms`},
		{name: "duration flag", args: []string{"--raft-heartbeat=1ms"},
			want: `config: raft.heartbeat_timeout: invalid value "1ms" from flag --raft-heartbeat: want a duration such as "5s", "500ms" or "2m", at least 10ms`},
		{name: "election shorter than heartbeat", file: "raft: {heartbeat_timeout: 2s}\n", env: []string{"HIVE_RAFT_ELECTION_TIMEOUT=1s"},
			want: `config: raft.election_timeout (1s from env HIVE_RAFT_ELECTION_TIMEOUT) must not be shorter than raft.heartbeat_timeout (2s from file FILE): raise the one or lower the other`},
		{name: "history limit zero", file: "tasks: {history_limit: 0}\n",
			want: `config: tasks.history_limit: invalid value 0 from file FILE: want a whole number >= 1`},
		{name: "history limit not a number", args: []string{"--history-limit=-1"},
			want: `config: tasks.history_limit: invalid value "-1" from flag --history-limit: want a whole number >= 1`},
		{name: "history limit fraction", file: `{"tasks": {"history_limit": 2.5}}`,
			want: `config: tasks.history_limit: invalid value 2.5 from file FILE: want a whole number >= 1`},
		{name: "snapshot threshold text", env: []string{"HIVE_RAFT_SNAPSHOT_THRESHOLD=lots"},
			want: `config: raft.snapshot_threshold: invalid value "lots" from env HIVE_RAFT_SNAPSHOT_THRESHOLD: want a whole number >= 1`},
		{name: "http endpoint", env: []string{"HIVE_HOST=http://x:1"},
			want: `config: host: invalid value "http://x:1" from env HIVE_HOST: want unix:///absolute/path, tcp://host:port, or an absolute socket path`},
		{name: "relative unix socket", file: "host: unix://hive.sock\n",
			want: `config: host: invalid value "unix://hive.sock" from file FILE: want unix:///absolute/path, tcp://host:port, or an absolute socket path (the unix socket path must be absolute)`},
		{name: "tcp without port", args: []string{"--host=tcp://manager"},
			want: `config: host: invalid value "tcp://manager" from flag --host: want unix:///absolute/path, tcp://host:port, or an absolute socket path (missing port in address)`},
		{name: "listen port out of range", args: []string{"--listen-addr=0.0.0.0:99999"},
			want: `config: listen_addr: invalid value "0.0.0.0:99999" from flag --listen-addr: want host:port with a port in 1-65535, e.g. "0.0.0.0:4242" (port "99999" is not a number in 1-65535)`},
		{name: "listen without port", env: []string{"HIVE_LISTEN_ADDR=0.0.0.0"},
			want: `config: listen_addr: invalid value "0.0.0.0" from env HIVE_LISTEN_ADDR: want host:port with a port in 1-65535, e.g. "0.0.0.0:4242" (missing port in address)`},
		{name: "docker API address without port", env: []string{"HIVE_DOCKER_API_LISTEN=127.0.0.1"},
			want: `config: docker_api.listen: invalid value "127.0.0.1" from env HIVE_DOCKER_API_LISTEN: want host:port with a port in 1-65535, e.g. "0.0.0.0:4242" (missing port in address)`},
		{name: "advertise bad port", env: []string{"HIVE_ADVERTISE_ADDR=10.0.0.1:0"},
			want: `config: advertise_addr: invalid value "10.0.0.1:0" from env HIVE_ADVERTISE_ADDR: want host or host:port with a port in 1-65535, e.g. "10.0.0.5" or "node1.example.com:4242" (port "0" is not a number in 1-65535)`},
		{name: "mesh bind not an IP", file: "mesh: {bind_addr: eth0}\n",
			want: `config: mesh.bind_addr: invalid value "eth0" from file FILE: want an IP address such as "10.0.0.5" or "fd00::5", or empty for all addresses`},
		{name: "pool not a CIDR", env: []string{"HIVE_NETWORKS_DEFAULT_POOL=10.0.0.0"},
			want: `config: networks.default_pool: invalid value "10.0.0.0" from env HIVE_NETWORKS_DEFAULT_POOL: want an IPv4 network in CIDR form such as "10.0.0.0/8"`},
		{name: "IPv6 pool", file: "networks: {default_pool: 'fd00::/8'}\n",
			want: `config: networks.default_pool: invalid value "fd00::/8" from file FILE: want an IPv4 network in CIDR form such as "10.0.0.0/8"`},
		{name: "pool with host bits", env: []string{"HIVE_NETWORKS_DEFAULT_POOL=10.1.0.0/8"},
			want: `config: networks.default_pool: invalid value "10.1.0.0/8" from env HIVE_NETWORKS_DEFAULT_POOL: want an IPv4 network in CIDR form such as "10.0.0.0/8" (10.1.0.0/8 has host bits set: write 10.0.0.0/8)`},
		{name: "size not a number", env: []string{"HIVE_NETWORKS_DEFAULT_SIZE=big"},
			want: `config: networks.default_size: invalid value "big" from env HIVE_NETWORKS_DEFAULT_SIZE: want a prefix length from 1 to 32, such as 24`},
		{name: "size shorter than the pool", file: "networks: {default_pool: 172.20.0.0/16, default_size: 8}\n",
			want: `config: networks.default_size (8 from file FILE) must be from the prefix length of networks.default_pool (172.20.0.0/16 from file FILE) to 29: give a size from /16 to /29, or change the pool`},
		{name: "size too long", env: []string{"HIVE_NETWORKS_DEFAULT_SIZE=30"},
			want: `config: networks.default_size (30 from env HIVE_NETWORKS_DEFAULT_SIZE) must be from the prefix length of networks.default_pool (10.0.0.0/8 from default) to 29: give a size from /8 to /29, or change the pool`},
		{name: "number where a string belongs", file: "listen_addr: 4242\n",
			want: `config: listen_addr: invalid value 4242 from file FILE: want host:port with a port in 1-65535, e.g. "0.0.0.0:4242"`},
		{name: "bad plugin name", env: []string{"HIVE_PLUGINS_RUNTIME=runtime docker"},
			want: `config: plugins.runtime: invalid value "runtime docker" from env HIVE_PLUGINS_RUNTIME: want a plugin name such as "runtime-docker" (letters, digits, '-', '_') or a path to a plugin executable`},
		{name: "empty data_dir", file: "data_dir: ''\n",
			want: `config: data_dir: invalid value "" from file FILE: want a path (absolute, relative, or starting with ~/)`},
		{name: "tilde user", env: []string{"HIVE_DATA_DIR=~bob/hive"},
			want: `config: data_dir: invalid value "~bob/hive" from env HIVE_DATA_DIR: want a path; ~user is not supported (write the full path)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			var path string
			if tt.file != "" {
				name := "hive.yaml"
				if strings.HasPrefix(tt.file, "{") {
					name = "hive.json"
				}
				path = write(t, f.work, name, tt.file)
			}
			opts := LoadOptions{Env: tt.env, FlagKeys: testFlagKeys}
			if tt.args != nil {
				opts.Flags = flags(t, tt.args...)
			}
			_, err := f.load(opts)
			want := strings.ReplaceAll(tt.want, "FILE", path)
			if err == nil {
				t.Fatalf("Load succeeded, want %q", want)
			}
			if err.Error() != want {
				t.Errorf("error:\n got %s\nwant %s", err, want)
			}
		})
	}
}
