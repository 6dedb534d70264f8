package commands

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hiveorch/hive/core/types"
)

func (c *cli) secretCommand() *cobra.Command {
	return groupCommand("secret", "Manage secrets: sensitive values granted to services",
		"  echo -n 's3cret' | hive secret create db_password -\n  hive secret ls\n  hive service create --name db --secret db_password postgres:16",
		c.secretCreateCommand(), c.secretLsCommand(), c.secretInspectCommand(), c.secretRmCommand(), c.secretUpdateCommand())
}

// readValue reads a secret or config value from the file name, or from
// standard input for "-", reading at most limit+1 bytes so that a value
// too large is reported without reading it all.
func readValue(cmd *cobra.Command, what, name string, limit int) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		r = cmd.InOrStdin()
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("read the %s value: %w", what, err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("read the %s value: %w", what, err)
	}
	return b, nil
}

func parseLabels(values []string) (map[string]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, v := range values {
		k, val, err := parseLabel(v)
		if err != nil {
			return nil, err
		}
		out[k] = val
	}
	return out, nil
}

func (c *cli) secretCreateCommand() *cobra.Command {
	var (
		labels, opts []string
		driver       string
	)
	cmd := &cobra.Command{
		Use:   "create [flags] NAME FILE|-",
		Short: "Create a secret from a file or standard input",
		Long: `Create a secret named NAME whose value is the content of FILE, or of standard
input with -, byte for byte (a trailing newline is kept). The value is at most
500 KB. A manager seals it with the cluster's data-encryption key before it is
stored: no file of any manager holds it in plaintext, and no command shows it
again. Services get it with --secret, as a file in /run/secrets in memory.

With --driver, the value is held by that secrets plugin (Vault, say) and read
when a task needs it; give its options with --opt and no FILE.

Names are letters, digits, '-', '_' and '.', starting and ending with a letter
or digit, at most 64 characters.`,
		Example: `  echo -n 's3cret' | hive secret create db_password -
  hive secret create --label env=prod tls_key ./server.key
  hive secret create --driver vault --opt path=secret/data/app#password app_password`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usageErrorf(cmd, "%q requires a NAME and a FILE (or - for standard input)", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			spec := types.SecretSpec{Name: args[0]}
			if err := types.ValidateSecretName(spec.Name); err != nil {
				return err
			}
			var err error
			if spec.Labels, err = parseLabels(labels); err != nil {
				return err
			}
			var value []byte
			switch {
			case driver != "":
				if len(args) == 2 {
					return usageErrorf(cmd, "a secret with --driver takes no FILE: the driver holds the value")
				}
				spec.Driver = &types.Driver{Name: driver}
				for _, o := range opts {
					k, v, ok := strings.Cut(o, "=")
					if !ok || k == "" {
						return usageErrorf(cmd, "invalid --opt %q: use KEY=VALUE", o)
					}
					if spec.Driver.Options == nil {
						spec.Driver.Options = map[string]string{}
					}
					spec.Driver.Options[k] = v
				}
			case len(opts) > 0:
				return usageErrorf(cmd, "--opt is for a secret with --driver")
			case len(args) < 2:
				return usageErrorf(cmd, "%q requires a FILE with the value, or - to read it from standard input", cmd.CommandPath())
			default:
				if value, err = readValue(cmd, "secret", args[1], types.MaxSecretSize); err != nil {
					return err
				}
				if err := types.ValidateSecretValue(spec.Name, types.NewSecretValue(value)); err != nil {
					return err
				}
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			sec, err := cl.CreateSecret(cmd.Context(), spec, types.NewSecretValue(value))
			clear(value)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), sec.ID)
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&labels, "label", "l", nil, "set a label: `KEY=VALUE`")
	cmd.Flags().StringVarP(&driver, "driver", "d", "", "`NAME` of the secrets plugin that holds the value")
	cmd.Flags().StringArrayVar(&opts, "opt", nil, "driver option `KEY=VALUE`")
	return cmd
}

func (c *cli) secretLsCommand() *cobra.Command {
	var (
		format string
		quiet  bool
	)
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List secrets",
		Long:    `List the secrets of the cluster, without their values.`,
		Example: `  hive secret ls
  hive secret ls -q
  hive secret ls --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, formatTable, formatJSON); err != nil {
				return err
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			list, err := cl.ListSecrets(cmd.Context())
			if err != nil {
				return err
			}
			sort.SliceStable(list, func(i, j int) bool { return list[i].Spec.Name < list[j].Spec.Name })
			out := cmd.OutOrStdout()
			switch {
			case format == formatJSON:
				if list == nil {
					list = []*types.Secret{}
				}
				return writeJSON(out, list)
			case quiet:
				for _, s := range list {
					fmt.Fprintln(out, truncID(s.ID))
				}
				return nil
			}
			now := c.now()
			t := newTable(out, "ID", "NAME", "DRIVER", "CREATED", "UPDATED")
			for _, s := range list {
				drv := ""
				if s.Spec.Driver != nil {
					drv = s.Spec.Driver.Name
				}
				t.row(truncID(s.ID), s.Spec.Name, drv, ago(now, s.CreatedAt), ago(now, s.UpdatedAt))
			}
			return t.flush()
		},
	}
	addFormatFlag(cmd, &format, formatTable)
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only print secret IDs")
	return cmd
}

func (c *cli) secretInspectCommand() *cobra.Command {
	var (
		pretty bool
		format string
	)
	cmd := &cobra.Command{
		Use:   "inspect [flags] SECRET [SECRET...]",
		Short: "Show the details of one or more secrets (never their values)",
		Long: `Show the details of secrets: a JSON array by default, or a summary with
--pretty. The value is never shown: no command can read it back. A secret is
named by its name, ID or a unique prefix of its ID.`,
		Example: `  hive secret inspect db_password
  hive secret inspect --pretty db_password tls_key`,
		Args: minArgs(1, "one secret"),
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
			list := []*types.Secret{}
			var errs []error
			for _, ref := range args {
				s, err := cl.GetSecret(cmd.Context(), ref)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				s.Sealed = nil
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
				if s.Spec.Driver != nil {
					fmt.Fprintf(out, "Driver:          %s\n", s.Spec.Driver.Name)
					for _, k := range sortedKeys(s.Spec.Driver.Options) {
						fmt.Fprintf(out, " - %s=%s\n", k, s.Spec.Driver.Options[k])
					}
				}
				fmt.Fprintf(out, "Value version:   %d\nCreated at:      %s\nUpdated at:      %s\n",
					s.ValueVersion, s.CreatedAt.Local().Format("2006-01-02 15:04:05 -0700 MST"), s.UpdatedAt.Local().Format("2006-01-02 15:04:05 -0700 MST"))
			}
			return errorOf(errs)
		},
	}
	cmd.Flags().BoolVar(&pretty, "pretty", false, "print a summary for people instead of JSON")
	addFormatFlag(cmd, &format, formatJSON)
	return cmd
}

func prettyLabels(w io.Writer, labels map[string]string) {
	if len(labels) == 0 {
		return
	}
	fmt.Fprintln(w, "Labels:")
	for _, k := range sortedKeys(labels) {
		fmt.Fprintf(w, " - %s=%s\n", k, labels[k])
	}
}

func (c *cli) secretRmCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "rm SECRET [SECRET...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more secrets",
		Long: `Remove secrets. A secret that services use is not removed: the error names
them; take it from them first with 'hive service update --secret-rm NAME
SERVICE'. Each removed secret is printed as given.`,
		Example: `  hive secret rm db_password
  hive secret rm $(hive secret ls -q)`,
		Args: minArgs(1, "one secret"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.api()
			if err != nil {
				return err
			}
			var errs []error
			for _, ref := range args {
				if err := cl.RemoveSecret(cmd.Context(), ref); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), ref)
			}
			return errorOf(errs)
		},
	}
}

func (c *cli) secretUpdateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "update SECRET FILE|-",
		Short: "Rotate a secret: store a new value and roll the services that use it",
		Long: `Store the content of FILE (or standard input, with -) as the secret's new value.
Every service that uses the secret then goes through its rolling update (its
--update-* policy), so that its new tasks get the new value; follow it with
'hive service ps'. A secret held by a driver takes no FILE: the command then
only rolls the services, which read the driver's current value.`,
		Example: `  echo -n 'n3w-s3cret' | hive secret update db_password -
  hive secret update tls_key ./server-2025.key`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usageErrorf(cmd, "%q requires a SECRET and a FILE (or - for standard input)", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var value []byte
			if len(args) == 2 {
				var err error
				if value, err = readValue(cmd, "secret", args[1], types.MaxSecretSize); err != nil {
					return err
				}
				if err := types.ValidateSecretValue(args[0], types.NewSecretValue(value)); err != nil {
					return err
				}
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			sec, err := cl.UpdateSecret(cmd.Context(), args[0], types.NewSecretValue(value))
			clear(value)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s (value version %d)\n", sec.Spec.Name, sec.ValueVersion)
			return nil
		},
	}
	return cmd
}
