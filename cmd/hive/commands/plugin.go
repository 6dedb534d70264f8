package commands

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/hiveorch/hive/core/api"
)

func (c *cli) pluginCommand() *cobra.Command {
	subs := append([]*cobra.Command{c.pluginLsCommand()}, c.opts.PluginExtra...)
	return groupCommand("plugin", "Show the plugins hive runs", "  hive plugin ls", subs...)
}

func (c *cli) pluginLsCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the plugins of the node you are talking to",
		Long: `List the plugins (container runtime, scheduler, ...) the node the CLI is
talking to runs, with their state. SOURCE is "builtin" for a plugin served
by the hive binary itself, or the path of the plugin's executable.`,
		Example: `  hive plugin ls
  hive plugin ls --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, formatTable, formatJSON); err != nil {
				return err
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			plugins, err := cl.Plugins(cmd.Context())
			if err != nil {
				return err
			}
			if format == formatJSON {
				return writeJSON(cmd.OutOrStdout(), plugins)
			}
			return renderPlugins(cmd.OutOrStdout(), plugins)
		},
	}
	addFormatFlag(cmd, &format, formatTable)
	return cmd
}

// renderPlugins prints the plugin ls table. A failed plugin's STATE
// carries its error.
func renderPlugins(w io.Writer, plugins []api.PluginStatus) error {
	t := newTable(w, "NAME", "KIND", "VERSION", "SOURCE", "STATE")
	for _, p := range plugins {
		state := p.State
		if p.Error != "" {
			state += ": " + p.Error
		}
		t.row(p.Name, p.Kind, p.Version, p.Source, state)
	}
	return t.flush()
}
