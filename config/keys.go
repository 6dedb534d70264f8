package config

import (
	"strconv"
	"strings"
	"time"
)

// KeyDoc documents one fixed configuration key.
type KeyDoc struct {
	Key         string // "log.level"
	Env         string // "HIVE_LOG_LEVEL"
	Type        string // what values are allowed, e.g. "debug, info, warn or error"
	Default     string // the default, or how it is derived
	Description string // what the key does
}

// Keys returns the documentation rows of every fixed key (key, env, type,
// default, description), in table order; docs/configuration.md is written
// from the same facts.
func Keys() []KeyDoc {
	out := make([]KeyDoc, len(keyTable))
	for i, k := range keyTable {
		out[i] = k.doc
	}
	return out
}

// keyDef is one fixed key: its documentation, its default, how a raw value
// is parsed into a Config and how it is printed back.
type keyDef struct {
	doc KeyDoc
	// def is the raw default; "" with derived or empty defaults. data_dir's
	// default depends on the user and is computed by the loader.
	def string
	// derived: an unset or empty value is computed from data_dir.
	derived bool
	// emptySets: an empty value, even from the environment (where empty
	// otherwise counts as unset), is the key's value ("off").
	emptySets bool
	set       func(c *Config, v valueCtx) error
	show      func(c *Config) string
}

// Key names used by the loader itself.
const (
	keyDataDir         = "data_dir"
	keyHost            = "host"
	keyPluginsDir      = "plugins.dir"
	keyPluginsRuntime  = "plugins.runtime"
	keyPluginsSched    = "plugins.scheduler"
	keyPluginsSecrets  = "plugins.secrets"
	keyPluginsNetwork  = "plugins.network"
	keyVXLANPort       = "networks.vxlan_port"
	keyHeartbeat       = "raft.heartbeat_timeout"
	keyElection        = "raft.election_timeout"
	keyNetworksPool    = "networks.default_pool"
	keyNetworksSize    = "networks.default_size"
	keyDockerSocket    = "docker_api.socket"
	pluginKeyPrefix    = "plugins.config."
	pluginEnvPrefix    = "HIVE_PLUGINS_CONFIG_"
	derivedFromDataDir = "derived from data_dir"
)

// minRaftTimeout is the shortest raft heartbeat or election timeout.
const minRaftTimeout = 10 * time.Millisecond

// maxNetworkSize is the longest prefix of a pooled subnet: a /29 holds
// five addresses besides the network, broadcast and gateway ones.
const maxNetworkSize = 29

// minCertExpiry is the shortest certificate lifetime: a node renews at two
// thirds of it, and needs the last third to retry.
const minCertExpiry = time.Hour

// builtinPlugins are the first-party plugin names, always known when
// resolving HIVE_PLUGINS_CONFIG_* variables.
var builtinPlugins = []string{"runtime-docker", "runtime-containerd", "scheduler-spread", "secrets-vault"}

// envName returns the environment variable of a fixed key.
func envName(key string) string {
	return "HIVE_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// def builds a keyDef, filling in the env name.
func def(key, typ, dflt, rawDefault, desc string, derived bool,
	set func(c *Config, v valueCtx) error, show func(c *Config) string) keyDef {
	return keyDef{
		doc:     KeyDoc{Key: key, Env: envName(key), Type: typ, Default: dflt, Description: desc},
		def:     rawDefault,
		derived: derived,
		set:     set,
		show:    show,
	}
}

// strKey adapts a string parser to a set/show pair on one field.
func strKey(field func(*Config) *string, parse func(valueCtx) (string, error)) (func(*Config, valueCtx) error, func(*Config) string) {
	set := func(c *Config, v valueCtx) error {
		s, err := parse(v)
		if err != nil {
			return err
		}
		*field(c) = s
		return nil
	}
	return set, func(c *Config) string { return *field(c) }
}

// durKey adapts a duration parser to a set/show pair on one field.
func durKey(field func(*Config) *time.Duration, min time.Duration) (func(*Config, valueCtx) error, func(*Config) string) {
	parse := durationParser(min)
	set := func(c *Config, v valueCtx) error {
		d, err := parse(v)
		if err != nil {
			return err
		}
		*field(c) = d
		return nil
	}
	return set, func(c *Config) string { return formatDuration(*field(c)) }
}

// keyTable lists the fixed keys in documentation order. data_dir comes
// first: the derived keys need it.
var keyTable = func() []keyDef {
	var t []keyDef
	add := func(key, typ, dflt, raw, desc string, derived bool, set func(*Config, valueCtx) error, show func(*Config) string) {
		t = append(t, def(key, typ, dflt, raw, desc, derived, set, show))
	}

	set, show := strKey(func(c *Config) *string { return &c.DataDir }, parsePath)
	add(keyDataDir, "path",
		"/var/lib/hive as root, else $XDG_DATA_HOME/hive or ~/.local/share/hive", "",
		"Directory holding the node's state: Raft log and snapshots, certificates, the API socket and plugins.",
		false, set, show)

	set, show = strKey(func(c *Config) *string { return &c.Host }, parseEndpoint)
	add(keyHost, "endpoint: unix:///path or tcp://host:port",
		"unix://<data_dir>/hive.sock", "",
		"API endpoint the daemon serves and the CLI talks to. A bare absolute path means a unix socket.",
		true, set, show)

	set, show = strKey(func(c *Config) *string { return &c.AdvertiseAddr }, parseAdvertiseAddr)
	add("advertise_addr", "host[:port]",
		"empty: derived by the daemon", "",
		"Address other nodes use to reach this node's cluster port; the port defaults to listen_addr's.",
		false, set, show)

	set, show = strKey(func(c *Config) *string { return &c.ListenAddr }, parseListenAddr)
	add("listen_addr", "host:port",
		"0.0.0.0:4242", "0.0.0.0:4242",
		"Address of the cluster port (node-to-node traffic, mutual TLS).",
		false, set, show)

	set, show = strKey(func(c *Config) *string { return &c.Log.Level }, oneOf("debug", "info", "warn", "error"))
	add("log.level", "debug, info, warn or error",
		"info", "info",
		"Lowest level of log records the daemon writes.",
		false, set, show)

	set, show = strKey(func(c *Config) *string { return &c.Log.Format }, oneOf("text", "json"))
	add("log.format", "text or json",
		"text", "text",
		"Format of the daemon's log records on stderr.",
		false, set, show)

	set, show = strKey(func(c *Config) *string { return &c.Plugins.Dir }, parsePath)
	plainSet := set
	set = func(c *Config, v valueCtx) error {
		if s, ok := v.raw.(string); ok && strings.TrimSpace(s) == "" {
			return nil // empty: derived
		}
		return plainSet(c, v)
	}
	add(keyPluginsDir, "path",
		"<data_dir>/plugins", "",
		"Directory searched for external plugin executables named in plugins.runtime, plugins.scheduler and plugins.secrets.",
		true, set, show)

	set, show = strKey(func(c *Config) *string { return &c.Plugins.Runtime }, parseRuntimeRef)
	add(keyPluginsRuntime, "plugin name or path",
		"runtime-docker", "runtime-docker",
		"Container runtime plugin: a built-in name (runtime-docker, runtime-containerd; docker and containerd are short for them), a name found in plugins.dir, or a path to an executable.",
		false, set, show)

	set, show = strKey(func(c *Config) *string { return &c.Plugins.Scheduler }, parsePluginRef)
	add(keyPluginsSched, "plugin name or path",
		"scheduler-spread", "scheduler-spread",
		"Scheduler plugin: a built-in name (scheduler-spread), a name found in plugins.dir, or a path to an executable.",
		false, set, show)

	set, show = strKey(func(c *Config) *string { return &c.Plugins.Network }, parsePluginRef)
	add(keyPluginsNetwork, "plugin name or path",
		"network-overlay", "network-overlay",
		"Network plugin every node runs for the overlay networks: a built-in name (network-overlay), a name found in plugins.dir, or a path to an executable.",
		false, set, show)

	add(keyPluginsSecrets, "list of secrets drivers",
		"empty: none", "",
		"Secrets plugins a manager runs, one per secret driver (hive secret create --driver NAME): vault is the built-in secrets-vault, any other NAME the plugin secrets-NAME in plugins.dir; a path names an executable. A list in a file, comma-separated in the environment.",
		false,
		func(c *Config, v valueCtx) error {
			list, err := parseSecretsPlugins(v)
			c.Plugins.Secrets = list
			return err
		},
		func(c *Config) string { return strings.Join(c.Plugins.Secrets, ",") })

	set, show = durKey(func(c *Config) *time.Duration { return &c.Plugins.HealthInterval }, 0)
	add("plugins.health_interval", "duration > 0",
		"5s", "5s",
		"How often the plugin host checks each plugin's health; a failing plugin is restarted.",
		false, set, show)

	add("tasks.history_limit", "integer >= 1",
		"5", "5",
		"How many tasks per slot (current and finished) are kept; older finished tasks are removed.",
		false,
		func(c *Config, v valueCtx) error {
			n, err := parsePositiveInt(v)
			c.Tasks.HistoryLimit = n
			return err
		},
		func(c *Config) string { return strconv.Itoa(c.Tasks.HistoryLimit) })

	set, show = durKey(func(c *Config) *time.Duration { return &c.Raft.HeartbeatTimeout }, minRaftTimeout)
	add(keyHeartbeat, "duration >= 10ms",
		"500ms", "500ms",
		"Raft: how long a follower waits without hearing from the leader before it starts an election.",
		false, set, show)

	set, show = durKey(func(c *Config) *time.Duration { return &c.Raft.ElectionTimeout }, minRaftTimeout)
	add(keyElection, "duration >= 10ms, not shorter than raft.heartbeat_timeout",
		"500ms", "500ms",
		"Raft: how long a candidate waits for votes before it starts a new election.",
		false, set, show)

	add("raft.snapshot_threshold", "integer >= 1",
		"8192", "8192",
		"Raft: number of log entries written since the last snapshot that trigger a new snapshot.",
		false,
		func(c *Config, v valueCtx) error {
			n, err := parsePositiveUint(v)
			c.Raft.SnapshotThreshold = n
			return err
		},
		func(c *Config) string { return strconv.FormatUint(c.Raft.SnapshotThreshold, 10) })

	set, show = durKey(func(c *Config) *time.Duration { return &c.Raft.SnapshotInterval }, 0)
	add("raft.snapshot_interval", "duration > 0",
		"2m", "2m",
		"Raft: how often to check whether snapshot_threshold has been reached.",
		false, set, show)

	set, show = strKey(func(c *Config) *string { return &c.DockerAPI.Socket }, parseOptionalPath)
	add(keyDockerSocket, "path, or empty",
		"<data_dir>/docker.sock", "",
		"Unix socket (mode 0660) on which a manager serves the Docker-compatible API, for the docker CLI and other Docker clients (DOCKER_HOST=unix://PATH; hive docker-env prints it). Empty turns it off. See docs/docker-api.md.",
		true, set, show)
	t[len(t)-1].emptySets = true

	set, show = strKey(func(c *Config) *string { return &c.DockerAPI.Listen }, parseOptionalListenAddr)
	add("docker_api.listen", "host:port, or empty",
		"empty: off", "",
		"TCP address on which a manager also serves the Docker-compatible API, over TLS with the cluster's client certificates (hive cluster client-cert; DOCKER_HOST=tcp://HOST:PORT, DOCKER_TLS_VERIFY=1, DOCKER_CERT_PATH; hive docker-env --tcp prints them). An empty host means all addresses. See docs/docker-api.md.",
		false, set, show)

	set, show = strKey(func(c *Config) *string { return &c.Mesh.BindAddr }, parseIP)
	add("mesh.bind_addr", "IP address",
		"empty: all addresses", "",
		"Local address the routing mesh binds published ports to.",
		false, set, show)

	add(keyNetworksPool, "IPv4 network (CIDR)",
		"10.0.0.0/8", "10.0.0.0/8",
		"Address pool the managers take the subnet of a network created without one from: subnets of networks.default_size bits, the lowest free first.",
		false,
		func(c *Config, v valueCtx) error {
			p, err := parsePool(v)
			c.Networks.DefaultPool = p
			return err
		},
		func(c *Config) string {
			if !c.Networks.DefaultPool.IsValid() {
				return ""
			}
			return c.Networks.DefaultPool.String()
		})

	add(keyNetworksSize, "prefix length, from networks.default_pool's to 29",
		"24", "24",
		"Prefix length of the subnets taken from networks.default_pool (24: 254 addresses for a network's tasks and virtual IPs).",
		false,
		func(c *Config, v valueCtx) error {
			n, err := parsePrefixLen(v)
			c.Networks.DefaultSize = n
			return err
		},
		func(c *Config) string { return strconv.Itoa(c.Networks.DefaultSize) })

	add(keyVXLANPort, "UDP port, 1 to 65535",
		"4789", "4789",
		"UDP port this node receives its tasks' overlay (VXLAN) traffic on, from the other nodes' advertise addresses. Nodes sharing a host and its network namespace need different ones.",
		false,
		func(c *Config, v valueCtx) error {
			n, err := parsePort(v)
			c.Networks.VXLANPort = n
			return err
		},
		func(c *Config) string { return strconv.Itoa(int(c.Networks.VXLANPort)) })

	set, show = durKey(func(c *Config) *time.Duration { return &c.CA.CertExpiry }, minCertExpiry)
	add("ca.cert_expiry", "duration >= 1h",
		"2160h (90 days)", "2160h",
		"How long the node certificates managers issue last; nodes renew theirs when two thirds of it have passed.",
		false, set, show)

	add("events.ring_size", "integer >= 0",
		"10000", "10000",
		"How many cluster events (hive events, GET /v1/events) a manager keeps for replay with --since; 0 turns events off.",
		false,
		func(c *Config, v valueCtx) error {
			n, err := parseNonNegativeInt(v)
			c.Events.RingSize = n
			return err
		},
		func(c *Config) string { return strconv.Itoa(c.Events.RingSize) })
	set, show = strKey(func(c *Config) *string { return &c.Metrics.Listen }, parseMetricsListen)
	add("metrics.listen", "host:port, or empty",
		"127.0.0.1:9323", "127.0.0.1:9323",
		"TCP address on which every node (manager and worker) serves Prometheus metrics at /metrics. Port 0 picks a free port (hive info shows the real one). Empty turns it off. See docs/metrics.md.",
		false, set, show)
	t[len(t)-1].emptySets = true
	return t
}()

// keyByName and keyByEnv index keyTable.
var (
	keyByName = map[string]*keyDef{}
	keyByEnv  = map[string]*keyDef{}
)

func init() {
	for i := range keyTable {
		k := &keyTable[i]
		keyByName[k.doc.Key] = k
		keyByEnv[k.doc.Env] = k
	}
}

// knownKeysList is the list of keys printed with an unknown-key error.
func knownKeysList() string {
	names := make([]string, 0, len(keyTable)+1)
	for _, k := range keyTable {
		names = append(names, k.doc.Key)
	}
	names = append(names, pluginKeyPrefix+"<plugin>.<key>")
	return strings.Join(names, ", ")
}

// knownEnvList is the list of variables printed with an unknown-variable
// error.
func knownEnvList() string {
	names := make([]string, 0, len(keyTable)+1)
	for _, k := range keyTable {
		names = append(names, k.doc.Env)
	}
	names = append(names, pluginEnvPrefix+"<PLUGIN>_<KEY>")
	return strings.Join(names, ", ")
}

// isSection reports whether key is a parent of some fixed key ("log",
// "plugins", "plugins.config").
func isSection(key string) bool {
	if key == "plugins.config" {
		return true
	}
	for _, k := range keyTable {
		if strings.HasPrefix(k.doc.Key, key+".") {
			return true
		}
	}
	return false
}

// sectionKeys lists the fixed keys under a section.
func sectionKeys(section string) string {
	var names []string
	for _, k := range keyTable {
		if strings.HasPrefix(k.doc.Key, section+".") {
			names = append(names, k.doc.Key)
		}
	}
	if section == "plugins" || section == "plugins.config" {
		names = append(names, pluginKeyPrefix+"<plugin>.<key>")
	}
	return strings.Join(names, ", ")
}
