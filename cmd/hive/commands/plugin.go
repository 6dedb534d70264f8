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

// maxPluginErrLength is where plugin ls cuts a plugin's error unless
// --no-trunc is given.
const maxPluginErrLength = 60

func (c *cli) pluginLsCommand() *cobra.Command {
	var (
		format  string
		noTrunc bool
	)
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the plugins of the node you are talking to",
		Long: `List the plugins (container runtime, scheduler, ...) the node the CLI is
talking to runs, with their state. SOURCE is "builtin" for a plugin served
by the hive binary itself, or the path of the plugin's executable. STATE is
starting, running, unhealthy (the process runs but its health check fails:
its engine is unreachable, say), restarting, failed or stopped; ERROR says
why, cut short unless --no-trunc is given.`,
		Example: `  hive plugin ls
  hive plugin ls --no-trunc
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
			return renderPlugins(cmd.OutOrStdout(), plugins, !noTrunc)
		},
	}
	addFormatFlag(cmd, &format, formatTable)
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not shorten errors")
	return cmd
}

// renderPlugins prints the plugin ls table; trunc cuts the errors.
func renderPlugins(w io.Writer, plugins []api.PluginStatus, trunc bool) error {
	t := newTable(w, "NAME", "KIND", "VERSION", "SOURCE", "STATE", "ERROR")
	for _, p := range plugins {
		msg := p.Error
		if trunc {
			msg = cutText(msg, maxPluginErrLength)
		}
		t.row(p.Name, p.Kind, p.Version, p.Source, p.State, msg)
	}
	return t.flush()
}
