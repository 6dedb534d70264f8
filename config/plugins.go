package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/knadh/koanf/providers/confmap"
)

// splitPluginKey splits "plugins.config.NAME.KEY" into NAME and KEY; depth
// is the number of parts after "plugins.config." (1 for a bare plugin
// section, 2 for a setting, more for a nested map).
func splitPluginKey(key string) (name, setting string, depth int) {
	rest, ok := strings.CutPrefix(key, pluginKeyPrefix)
	if !ok || rest == "" {
		return "", "", 0
	}
	parts := strings.Split(rest, ".")
	name = parts[0]
	if len(parts) > 1 {
		setting = parts[1]
	}
	return name, setting, len(parts)
}

// checkPluginKey checks one flattened key under plugins.config from a file
// and records the plugin name it configures.
func (l *loader) checkPluginKey(key string, val any, src source) {
	const shape = "plugin settings are plugins.config.<plugin>.<key> with a string, number or boolean value"
	if key == "plugins.config" {
		if !isEmpty(val) {
			l.errorf("config: plugins.config in %s must be a map of plugin names to settings, not %s: %s", src, formatRaw(val), shape)
		}
		return
	}
	name, _, depth := splitPluginKey(key)
	if !pluginNameRE.MatchString(name) {
		l.errorf("config: plugins.config: invalid plugin name %q in %s: want letters, digits, '-' and '_', starting with a letter or digit", name, src)
		return
	}
	switch depth {
	case 1:
		if !isEmpty(val) {
			l.errorf("config: plugins.config.%s in %s must be a map of settings, not %s: %s", name, src, formatRaw(val), shape)
			return
		}
	case 2:
		if _, ok := settingString(val); !ok {
			l.errorf("config: %s: invalid value %s from %s: want a string, number or boolean", key, formatRaw(val), src)
			return
		}
	default:
		l.errorf("config: unknown key %q in %s: %s (nested maps are not allowed)", key, src, shape)
		return
	}
	l.configured[name] = true
}

// pluginEnvForm is a plugin name as it appears in a variable name:
// upper-cased, '-' -> '_'.
func pluginEnvForm(name string) string {
	return strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// pluginEnvName returns the variable that sets a plugin setting, or "" when
// the key cannot be written as one (the variable form only produces
// lower-case keys of letters, digits and '_').
func pluginEnvName(name, key string) string {
	for _, r := range key {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return ""
		}
	}
	return pluginEnvPrefix + pluginEnvForm(name) + "_" + strings.ToUpper(key)
}

// knownPlugins returns the plugin names a HIVE_PLUGINS_CONFIG_* variable
// may address: the built-in plugins, the plugins named by plugins.runtime,
// plugins.scheduler and plugins.secrets, and those configured in the file
// or by flags.
func (l *loader) knownPlugins() []string {
	set := map[string]bool{}
	for _, n := range builtinPlugins {
		set[n] = true
	}
	for _, key := range []string{keyPluginsRuntime, keyPluginsSched} {
		if raw, _, ok := l.lookup(key); ok {
			if s, ok := raw.(string); ok && s != "" {
				name := pluginRefName(strings.TrimSpace(s))
				if full, ok := runtimeAliases[name]; ok && key == keyPluginsRuntime {
					name = full
				}
				set[name] = true
			}
		}
	}
	if raw, src, ok := l.lookup(keyPluginsSecrets); ok {
		// Errors are reported when the key itself is resolved.
		list, _ := parseSecretsPlugins(valueCtx{raw: raw, base: src.dir, home: l.home})
		for _, ref := range list {
			set[pluginRefName(ref)] = true
		}
	}
	for n := range l.configured {
		set[n] = true
	}
	out := make([]string, 0, len(set))
	for n := range set {
		if pluginNameRE.MatchString(n) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// matchPluginEnv resolves HIVE_PLUGINS_CONFIG_<NAME>_<KEY> against the
// known plugin names: the longest name whose variable form is followed by
// '_' and a non-empty key wins; the key is the rest, lower-cased.
func matchPluginEnv(varName string, known []string) (name, key string, ok bool) {
	rest := strings.TrimPrefix(varName, pluginEnvPrefix)
	best := -1
	for _, n := range known {
		form := pluginEnvForm(n) + "_"
		if len(rest) > len(form) && strings.HasPrefix(rest, form) && len(form) > best {
			best, name, key = len(form), n, strings.ToLower(rest[len(form):])
		}
	}
	return name, key, best >= 0
}

// loadPluginEnv resolves the HIVE_PLUGINS_CONFIG_* variables into a layer
// just above the other variables.
func (l *loader) loadPluginEnv() error {
	if len(l.pluginEnv) == 0 {
		return nil
	}
	known := l.knownPlugins()
	ly := newLayer(source{kind: "env", dir: l.workDir})
	values := map[string]any{}
	for _, e := range l.pluginEnv {
		name, key, ok := matchPluginEnv(e.name, known)
		if !ok {
			l.errorf("config: env %s matches no known plugin (known: %s): the variable form is %s<PLUGIN>_<KEY>; to configure another plugin, declare it in the config file with \"plugins.config.NAME: {}\" or name it in plugins.runtime or plugins.scheduler",
				e.name, strings.Join(known, ", "), pluginEnvPrefix)
			continue
		}
		if e.value == "" {
			continue
		}
		full := pluginKeyPrefix + name + "." + key
		values[full] = e.value
		ly.srcs[full] = source{kind: "env", name: e.name, dir: l.workDir}
	}
	if err := ly.k.Load(confmap.Provider(values, "."), nil); err != nil {
		return fmt.Errorf("config: read plugin settings from environment: %w", err)
	}
	// Insert just below the flags layer, if there is one.
	at := len(l.layers)
	if l.opts.Flags != nil {
		at--
	}
	l.layers = append(l.layers[:at], append([]*layer{ly}, l.layers[at:]...)...)
	return nil
}

// resolvePlugins fills cfg.Plugins.Config from every layer; a higher layer
// overrides a lower one per setting. Badly shaped keys were reported when
// the file was checked and are skipped here.
func (l *loader) resolvePlugins(cfg *Config) {
	out := map[string]map[string]string{}
	for _, ly := range l.layers {
		for _, key := range ly.k.Keys() {
			name, setting, depth := splitPluginKey(key)
			if depth == 0 || depth > 2 || !pluginNameRE.MatchString(name) {
				continue
			}
			val := ly.k.Get(key)
			if depth == 1 {
				if isEmpty(val) && out[name] == nil {
					out[name] = map[string]string{}
				}
				continue
			}
			s, ok := settingString(val)
			if !ok {
				continue
			}
			if out[name] == nil {
				out[name] = map[string]string{}
			}
			out[name][setting] = s
			cfg.sources[key] = ly.sourceOf(key).String()
		}
	}
	cfg.Plugins.Config = out
}

// secretsPluginPrefix starts the name of every secrets plugin: the plugin
// of the secret driver NAME is secrets-NAME.
const secretsPluginPrefix = "secrets-"

// SecretsDriver returns the secret driver a plugins.secrets entry serves:
// the plugin's name without its "secrets-" prefix ("secrets-vault" and
// "/opt/hive/secrets-vault" serve "vault").
func SecretsDriver(ref string) string {
	name := pluginRefName(ref)
	return strings.TrimPrefix(name, secretsPluginPrefix)
}

// parseSecretsPlugins parses plugins.secrets: a list (from a file) or a
// comma-separated string (from the environment or a flag) of driver
// names, plugin names and paths. A bare driver name NAME stands for the
// plugin secrets-NAME; paths are made absolute. Two entries may not serve
// the same driver.
func parseSecretsPlugins(v valueCtx) ([]string, error) {
	const w = `a list of secrets drivers such as [vault], or "vault,/opt/hive/secrets-aws" in the environment: a driver name (vault is the built-in secrets-vault; NAME is the plugin secrets-NAME) or the path of a plugin executable`
	var items []string
	switch raw := v.raw.(type) {
	case nil:
	case string:
		items = strings.Split(raw, ",")
	case []string:
		items = raw
	case []any:
		for _, it := range raw {
			s, ok := it.(string)
			if !ok {
				return nil, wantError(w)
			}
			items = append(items, s)
		}
	default:
		return nil, wantError(w)
	}
	var out []string
	seen := map[string]string{}
	for _, it := range items {
		it = strings.TrimSpace(it)
		if it == "" {
			continue
		}
		ref, err := parsePluginRef(valueCtx{raw: it, base: v.base, home: v.home})
		if err != nil {
			return nil, want("%s; %q is neither", w, it)
		}
		if !strings.Contains(ref, "/") && !strings.HasPrefix(ref, secretsPluginPrefix) {
			ref = secretsPluginPrefix + ref
		}
		driver := SecretsDriver(ref)
		if prev, ok := seen[driver]; ok {
			return nil, want("%s; %q and %q both serve the driver %q: keep one", w, prev, it, driver)
		}
		seen[driver] = it
		out = append(out, ref)
	}
	return out, nil
}
