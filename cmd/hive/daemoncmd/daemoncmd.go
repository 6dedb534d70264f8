// Package daemoncmd holds the commands that run hive itself rather than
// talk to it: `hive up`, `hive down`, `hive plugin serve` (how the hive
// binary serves its built-in plugins) and `hive config show`.
package daemoncmd

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hiveorch/hive/config"
)

// flagKeys maps the daemon's flags to configuration keys.
var flagKeys = map[string]string{
	"host":           "host",
	"data-dir":       "data_dir",
	"advertise-addr": "advertise_addr",
	"listen-addr":    "listen_addr",
	"log-level":      "log.level",
	"log-format":     "log.format",
	"runtime":        "plugins.runtime",
	"data-path-port": "networks.vxlan_port",
}

// loadConfig reads the configuration the way the daemon does: defaults,
// file (--config or HIVE_CONFIG or the search path), HIVE_* environment,
// then the command's flags.
func loadConfig(cmd *cobra.Command) (*config.Config, error) {
	file := ""
	if f := cmd.Flags().Lookup("config"); f != nil {
		file = f.Value.String()
	}
	return config.Load(config.LoadOptions{File: file, Env: os.Environ(), Flags: cmd.Flags(), FlagKeys: flagKeys})
}

// addDaemonFlags adds the flags that set the node's configuration.
func addDaemonFlags(fs *pflag.FlagSet) {
	fs.String("data-dir", "", "directory for the node's state (default "+config.DefaultDataDir()+")")
	fs.String("advertise-addr", "", "address other nodes reach this one at (host or host:port)")
	fs.String("listen-addr", "", "cluster port: address to listen on for other nodes (mutual TLS; default 0.0.0.0:4242)")
	fs.String("log-level", "", "log level: debug, info, warn or error (default info)")
	fs.String("log-format", "", "log format: text or json (default text)")
	fs.String("runtime", "", "container runtime plugin: docker, containerd, or a plugin name or path (default runtime-docker)")
	fs.String("data-path-port", "", "UDP port of this node's overlay (VXLAN) traffic; nodes sharing a host need different ones (default 4789)")
}

// newLogger makes the daemon's logger.
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	switch strings.ToLower(cfg.Log.Level) {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Commands returns the top-level daemon commands and the `plugin serve`
// sub-command.
func Commands() (top []*cobra.Command, plugin []*cobra.Command) {
	return []*cobra.Command{upCommand(), downCommand(), joinCommand()}, []*cobra.Command{serveCommand()}
}

// ConfigCommand returns `hive config` with its `show` sub-command.
func ConfigCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "config",
		Short: "Show hive's configuration",
		Args:  cobra.NoArgs,
	}
	show := &cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration and where each value comes from",
		Long: `Print every configuration key with the value 'hive up' would use from here and
its source: default, file, env (HIVE_*) or flag. Values derived from data_dir
say so. Plugin settings whose names look like credentials are redacted.`,
		Example: `  hive config show
  HIVE_LOG_LEVEL=debug hive config show --data-dir /tmp/hive
  hive config show --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			format, _ := cmd.Flags().GetString("format")
			return printEntries(cmd.OutOrStdout(), cfg, format)
		},
	}
	addDaemonFlags(show.Flags())
	show.Flags().String("format", "table", "output format: table or json")
	c.AddCommand(show)
	return c
}

func printEntries(w io.Writer, cfg *config.Config, format string) error {
	entries := cfg.Entries()
	switch format {
	case "json":
		return writeJSON(w, entries)
	case "table", "":
	default:
		return fmt.Errorf("invalid --format %q: use table or json", format)
	}
	return writeTable(w, []string{"KEY", "VALUE", "SOURCE"}, func(row func(...string)) {
		for _, e := range entries {
			row(e.Key, e.Value, e.Source)
		}
	})
}
