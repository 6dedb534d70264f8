package commands

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/hiveorch/hive/core/api"
)

func (c *cli) unlockCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "unlock",
		Short: "Unlock a manager that restarted with autolock on",
		Long: `Give a locked manager the cluster's unlock key. With autolock on, a manager
that restarts keeps its keys sealed by the unlock key and serves nothing but
'hive info' and this command until it gets it. The key is read from standard
input (a prompt when it is a terminal), never from the command line, so that
it stays out of shell history. A wrong key leaves the manager locked.`,
		Example: `  hive unlock
  hive unlock < ./unlock-key.txt
  hive -H unix:///tmp/m2/hive.sock unlock`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := c.readUnlockKey(cmd)
			if err != nil {
				return err
			}
			if key == "" {
				return usageErrorf(cmd, "no unlock key on standard input: type it, or pipe it in (it starts with HIVEKEY-1-)")
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			if err := cl.Unlock(cmd.Context(), key); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "The manager is unlocked.")
			return nil
		},
	}
}

// readUnlockKey reads the unlock key from standard input: at a prompt,
// without echo, when it is a terminal.
func (c *cli) readUnlockKey(cmd *cobra.Command) (string, error) {
	in := cmd.InOrStdin()
	if f, ok := in.(*os.File); ok && c.isTerminal(f) && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(cmd.ErrOrStderr(), "Enter the unlock key: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(cmd.ErrOrStderr())
		if err != nil {
			return "", fmt.Errorf("read the unlock key: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	line, err := bufio.NewReader(io.LimitReader(in, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read the unlock key: %w", err)
	}
	return strings.TrimSpace(line), nil
}

// printUnlockKey shows an unlock key with what it is for, or only the key
// with quiet.
func printUnlockKey(w io.Writer, k *api.UnlockKey, quiet bool) {
	if quiet {
		fmt.Fprintln(w, k.Key)
		return
	}
	fmt.Fprintf(w, `To unlock a manager after it restarts, run 'hive unlock' on it
and give this key:

    %s

Keep it in a password manager: without it a restarted manager stays locked,
and hive does not show it again unless asked with 'hive unlock-key'.
`, k.Key)
}

func (c *cli) unlockKeyCommand() *cobra.Command {
	var quiet, rotate bool
	cmd := &cobra.Command{
		Use:   "unlock-key [-q] [--rotate]",
		Short: "Show or rotate the cluster's unlock key (autolock)",
		Long: `Show the key that unlocks a restarted manager when autolock is on. With
--rotate, replace it first: every running manager rewraps its keys with the
new key; one that is down meanwhile still opens with the old key once, then
rewraps. Keep the old key until every manager has run with the new one.`,
		Example: `  hive unlock-key
  hive unlock-key -q
  hive unlock-key --rotate`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.api()
			if err != nil {
				return err
			}
			var k *api.UnlockKey
			if rotate {
				k, err = cl.RotateUnlockKey(cmd.Context())
			} else {
				k, err = cl.UnlockKey(cmd.Context())
			}
			if err != nil {
				return err
			}
			if rotate && !quiet {
				fmt.Fprintln(cmd.OutOrStdout(), "The unlock key was rotated.")
			}
			printUnlockKey(cmd.OutOrStdout(), k, quiet)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the key")
	cmd.Flags().BoolVar(&rotate, "rotate", false, "replace the unlock key with a new one")
	return cmd
}

func (c *cli) clusterUpdateCommand() *cobra.Command {
	var autolock bool
	cmd := &cobra.Command{
		Use:   "update --autolock=true|false",
		Short: "Change cluster-wide settings: autolock",
		Long: `Change cluster-wide settings.

--autolock=true seals every manager's data-encryption key (which seals the
secrets) and the cluster CA key with an unlock key that only you hold: a
manager that restarts stays locked until 'hive unlock'. The key is printed
once; 'hive unlock-key' shows it again. --autolock=false puts a
key-encryption key back in each manager's data directory, so managers
restart unattended.`,
		Example: `  hive cluster update --autolock=true
  hive cluster update --autolock=false`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !flagChanged(cmd.Flags(), "autolock") {
				return usageErrorf(cmd, "nothing to change: give --autolock=true or --autolock=false")
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			k, err := cl.SetAutolock(cmd.Context(), autolock)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch {
			case !autolock:
				fmt.Fprintln(out, "Autolock is off: managers restart without an unlock key.")
			case k.Key == "":
				fmt.Fprintln(out, "Autolock was already on; 'hive unlock-key' shows the key.")
			default:
				fmt.Fprintln(out, "Autolock is on.")
				printUnlockKey(out, k, false)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&autolock, "autolock", false, "lock restarted managers until 'hive unlock' gives the unlock key")
	return cmd
}
