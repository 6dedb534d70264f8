package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/knadh/koanf/parsers/json"
	"github.com/knadh/koanf/parsers/toml/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"

	"github.com/hiveorch/hive/internal/suggest"
)

// sysEnv is what Load takes from the machine rather than from LoadOptions;
// tests replace it.
type sysEnv struct {
	euid      int    // effective user id: 0 selects the system-wide data_dir
	systemDir string // the last directory of the search path, /etc/hive
}

// Load reads the configuration: defaults, then the config file, then HIVE_*
// variables from opts.Env, then the changed flags in opts.Flags. It returns
// every problem it finds at once, joined, each naming the key and where the
// value came from.
func Load(opts LoadOptions) (*Config, error) {
	return load(opts, sysEnv{euid: os.Geteuid(), systemDir: "/etc/hive"})
}

// source says where a value came from.
type source struct {
	kind string // "default", "file", "env" or "flag"
	name string // file path, variable name or flag name
	dir  string // directory a relative path in the value is resolved against
}

func (s source) String() string {
	switch s.kind {
	case "file":
		return "file " + s.name
	case "env":
		return "env " + s.name
	case "flag":
		return "flag --" + s.name
	}
	return s.kind
}

// layer is one level of configuration as koanf loaded it.
type layer struct {
	k    *koanf.Koanf
	def  source            // source of every key ...
	srcs map[string]source // ... unless named here
}

func newLayer(def source) *layer {
	return &layer{k: koanf.New("."), def: def, srcs: map[string]source{}}
}

func (l *layer) sourceOf(key string) source {
	if s, ok := l.srcs[key]; ok {
		return s
	}
	return l.def
}

// pendingEnv is a HIVE_PLUGINS_CONFIG_* variable, resolved once every
// plugin name is known.
type pendingEnv struct{ name, value string }

type loader struct {
	opts    LoadOptions
	sys     sysEnv
	env     map[string]string
	workDir string

	homeDir  string
	homeErr  error
	homeDone bool

	file       string
	layers     []*layer // lowest precedence first
	pluginEnv  []pendingEnv
	errs       []error
	configured map[string]bool // plugin names seen under plugins.config in the file or flags
}

func load(opts LoadOptions, sys sysEnv) (*Config, error) {
	l := &loader{opts: opts, sys: sys, env: map[string]string{}, configured: map[string]bool{}}
	for _, kv := range opts.Env {
		if name, value, ok := strings.Cut(kv, "="); ok {
			l.env[name] = value
		}
	}
	wd := opts.WorkDir
	if wd == "" {
		var err error
		if wd, err = os.Getwd(); err != nil {
			return nil, fmt.Errorf("config: find working directory: %w", err)
		}
	}
	abs, err := filepath.Abs(wd)
	if err != nil {
		return nil, fmt.Errorf("config: working directory %s: %w", wd, err)
	}
	l.workDir = abs

	if err := l.loadDefaults(); err != nil {
		return nil, err
	}
	if err := l.loadFile(); err != nil {
		return nil, err
	}
	if err := l.loadEnv(); err != nil {
		return nil, err
	}
	if err := l.loadFlags(); err != nil {
		return nil, err
	}
	if err := l.loadPluginEnv(); err != nil {
		return nil, err
	}
	cfg := l.resolve()
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	return cfg, nil
}

// home returns the home directory: opts.Home, else os.UserHomeDir.
func (l *loader) home() (string, error) {
	if !l.homeDone {
		l.homeDone = true
		l.homeDir, l.homeErr = l.opts.Home, nil
		if l.homeDir == "" {
			l.homeDir, l.homeErr = os.UserHomeDir()
		}
	}
	return l.homeDir, l.homeErr
}

func (l *loader) errorf(format string, args ...any) {
	l.errs = append(l.errs, fmt.Errorf(format, args...))
}

// loadDefaults adds the built-in defaults as the lowest layer.
func (l *loader) loadDefaults() error {
	home, _ := l.home()
	defaults := map[string]any{
		keyDataDir: defaultDataDir(l.sys.euid, l.env["XDG_DATA_HOME"], home),
	}
	for _, k := range keyTable {
		if k.doc.Key != keyDataDir && !k.derived {
			defaults[k.doc.Key] = k.def
		}
	}
	ly := newLayer(source{kind: "default", dir: l.workDir})
	if err := ly.k.Load(confmap.Provider(defaults, "."), nil); err != nil {
		return fmt.Errorf("config: load defaults: %w", err)
	}
	l.layers = append(l.layers, ly)
	return nil
}

// configNames are the file names tried in each search-path directory, in order.
var configNames = []string{"hive.yaml", "hive.yml", "hive.toml", "hive.json"}

// findFile returns the config file to read, or "" when there is none.
func (l *loader) findFile() (string, error) {
	explicit, origin := l.opts.File, "--config"
	if explicit == "" {
		explicit, origin = l.env["HIVE_CONFIG"], "env HIVE_CONFIG"
	}
	if explicit != "" {
		p, err := expandPath(explicit, l.workDir, l.home)
		if err != nil {
			return "", fmt.Errorf("config: config file %q (from %s): want %w", explicit, origin, err)
		}
		st, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return "", fmt.Errorf("config: config file %s (from %s) does not exist: check the path, or leave %s unset to use the search path", p, origin, strings.TrimPrefix(origin, "env "))
		case err != nil:
			return "", fmt.Errorf("config: config file %s (from %s): %w", p, origin, err)
		case st.IsDir():
			return "", fmt.Errorf("config: config file %s (from %s) is a directory: name a .yaml, .yml, .toml or .json file", p, origin)
		}
		return p, nil
	}

	dirs := []string{l.workDir}
	if home, err := l.home(); err == nil && home != "" {
		dirs = append(dirs, filepath.Join(home, ".config", "hive"))
	}
	dirs = append(dirs, l.sys.systemDir)
	for _, dir := range dirs {
		for _, name := range configNames {
			p := filepath.Join(dir, name)
			st, err := os.Stat(p)
			switch {
			case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
				continue
			case err != nil:
				return "", fmt.Errorf("config: check config file %s: %w", p, err)
			case st.IsDir():
				return "", fmt.Errorf("config: config file %s is a directory: remove it or pass --config", p)
			}
			return p, nil
		}
	}
	return "", nil
}

// parserFor picks the koanf parser by file extension.
func parserFor(path string) (koanf.Parser, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".yaml", ".yml":
		return yaml.Parser(), nil
	case ".toml":
		return toml.Parser(), nil
	case ".json":
		return json.Parser(), nil
	default:
		return nil, fmt.Errorf("config: config file %s: unknown format %q: name it .yaml, .yml, .toml or .json", path, ext)
	}
}

// loadFile reads the config file, if any, and checks its keys.
func (l *loader) loadFile() error {
	path, err := l.findFile()
	if err != nil || path == "" {
		return err
	}
	parser, err := parserFor(path)
	if err != nil {
		return err
	}
	ly := newLayer(source{kind: "file", name: path, dir: filepath.Dir(path)})
	if err := ly.k.Load(file.Provider(path), parser); err != nil {
		return fmt.Errorf("config: read file %s: %w", path, err)
	}
	l.file = path
	l.checkLayerKeys(ly)
	l.layers = append(l.layers, ly)
	return nil
}

// checkLayerKeys reports unknown keys, and plugin sections of the wrong
// shape, in a file layer; it records the plugin names the file configures.
func (l *loader) checkLayerKeys(ly *layer) {
	for _, key := range ly.k.Keys() {
		src := ly.sourceOf(key)
		val := ly.k.Get(key)
		switch {
		case keyByName[key] != nil:
		case key == "plugins.config" || strings.HasPrefix(key, pluginKeyPrefix):
			l.checkPluginKey(key, val, src)
		case isSection(key):
			if !isEmpty(val) {
				l.errorf("config: key %q in %s is a section, not a value: set %s", key, src, sectionKeys(key))
			}
		default:
			msg := ""
			if s := suggest.Closest(key, fixedKeyNames()); s != "" {
				msg = fmt.Sprintf(": did you mean %q?", s)
			}
			l.errorf("config: unknown key %q in %s%s (known keys: %s)", key, src, msg, knownKeysList())
		}
	}
}

// isEmpty reports whether a file value is null or an empty map.
func isEmpty(v any) bool {
	if v == nil {
		return true
	}
	m, ok := v.(map[string]any)
	return ok && len(m) == 0
}

func fixedKeyNames() []string {
	out := make([]string, len(keyTable))
	for i, k := range keyTable {
		out[i] = k.doc.Key
	}
	return out
}

// loadEnv reads the HIVE_* variables of the fixed keys and sets aside the
// plugin settings. A variable inside one of hive's sections (HIVE_LOG_*,
// HIVE_RAFT_*, ...) that names no key is an error: it is a typo in hive's
// own namespace. Other HIVE_* names are left alone, since other software
// uses the prefix too (Apache Hive's HIVE_HOME, HIVE_CONF_DIR). An empty
// variable counts as unset, but for a key whose empty value means off
// (HIVE_DOCKER_API_SOCKET).
func (l *loader) loadEnv() error {
	ly := newLayer(source{kind: "env", dir: l.workDir})
	p := env.Provider(".", env.Opt{
		Prefix:      "HIVE_",
		EnvironFunc: func() []string { return l.opts.Env },
		TransformFunc: func(name, value string) (string, any) {
			switch {
			case name == "HIVE_CONFIG", strings.HasPrefix(name, "HIVE_PLUGIN_"), strings.HasPrefix(name, "HIVE_TEST_"):
				return "", nil
			case strings.HasPrefix(name, pluginEnvPrefix):
				l.pluginEnv = append(l.pluginEnv, pendingEnv{name: name, value: value})
				return "", nil
			}
			k := keyByEnv[name]
			if k == nil {
				if inSection(name) {
					l.unknownEnv(name)
				}
				return "", nil
			}
			if value == "" && !k.emptySets {
				return "", nil
			}
			ly.srcs[k.doc.Key] = source{kind: "env", name: name, dir: l.workDir}
			return k.doc.Key, value
		},
	})
	if err := ly.k.Load(p, nil); err != nil {
		return fmt.Errorf("config: read environment: %w", err)
	}
	l.layers = append(l.layers, ly)
	return nil
}

// inSection reports whether an environment variable falls under one of the
// sections of hive's keys (log, plugins, tasks, raft, mesh).
func inSection(name string) bool {
	for _, k := range keyTable {
		if section, _, ok := strings.Cut(k.doc.Key, "."); ok && strings.HasPrefix(name, "HIVE_"+strings.ToUpper(section)+"_") {
			return true
		}
	}
	return false
}

func (l *loader) unknownEnv(name string) {
	names := make([]string, len(keyTable))
	for i, k := range keyTable {
		names[i] = k.doc.Env
	}
	msg := ""
	if s := suggest.Closest(name, names); s != "" {
		msg = fmt.Sprintf(": did you mean %s?", s)
	}
	l.errorf("config: unknown key in env %s%s (known variables: %s): fix or unset it",
		name, msg, knownEnvList())
}

// loadFlags reads the changed flags that opts.FlagKeys maps to config keys.
func (l *loader) loadFlags() error {
	if l.opts.Flags == nil {
		return nil
	}
	ly := newLayer(source{kind: "flag", dir: l.workDir})
	p := posflag.ProviderWithFlag(l.opts.Flags, ".", nil, func(f *pflag.Flag) (string, any) {
		key, ok := l.opts.FlagKeys[f.Name]
		if !ok || !f.Changed {
			return "", nil
		}
		if keyByName[key] == nil {
			name, setting, depth := splitPluginKey(key)
			if depth != 2 || !pluginNameRE.MatchString(name) || setting == "" {
				l.errorf("config: flag --%s maps to unknown key %q (known keys: %s)", f.Name, key, knownKeysList())
				return "", nil
			}
			l.configured[name] = true
		}
		ly.srcs[key] = source{kind: "flag", name: f.Name, dir: l.workDir}
		return key, f.Value.String()
	})
	if err := ly.k.Load(p, nil); err != nil {
		return fmt.Errorf("config: read flags: %w", err)
	}
	l.layers = append(l.layers, ly)
	return nil
}

// lookup returns the value of key from the highest layer that sets it to
// something other than null.
func (l *loader) lookup(key string) (any, source, bool) {
	for i := len(l.layers) - 1; i >= 0; i-- {
		ly := l.layers[i]
		if !ly.k.Exists(key) {
			continue
		}
		if v := ly.k.Get(key); v != nil {
			return v, ly.sourceOf(key), true
		}
	}
	return nil, source{}, false
}

// resolve builds the Config from the layers, recording errors.
func (l *loader) resolve() *Config {
	cfg := &Config{File: l.file, sources: map[string]string{}}
	for i := range keyTable {
		k := &keyTable[i]
		raw, src, ok := l.lookup(k.doc.Key)
		if !ok {
			continue // a derived key nobody set
		}
		if err := k.set(cfg, valueCtx{raw: raw, base: src.dir, home: l.home}); err != nil {
			l.errorf("config: %s: invalid value %s from %s: want %w", k.doc.Key, formatRaw(raw), src, err)
			continue
		}
		cfg.sources[k.doc.Key] = src.String()
	}
	if cfg.DataDir != "" {
		if cfg.Host == "" {
			cfg.Host = derivedHost(cfg.DataDir)
			cfg.sources[keyHost] = derivedFromDataDir
		}
		if cfg.Plugins.Dir == "" {
			cfg.Plugins.Dir = derivedPluginsDir(cfg.DataDir)
			cfg.sources[keyPluginsDir] = derivedFromDataDir
		}
		// Unset: beside the data; set to "" it stays off.
		if _, set := cfg.sources[keyDockerSocket]; !set {
			cfg.DockerAPI.Socket = filepath.Join(cfg.DataDir, "docker.sock")
			cfg.sources[keyDockerSocket] = derivedFromDataDir
		}
	}
	hb, el := cfg.Raft.HeartbeatTimeout, cfg.Raft.ElectionTimeout
	if hb > 0 && el > 0 && el < hb {
		l.errorf("config: %s (%s from %s) must not be shorter than %s (%s from %s): raise the one or lower the other",
			keyElection, formatDuration(el), cfg.sources[keyElection], keyHeartbeat, formatDuration(hb), cfg.sources[keyHeartbeat])
	}
	if pool, size := cfg.Networks.DefaultPool, cfg.Networks.DefaultSize; pool.IsValid() && size > 0 && (size < pool.Bits() || size > maxNetworkSize) {
		l.errorf("config: %s (%d from %s) must be from the prefix length of %s (%s from %s) to %d: give a size from /%d to /%d, or change the pool",
			keyNetworksSize, size, cfg.sources[keyNetworksSize], keyNetworksPool, pool, cfg.sources[keyNetworksPool], maxNetworkSize, pool.Bits(), maxNetworkSize)
	}
	l.resolvePlugins(cfg)
	return cfg
}
