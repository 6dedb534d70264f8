package commands

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hiveorch/hive/core/api/client"
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
		k, val, err := parseLabel("--label", v)
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

// secrets describes secrets to the commands they share with configs.
var secrets = storedKind[*types.Secret]{
	noun:   "secret",
	list:   (*client.Client).ListSecrets,
	get:    (*client.Client).GetSecret,
	remove: (*client.Client).RemoveSecret,
	meta: func(s *types.Secret) storedMeta {
		m := storedMeta{ID: s.ID, Name: s.Spec.Name, Labels: s.Spec.Labels, ValueVersion: s.ValueVersion, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
		if s.Spec.Driver != nil {
			m.Driver = s.Spec.Driver.Name
		}
		return m
	},
	driverColumn: true,
	prettyBefore: func(out io.Writer, s *types.Secret) {
		if s.Spec.Driver != nil {
			fmt.Fprintf(out, "Driver:          %s\n", s.Spec.Driver.Name)
			for _, k := range sortedKeys(s.Spec.Driver.Options) {
				fmt.Fprintf(out, " - %s=%s\n", k, s.Spec.Driver.Options[k])
			}
		}
	},
}

func (c *cli) secretLsCommand() *cobra.Command {
	return secrets.lsCommand(c, `List the secrets of the cluster, without their values.`, `  hive secret ls
  hive secret ls -q
  hive secret ls --format json`)
}

func (c *cli) secretInspectCommand() *cobra.Command {
	return secrets.inspectCommand(c, &cobra.Command{
		Use:   "inspect [flags] SECRET [SECRET...]",
		Short: "Show the details of one or more secrets (never their values)",
		Long: `Show the details of secrets: a JSON array by default, or a summary with
--pretty. The value is never shown: no command can read it back. A secret is
named by its name, ID or a unique prefix of its ID.`,
		Example: `  hive secret inspect db_password
  hive secret inspect --pretty db_password tls_key`,
	}, "print a summary for people instead of JSON")
}

func (c *cli) secretRmCommand() *cobra.Command {
	return secrets.rmCommand(c, `Remove secrets. A secret that services use is not removed: the error names
them; take it from them first with 'hive service update --secret-rm NAME
SERVICE'. Each removed secret is printed as given.`, `  hive secret rm db_password
  hive secret rm $(hive secret ls -q)`)
}

func (c *cli) secretUpdateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "update SECRET FILE|-",
		Short: "Rotate a secret: store a new value and roll the services that use it",
		Long: `Store the content of FILE (or standard input, with -) as the secret's new value.
Every service that uses the secret then goes through its rolling update (its
--update-* policy), so that its new tasks get the new value; follow it with
'hive service ps'. A value equal to the one the secret holds changes nothing:
no new version, no service rolled. A secret held by a driver takes no FILE:
the command then only rolls the services, which read the driver's current
value.`,
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
			before, err := cl.GetSecret(cmd.Context(), args[0])
			if err != nil {
				clear(value)
				return err
			}
			sec, err := cl.UpdateSecret(cmd.Context(), before.ID, types.NewSecretValue(value))
			clear(value)
			if err != nil {
				return err
			}
			printNewVersion(cmd.OutOrStdout(), sec.Spec.Name, before.ValueVersion, sec.ValueVersion)
			return nil
		},
	}
	return cmd
}

// printNewVersion reports a secret's or config's update: its new value
// version, or that it already held the value given.
func printNewVersion(w io.Writer, name string, before, after uint64) {
	if after == before {
		fmt.Fprintf(w, "%s unchanged: it holds this value already (value version %d, no service rolled)\n", name, after)
		return
	}
	fmt.Fprintf(w, "%s (value version %d)\n", name, after)
}
