package commands

import (
	"fmt"
	"sort"

	"github.com/spf13/cobra"

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

func (c *cli) configLsCommand() *cobra.Command {
	var (
		format string
		quiet  bool
	)
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List configs",
		Long:    `List the configs of the cluster.`,
		Example: `  hive config ls
  hive config ls -q
  hive config ls --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, formatTable, formatJSON); err != nil {
				return err
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			list, err := cl.ListConfigs(cmd.Context())
			if err != nil {
				return err
			}
			sort.SliceStable(list, func(i, j int) bool { return list[i].Spec.Name < list[j].Spec.Name })
			out := cmd.OutOrStdout()
			switch {
			case format == formatJSON:
				if list == nil {
					list = []*types.Config{}
				}
				return writeJSON(out, list)
			case quiet:
				for _, s := range list {
					fmt.Fprintln(out, truncID(s.ID))
				}
				return nil
			}
			now := c.now()
			t := newTable(out, "ID", "NAME", "CREATED", "UPDATED")
			for _, s := range list {
				t.row(truncID(s.ID), s.Spec.Name, ago(now, s.CreatedAt), ago(now, s.UpdatedAt))
			}
			return t.flush()
		},
	}
	addFormatFlag(cmd, &format, formatTable)
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only print config IDs")
	return cmd
}

func (c *cli) configInspectCommand() *cobra.Command {
	var (
		pretty bool
		format string
	)
	cmd := &cobra.Command{
		Use:   "inspect [flags] CONFIG [CONFIG...]",
		Short: "Show the details of one or more configs, with their data",
		Long: `Show the details of configs: a JSON array by default (the data in base64), or
a summary with --pretty that prints the data as text. A config is named by
its name, ID or a unique prefix of its ID.`,
		Example: `  hive config inspect nginx.conf
  hive config inspect --pretty nginx.conf`,
		Args: minArgs(1, "one config"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, formatJSON); err != nil {
				return err
			}
			if pretty && flagChanged(cmd.Flags(), "format") {
				return usageErrorf(cmd, "--pretty and --format cannot be used together")
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			list := []*types.Config{}
			var errs []error
			for _, ref := range args {
				s, err := cl.GetConfig(cmd.Context(), ref)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				list = append(list, s)
			}
			out := cmd.OutOrStdout()
			if !pretty {
				if err := writeJSON(out, list); err != nil {
					return err
				}
				return errorOf(errs)
			}
			for i, s := range list {
				if i > 0 {
					fmt.Fprintln(out)
				}
				fmt.Fprintf(out, "ID:              %s\nName:            %s\n", s.ID, s.Spec.Name)
				prettyLabels(out, s.Spec.Labels)
				fmt.Fprintf(out, "Value version:   %d\nCreated at:      %s\nUpdated at:      %s\nData:\n%s",
					s.ValueVersion, s.CreatedAt.Local().Format("2006-01-02 15:04:05 -0700 MST"), s.UpdatedAt.Local().Format("2006-01-02 15:04:05 -0700 MST"), s.Data)
				if n := len(s.Data); n > 0 && s.Data[n-1] != '\n' {
					fmt.Fprintln(out)
				}
			}
			return errorOf(errs)
		},
	}
	cmd.Flags().BoolVar(&pretty, "pretty", false, "print a summary for people, with the data as text, instead of JSON")
	addFormatFlag(cmd, &format, formatJSON)
	return cmd
}

func (c *cli) configRmCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "rm CONFIG [CONFIG...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more configs",
		Long: `Remove configs. A config that services use is not removed: the error names
them; take it from them first with 'hive service update --config-rm NAME
SERVICE'. Each removed config is printed as given.`,
		Example: `  hive config rm nginx.conf
  hive config rm $(hive config ls -q)`,
		Args: minArgs(1, "one config"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.api()
			if err != nil {
				return err
			}
			var errs []error
			for _, ref := range args {
				if err := cl.RemoveConfig(cmd.Context(), ref); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), ref)
			}
			return errorOf(errs)
		},
	}
}

func (c *cli) configUpdateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "update CONFIG FILE|-",
		Short: "Store new data for a config and roll the services that use it",
		Long: `Store the content of FILE (or standard input, with -) as the config's new data.
Every service that uses the config then goes through its rolling update (its
--update-* policy), so that its new tasks get the new data.`,
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
			cfg, err := cl.UpdateConfig(cmd.Context(), args[0], data)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s (value version %d)\n", cfg.Spec.Name, cfg.ValueVersion)
			return nil
		},
	}
}
