package commands

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/hiveorch/hive/core/api/client"
	"github.com/hiveorch/hive/core/types"
)

// configObjectCommands are the subcommands of `hive config` that manage
// config objects (the daemon adds `hive config show` beside them).
func (c *cli) configObjectCommands() []*cobra.Command {
	return []*cobra.Command{c.configCreateCommand(), c.configLsCommand(), c.configInspectCommand(), c.configRmCommand(), c.configUpdateCommand()}
}

const configGroupExample = "  hive config create nginx.conf ./nginx.conf\n  hive config ls\n  hive service create --name web --config source=nginx.conf,target=/etc/nginx/nginx.conf nginx:alpine"

func (c *cli) configCreateCommand() *cobra.Command {
	var labels []string
	cmd := &cobra.Command{
		Use:   "create [flags] NAME FILE|-",
		Short: "Create a config from a file or standard input",
		Long: `Create a config named NAME whose data is the content of FILE, or of standard
input with -, at most 1000 KB. Configs are not secret: they are stored as they
are and 'hive config inspect' shows them. Services get them with --config, as
a file (by default /NAME) in their containers. For sensitive values use
'hive secret create'.`,
		Example: `  hive config create nginx.conf ./nginx.conf
  echo 'port: 8080' | hive config create --label app=api api.yaml -`,
		Args: exactArgs(2, "a NAME and a FILE (or - for standard input)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec := types.ConfigSpec{Name: args[0]}
			if err := types.ValidateConfigName(spec.Name); err != nil {
				return err
			}
			var err error
			if spec.Labels, err = parseLabels(labels); err != nil {
				return err
			}
			data, err := readValue(cmd, "config", args[1], types.MaxConfigSize)
			if err != nil {
				return err
			}
			if err := types.ValidateConfigData(spec.Name, data); err != nil {
				return err
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			cfg, err := cl.CreateConfig(cmd.Context(), spec, data)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), cfg.ID)
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&labels, "label", "l", nil, "set a label: `KEY=VALUE`")
	return cmd
}

// configs describes configs to the commands they share with secrets.
var configs = storedKind[*types.Config]{
	noun:   "config",
	list:   (*client.Client).ListConfigs,
	get:    (*client.Client).GetConfig,
	remove: (*client.Client).RemoveConfig,
	meta: func(c *types.Config) storedMeta {
		return storedMeta{ID: c.ID, Name: c.Spec.Name, Labels: c.Spec.Labels, ValueVersion: c.ValueVersion, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	},
	prettyAfter: func(out io.Writer, c *types.Config) {
		fmt.Fprintf(out, "Data:\n%s", c.Data)
		if n := len(c.Data); n > 0 && c.Data[n-1] != '\n' {
			fmt.Fprintln(out)
		}
	},
}

func (c *cli) configLsCommand() *cobra.Command {
	return configs.lsCommand(c, `List the configs of the cluster.`, `  hive config ls
  hive config ls -q
  hive config ls --format json`)
}

func (c *cli) configInspectCommand() *cobra.Command {
	return configs.inspectCommand(c, &cobra.Command{
		Use:   "inspect [flags] CONFIG [CONFIG...]",
		Short: "Show the details of one or more configs, with their data",
		Long: `Show the details of configs: a JSON array by default (the data in base64), or
a summary with --pretty that prints the data as text. A config is named by
its name, ID or a unique prefix of its ID.`,
		Example: `  hive config inspect nginx.conf
  hive config inspect --pretty nginx.conf`,
	}, "print a summary for people, with the data as text, instead of JSON")
}

func (c *cli) configRmCommand() *cobra.Command {
	return configs.rmCommand(c, `Remove configs. A config that services use is not removed: the error names
them; take it from them first with 'hive service update --config-rm NAME
SERVICE'. Each removed config is printed as given.`, `  hive config rm nginx.conf
  hive config rm $(hive config ls -q)`)
}

func (c *cli) configUpdateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "update CONFIG FILE|-",
		Short: "Store new data for a config and roll the services that use it",
		Long: `Store the content of FILE (or standard input, with -) as the config's new data.
Every service that uses the config then goes through its rolling update (its
--update-* policy), so that its new tasks get the new data. Data equal to
what the config holds changes nothing: no new version, no service rolled.`,
		Example: `  hive config update nginx.conf ./nginx.conf
  echo 'port: 9090' | hive config update api.yaml -`,
		Args: exactArgs(2, "a CONFIG and a FILE (or - for standard input)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readValue(cmd, "config", args[1], types.MaxConfigSize)
			if err != nil {
				return err
			}
			if err := types.ValidateConfigData(args[0], data); err != nil {
				return err
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			before, err := cl.GetConfig(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			cfg, err := cl.UpdateConfig(cmd.Context(), before.ID, data)
			if err != nil {
				return err
			}
			printNewVersion(cmd.OutOrStdout(), cfg.Spec.Name, before.ValueVersion, cfg.ValueVersion)
			return nil
		},
	}
}
