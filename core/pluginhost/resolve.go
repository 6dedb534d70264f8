package pluginhost

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// source is where a plugin's process comes from.
type source struct {
	path string
	args []string
	// source is Status.Source: SourceBuiltin or the path.
	source string
}

// resolve finds the executable for spec: a built-in name runs the hive
// binary, a name with a '/' is a path, any other name is looked up in
// Config.Dir.
func (h *Host) resolve(spec Spec) (source, error) {
	name := spec.Name
	key := "plugins." + string(spec.Kind)
	fix := fmt.Sprintf("set %s to a built-in name or the path of an executable", key)
	builtins := "none"
	if len(h.cfg.Builtins) > 0 {
		builtins = strings.Join(h.cfg.Builtins, ", ")
	}

	switch {
	case name == "":
		return source{}, fmt.Errorf("no %s plugin configured: %s (built-ins: %s)", spec.Kind, fix, builtins)

	case slices.Contains(h.cfg.Builtins, name):
		if h.cfg.Executable == "" {
			return source{}, fmt.Errorf("start built-in plugin %s: the path of the hive binary is unknown", name)
		}
		return source{
			path:   h.cfg.Executable,
			args:   []string{"plugin", "serve", name},
			source: SourceBuiltin,
		}, nil

	case strings.ContainsRune(name, '/'):
		path, err := filepath.Abs(name)
		if err != nil {
			return source{}, fmt.Errorf("plugin %s: %w", name, err)
		}
		if err := checkExecutable(path); err != nil {
			return source{}, fmt.Errorf("plugin %s: %w; %s", name, err, fix)
		}
		return source{path: path, source: path}, nil
	}

	if h.cfg.Dir == "" {
		return source{}, fmt.Errorf("plugin %q not found: it is not a built-in (built-ins: %s) and plugins.dir is not set; %s",
			name, builtins, fix)
	}
	path, err := filepath.Abs(filepath.Join(h.cfg.Dir, name))
	if err != nil {
		return source{}, fmt.Errorf("plugin %s: %w", name, err)
	}
	if err := checkExecutable(path); err != nil {
		return source{}, fmt.Errorf("plugin %q not found: it is not a built-in (built-ins: %s) and plugins.dir %s has no executable of that name (%w); %s",
			name, builtins, h.cfg.Dir, err, fix)
	}
	return source{path: path, source: path}, nil
}

// checkExecutable reports why path cannot be run as a plugin, if it cannot.
func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s does not exist", path)
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not executable", path)
	}
	return nil
}
