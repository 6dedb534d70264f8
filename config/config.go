// Package config loads hive's settings: built-in defaults, then a config
// file (YAML, TOML or JSON, read through koanf), then HIVE_* environment
// variables, then command-line flags, each layer overriding the one before.
//
// It sits below cmd/hive and above everything else: the CLI calls Load once,
// hands the typed Config to the daemon, the plugin host and the API client,
// and prints Entries for `hive config show`. Load remembers where every
// value came from, and every error it returns names the key, the layer that
// set it (file path, environment variable or flag) and what is allowed, so
// an operator can fix the setting without reading the code.
//
// The package does no logging and keeps no global state; Load reads only
// the files and environment it is told about in LoadOptions, apart from the
// search path's fixed /etc/hive directory and the effective user id.
package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// LoadOptions says where Load reads its layers from.
type LoadOptions struct {
	File     string            // --config value; "" means HIVE_CONFIG, then the search path
	Env      []string          // like os.Environ(); nil means no environment
	Flags    *pflag.FlagSet    // may be nil; only flags with Changed==true count
	FlagKeys map[string]string // flag name -> config key, e.g. "data-dir" -> "data_dir", "host" -> "host"
	Home     string            // home directory for ~ and the search path; "" means os.UserHomeDir
	WorkDir  string            // for ./hive.yaml; "" means os.Getwd
}

// Config is hive's effective configuration. Load fills every field; the
// zero value is not a usable configuration.
type Config struct {
	DataDir       string
	Host          string // always a normalized "unix:///..." or "tcp://host:port"
	AdvertiseAddr string
	ListenAddr    string
	Log           LogConfig
	Plugins       PluginsConfig
	Tasks         TasksConfig
	Raft          RaftConfig
	Mesh          MeshConfig
	DockerAPI     DockerAPIConfig
	Networks      NetworksConfig
	CA            CAConfig
	Events        EventsConfig
	Metrics       MetricsConfig
	File          string // the file that was read, "" if none

	sources map[string]string // key -> where its value came from
}

// EventsConfig holds the events.* keys.
type EventsConfig struct {
	// RingSize is how many events a manager keeps for replay; 0 turns
	// events off.
	RingSize int
}

// LogConfig holds the log.* keys.
type LogConfig struct {
	Level  string // debug, info, warn or error
	Format string // text or json
}

// PluginsConfig holds the plugins.* keys.
type PluginsConfig struct {
	Dir       string
	Runtime   string // a plugin name, or an absolute path to a plugin executable
	Scheduler string // a plugin name, or an absolute path to a plugin executable
	// Network is the network plugin every node runs for the overlay
	// networks: a plugin name or an absolute path.
	Network string
	// Secrets are the secrets plugins a manager runs, one per secret
	// driver: a plugin name ("secrets-vault" for the driver "vault") or an
	// absolute path to a plugin executable (/opt/hive/secrets-aws for the
	// driver "aws"). See SecretsDriver.
	Secrets        []string
	HealthInterval time.Duration
	// Config holds per-plugin settings: plugin name -> key -> value. A plugin
	// declared with an empty section has an empty, non-nil map.
	Config map[string]map[string]string
}

// TasksConfig holds the tasks.* keys.
type TasksConfig struct {
	HistoryLimit int
}

// RaftConfig holds the raft.* keys.
type RaftConfig struct {
	HeartbeatTimeout  time.Duration
	ElectionTimeout   time.Duration
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
}

// DockerAPIConfig holds the docker_api.* keys.
type DockerAPIConfig struct {
	// Socket is the unix socket a manager serves the Docker-compatible
	// API on; "" when it is off.
	Socket string
	// Listen is the TCP address (host:port, the host possibly empty) a
	// manager also serves the Docker-compatible API on, over mutual TLS;
	// "" when it is off.
	Listen string
}

// MetricsConfig holds the metrics.* keys.
type MetricsConfig struct {
	// Listen is the TCP address (host:port, port 0 picks a free one) every
	// node serves Prometheus /metrics on; "" when it is off.
	Listen string
}

// MeshConfig holds the mesh.* keys.
type MeshConfig struct {
	BindAddr string // an IP address, or "" for all addresses
}

// NetworksConfig holds the networks.* keys.
type NetworksConfig struct {
	// DefaultPool is where the managers take the subnet of a network
	// created without one: DefaultSize-bit subnets of it, the lowest free
	// first.
	DefaultPool netip.Prefix
	DefaultSize int
	// VXLANPort is this node's VXLAN UDP port: other nodes send its
	// tasks' overlay traffic there. Nodes sharing a host (and one network
	// namespace) need different ones.
	VXLANPort uint16
}

// CAConfig holds the ca.* keys.
type CAConfig struct {
	// CertExpiry is how long the node certificates managers issue last.
	CertExpiry time.Duration
}

// Entry is one effective setting for `hive config show`.
type Entry struct {
	Key    string // "log.level"
	Value  string // printable value
	Source string // "default", "file /etc/hive/hive.yaml", "env HIVE_LOG_LEVEL", "flag --log-level", "derived from data_dir"
	Env    string // "HIVE_LOG_LEVEL"
}

// Entries returns every setting with its printable value and source: the
// fixed keys in Keys() order, then the plugin settings sorted by key. Values
// of plugin settings whose key names a credential (token, password, secret)
// are shown as "<redacted>".
func (c *Config) Entries() []Entry {
	out := make([]Entry, 0, len(keyTable)+8)
	for _, k := range keyTable {
		out = append(out, Entry{
			Key:    k.doc.Key,
			Value:  k.show(c),
			Source: c.source(k.doc.Key),
			Env:    k.doc.Env,
		})
	}
	var plugin []Entry
	for name, settings := range c.Plugins.Config {
		for key, value := range settings {
			full := pluginKeyPrefix + name + "." + key
			if isCredentialKey(key) {
				value = "<redacted>"
			}
			plugin = append(plugin, Entry{
				Key:    full,
				Value:  value,
				Source: c.source(full),
				Env:    pluginEnvName(name, key),
			})
		}
	}
	sort.Slice(plugin, func(i, j int) bool { return plugin[i].Key < plugin[j].Key })
	return append(out, plugin...)
}

// source returns where key's value came from, or "-" for a Config that was
// not made by Load.
func (c *Config) source(key string) string {
	if s, ok := c.sources[key]; ok {
		return s
	}
	return "-"
}

// isCredentialKey reports whether a plugin setting's key names a
// credential whose value must not be printed. Keys naming a file or path
// that holds the credential are printable.
func isCredentialKey(key string) bool {
	k := strings.ToLower(key)
	if strings.HasSuffix(k, "_file") || strings.HasSuffix(k, "_path") {
		return false
	}
	for _, word := range []string{"token", "password", "passwd", "secret", "credential"} {
		if strings.Contains(k, word) {
			return true
		}
	}
	return false
}

// SocketPath returns the filesystem path of a unix endpoint, or "" for tcp.
// It accepts the forms Load accepts for host: "unix:///path" and a bare
// absolute path.
func SocketPath(endpoint string) string {
	switch {
	case strings.HasPrefix(endpoint, "unix://"):
		return strings.TrimPrefix(endpoint, "unix://")
	case strings.HasPrefix(endpoint, "/"):
		return endpoint
	}
	return ""
}

// DefaultDataDir returns the default data_dir for the current user:
// /var/lib/hive for root, else $XDG_DATA_HOME/hive, else
// ~/.local/share/hive. Without a home directory it falls back to
// /var/lib/hive.
func DefaultDataDir() string {
	home, _ := os.UserHomeDir()
	return defaultDataDir(os.Geteuid(), os.Getenv("XDG_DATA_HOME"), home)
}

// DefaultHost returns the default endpoint for the current user:
// unix://<DefaultDataDir()>/hive.sock.
func DefaultHost() string {
	return derivedHost(DefaultDataDir())
}

// defaultDataDir computes the default data_dir from the effective user id,
// $XDG_DATA_HOME (ignored unless absolute, as the XDG spec says) and the
// home directory ("" when unknown).
func defaultDataDir(euid int, xdgDataHome, home string) string {
	switch {
	case euid == 0:
		return "/var/lib/hive"
	case filepath.IsAbs(xdgDataHome):
		return filepath.Join(xdgDataHome, "hive")
	case home != "":
		return filepath.Join(home, ".local", "share", "hive")
	}
	return "/var/lib/hive"
}

// derivedHost is the default host for a data directory.
func derivedHost(dataDir string) string {
	return "unix://" + filepath.Join(dataDir, "hive.sock")
}

// derivedPluginsDir is the default plugins.dir for a data directory.
func derivedPluginsDir(dataDir string) string {
	return filepath.Join(dataDir, "plugins")
}
