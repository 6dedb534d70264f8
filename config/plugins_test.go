package config

import (
	"reflect"
	"testing"
)

func TestPluginSettings(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		env     []string
		args    []string
		want    map[string]map[string]string
		sources map[string]string // key -> source; "file" means the file
	}{
		{name: "from file, hyphenated name, key with underscore",
			file: "plugins:\n  config:\n    runtime-docker:\n      socket_path: /run/docker.sock\n      pull_timeout: 30\n",
			want: map[string]map[string]string{"runtime-docker": {"socket_path": "/run/docker.sock", "pull_timeout": "30"}},
			sources: map[string]string{
				"plugins.config.runtime-docker.socket_path":  "file",
				"plugins.config.runtime-docker.pull_timeout": "file",
			}},
		{name: "env overrides file",
			file: "plugins:\n  config:\n    runtime-docker: {socket_path: /run/docker.sock}\n",
			env:  []string{"HIVE_PLUGINS_CONFIG_RUNTIME_DOCKER_SOCKET_PATH=/var/run/d.sock"},
			want: map[string]map[string]string{"runtime-docker": {"socket_path": "/var/run/d.sock"}},
			sources: map[string]string{
				"plugins.config.runtime-docker.socket_path": "env HIVE_PLUGINS_CONFIG_RUNTIME_DOCKER_SOCKET_PATH",
			}},
		{name: "flag overrides env",
			env:  []string{"HIVE_PLUGINS_CONFIG_RUNTIME_DOCKER_SOCKET_PATH=/var/run/d.sock"},
			args: []string{"--docker-socket=/flag.sock"},
			want: map[string]map[string]string{"runtime-docker": {"socket_path": "/flag.sock"}},
			sources: map[string]string{
				"plugins.config.runtime-docker.socket_path": "flag --docker-socket",
			}},
		{name: "built-in plugin from env alone",
			env:  []string{"HIVE_PLUGINS_CONFIG_SECRETS_VAULT_ADDR=https://vault:8200"},
			want: map[string]map[string]string{"secrets-vault": {"addr": "https://vault:8200"}}},
		{name: "longest known name wins",
			file: "plugins:\n  config:\n    runtime-docker-rootless: {}\n",
			env: []string{
				"HIVE_PLUGINS_CONFIG_RUNTIME_DOCKER_ROOTLESS_SOCKET_PATH=/run/user/1000/docker.sock",
				"HIVE_PLUGINS_CONFIG_RUNTIME_DOCKER_ROOTLESS=x", // no key left after the longest name: runtime-docker's "rootless"
			},
			want: map[string]map[string]string{
				"runtime-docker-rootless": {"socket_path": "/run/user/1000/docker.sock"},
				"runtime-docker":          {"rootless": "x"},
			}},
		{name: "plugin named by plugins.runtime path",
			env: []string{
				"HIVE_PLUGINS_RUNTIME=/opt/hive/runtime-podman",
				"HIVE_PLUGINS_CONFIG_RUNTIME_PODMAN_SOCKET=/run/podman.sock",
			},
			want: map[string]map[string]string{"runtime-podman": {"socket": "/run/podman.sock"}}},
		{name: "plugin named by plugins.scheduler in the file",
			file: "plugins: {scheduler: scheduler-binpack}\n",
			env:  []string{"HIVE_PLUGINS_CONFIG_SCHEDULER_BINPACK_MAX_TASKS_PER_NODE=50"},
			want: map[string]map[string]string{"scheduler-binpack": {"max_tasks_per_node": "50"}}},
		{name: "declared plugin with null and empty sections",
			file: "plugins:\n  config:\n    net-calico:\n    my_plugin: {}\n",
			env:  []string{"HIVE_PLUGINS_CONFIG_NET_CALICO_MTU=1400"},
			want: map[string]map[string]string{"net-calico": {"mtu": "1400"}, "my_plugin": {}}},
		{name: "file values of every scalar kind",
			file: "plugins:\n  config:\n    secrets-vault: {addr: 'https://v', retries: 3, ratio: 0.5, tls: true, empty: null}\n",
			want: map[string]map[string]string{"secrets-vault": {"addr": "https://v", "retries": "3", "ratio": "0.5", "tls": "true", "empty": ""}}},
		{name: "none", want: map[string]map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			var path string
			if tt.file != "" {
				path = write(t, f.work, "hive.yaml", tt.file)
			}
			opts := LoadOptions{Env: tt.env, FlagKeys: testFlagKeys}
			if tt.args != nil {
				opts.Flags = flags(t, tt.args...)
			}
			c := f.mustLoad(t, opts)
			if !reflect.DeepEqual(c.Plugins.Config, tt.want) {
				t.Errorf("plugins.config = %v, want %v", c.Plugins.Config, tt.want)
			}
			for key, want := range tt.sources {
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

func TestUnknownPluginInEnv(t *testing.T) {
	f := newFixture(t)
	_, err := f.load(LoadOptions{Env: []string{"HIVE_PLUGINS_CONFIG_NET_WEAVE_MTU=1400"}})
	wantErrContains(t, err,
		"config: env HIVE_PLUGINS_CONFIG_NET_WEAVE_MTU matches no known plugin (known: runtime-containerd, runtime-docker, scheduler-spread, secrets-vault)",
		`declare it in the config file with "plugins.config.NAME: {}"`)
}

func TestMatchPluginEnv(t *testing.T) {
	known := []string{"runtime-docker", "runtime-docker-rootless", "runtime", "a_b"}
	tests := []struct {
		in, name, key string
		ok            bool
	}{
		{"HIVE_PLUGINS_CONFIG_RUNTIME_DOCKER_SOCKET_PATH", "runtime-docker", "socket_path", true},
		{"HIVE_PLUGINS_CONFIG_RUNTIME_DOCKER_ROOTLESS_X", "runtime-docker-rootless", "x", true},
		{"HIVE_PLUGINS_CONFIG_RUNTIME_FOO", "runtime", "foo", true},
		{"HIVE_PLUGINS_CONFIG_A_B_C", "a_b", "c", true},
		{"HIVE_PLUGINS_CONFIG_RUNTIME", "", "", false},
		{"HIVE_PLUGINS_CONFIG_OTHER_X", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			name, key, ok := matchPluginEnv(tt.in, known)
			if name != tt.name || key != tt.key || ok != tt.ok {
				t.Errorf("matchPluginEnv = %q, %q, %v; want %q, %q, %v", name, key, ok, tt.name, tt.key, tt.ok)
			}
		})
	}
}
