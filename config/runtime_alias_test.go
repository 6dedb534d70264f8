package config

import (
	"testing"

	"github.com/spf13/pflag"
)

// TestRuntimeAliases checks that the short names of the built-in runtimes
// stand for them from every source, and that settings addressed to the
// full name reach the plugin chosen by its short name.
func TestRuntimeAliases(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		env  []string
		flag string
		want string
	}{
		{"file", "plugins:\n  runtime: containerd\n", nil, "", "runtime-containerd"},
		{"env", "", []string{"HIVE_PLUGINS_RUNTIME=containerd"}, "", "runtime-containerd"},
		{"flag", "", nil, "containerd", "runtime-containerd"},
		{"docker", "", []string{"HIVE_PLUGINS_RUNTIME=docker"}, "", "runtime-docker"},
		{"full name", "", []string{"HIVE_PLUGINS_RUNTIME=runtime-containerd"}, "", "runtime-containerd"},
		{"other names are kept", "", []string{"HIVE_PLUGINS_RUNTIME=containerd-ng"}, "", "containerd-ng"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			opts := LoadOptions{Env: append([]string{"HIVE_PLUGINS_CONFIG_RUNTIME_CONTAINERD_NAMESPACE=ns1"}, tc.env...)}
			if tc.file != "" {
				opts.File = write(t, f.work, "hive.yaml", tc.file)
			}
			if tc.flag != "" {
				fs := pflag.NewFlagSet("up", pflag.ContinueOnError)
				fs.String("runtime", "", "")
				if err := fs.Parse([]string{"--runtime", tc.flag}); err != nil {
					t.Fatal(err)
				}
				opts.Flags, opts.FlagKeys = fs, map[string]string{"runtime": "plugins.runtime"}
			}
			cfg, err := f.load(opts)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if cfg.Plugins.Runtime != tc.want {
				t.Errorf("plugins.runtime = %q, want %q", cfg.Plugins.Runtime, tc.want)
			}
			if got := cfg.Plugins.Config["runtime-containerd"]["namespace"]; got != "ns1" {
				t.Errorf("plugins.config.runtime-containerd.namespace = %q, want ns1", got)
			}
		})
	}
}
