package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestEntriesSources(t *testing.T) {
	f := newFixture(t)
	path := write(t, f.work, "hive.toml", `
data_dir = "/srv/hive"
[log]
format = "json"
[plugins.config.runtime-docker]
socket_path = "/run/docker.sock"
[plugins.config.secrets-vault]
token = "s.abcdef"
token_file = "/etc/vault-token"
`)
	c := f.mustLoad(t, LoadOptions{
		Env:      []string{"HIVE_LOG_LEVEL=debug", "HIVE_PLUGINS_CONFIG_RUNTIME_DOCKER_API_VERSION=1.41"},
		Flags:    flags(t, "--listen-addr=:5000"),
		FlagKeys: testFlagKeys,
	})
	want := []Entry{
		{"data_dir", "/srv/hive", "file " + path, "HIVE_DATA_DIR"},
		{"host", "unix:///srv/hive/hive.sock", "derived from data_dir", "HIVE_HOST"},
		{"advertise_addr", "", "default", "HIVE_ADVERTISE_ADDR"},
		{"listen_addr", ":5000", "flag --listen-addr", "HIVE_LISTEN_ADDR"},
		{"log.level", "debug", "env HIVE_LOG_LEVEL", "HIVE_LOG_LEVEL"},
		{"log.format", "json", "file " + path, "HIVE_LOG_FORMAT"},
		{"plugins.dir", "/srv/hive/plugins", "derived from data_dir", "HIVE_PLUGINS_DIR"},
		{"plugins.runtime", "runtime-docker", "default", "HIVE_PLUGINS_RUNTIME"},
		{"plugins.scheduler", "scheduler-spread", "default", "HIVE_PLUGINS_SCHEDULER"},
		{"plugins.network", "network-overlay", "default", "HIVE_PLUGINS_NETWORK"},
		{"plugins.secrets", "", "default", "HIVE_PLUGINS_SECRETS"},
		{"plugins.health_interval", "5s", "default", "HIVE_PLUGINS_HEALTH_INTERVAL"},
		{"tasks.history_limit", "5", "default", "HIVE_TASKS_HISTORY_LIMIT"},
		{"raft.heartbeat_timeout", "500ms", "default", "HIVE_RAFT_HEARTBEAT_TIMEOUT"},
		{"raft.election_timeout", "500ms", "default", "HIVE_RAFT_ELECTION_TIMEOUT"},
		{"raft.snapshot_threshold", "8192", "default", "HIVE_RAFT_SNAPSHOT_THRESHOLD"},
		{"raft.snapshot_interval", "2m", "default", "HIVE_RAFT_SNAPSHOT_INTERVAL"},
		{"docker_api.socket", "/srv/hive/docker.sock", "derived from data_dir", "HIVE_DOCKER_API_SOCKET"},
		{"docker_api.listen", "", "default", "HIVE_DOCKER_API_LISTEN"},
		{"mesh.bind_addr", "", "default", "HIVE_MESH_BIND_ADDR"},
		{"networks.default_pool", "10.0.0.0/8", "default", "HIVE_NETWORKS_DEFAULT_POOL"},
		{"networks.default_size", "24", "default", "HIVE_NETWORKS_DEFAULT_SIZE"},
		{"networks.vxlan_port", "4789", "default", "HIVE_NETWORKS_VXLAN_PORT"},
		{"ca.cert_expiry", "2160h", "default", "HIVE_CA_CERT_EXPIRY"},
		{"events.ring_size", "10000", "default", "HIVE_EVENTS_RING_SIZE"},
		{"metrics.listen", "127.0.0.1:9323", "default", "HIVE_METRICS_LISTEN"},
		{"plugins.config.runtime-docker.api_version", "1.41", "env HIVE_PLUGINS_CONFIG_RUNTIME_DOCKER_API_VERSION", "HIVE_PLUGINS_CONFIG_RUNTIME_DOCKER_API_VERSION"},
		{"plugins.config.runtime-docker.socket_path", "/run/docker.sock", "file " + path, "HIVE_PLUGINS_CONFIG_RUNTIME_DOCKER_SOCKET_PATH"},
		{"plugins.config.secrets-vault.token", "<redacted>", "file " + path, "HIVE_PLUGINS_CONFIG_SECRETS_VAULT_TOKEN"},
		{"plugins.config.secrets-vault.token_file", "/etc/vault-token", "file " + path, "HIVE_PLUGINS_CONFIG_SECRETS_VAULT_TOKEN_FILE"},
	}
	got := c.Entries()
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d:\n%v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	if c.Plugins.Config["secrets-vault"]["token"] != "s.abcdef" {
		t.Errorf("redaction must only affect Entries, Config holds %q", c.Plugins.Config["secrets-vault"]["token"])
	}
}

func TestEntriesOfHandMadeConfig(t *testing.T) {
	c := &Config{Plugins: PluginsConfig{Config: map[string]map[string]string{"p": {"Mixed-Key": "v"}}}}
	es := c.Entries()
	last := es[len(es)-1]
	if last.Source != "-" || last.Env != "" || last.Key != "plugins.config.p.Mixed-Key" {
		t.Errorf("entry = %+v", last)
	}
}

func TestKeysMatchTable(t *testing.T) {
	var names []string
	for _, k := range Keys() {
		names = append(names, k.Key)
		if k.Env != envName(k.Key) || k.Type == "" || k.Default == "" || k.Description == "" {
			t.Errorf("incomplete KeyDoc %+v", k)
		}
	}
	want := []string{"data_dir", "host", "advertise_addr", "listen_addr", "log.level", "log.format",
		"plugins.dir", "plugins.runtime", "plugins.scheduler", "plugins.network", "plugins.secrets", "plugins.health_interval",
		"tasks.history_limit", "raft.heartbeat_timeout", "raft.election_timeout",
		"raft.snapshot_threshold", "raft.snapshot_interval", "docker_api.socket", "docker_api.listen", "mesh.bind_addr",
		"networks.default_pool", "networks.default_size", "networks.vxlan_port", "ca.cert_expiry", "events.ring_size", "metrics.listen"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("Keys() = %v\nwant %v", names, want)
	}
}

// TestDocsListEveryKey keeps docs/configuration.md in step with Keys().
func TestDocsListEveryKey(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "configuration.md"))
	if err != nil {
		t.Fatalf("read docs: %v", err)
	}
	text := string(doc)
	for _, k := range Keys() {
		row := "| `" + k.Key + "` | `" + k.Env + "` |"
		if !strings.Contains(text, row) {
			t.Errorf("docs/configuration.md has no table row starting %q", row)
		}
	}
}
