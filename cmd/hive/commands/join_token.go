package commands

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/types"
)

func (c *cli) joinTokenCommand() *cobra.Command {
	var quiet, rotate bool
	cmd := &cobra.Command{
		Use:   "join-token (worker|manager)",
		Short: "Print the command that adds a worker or a manager to the cluster",
		Long: `Print the command to run on a new host to add it to the cluster as a worker or
a manager: 'hive join --token TOKEN ADDR:PORT', where ADDR:PORT is the cluster
port of the manager you are talking to. A token reads
HIVE-1-<CA digest>-<secret>: the joining host checks the manager's CA against
the digest before it sends anything, and the secret admits it.

Anyone holding a token can add a node, so keep tokens secret. --rotate
replaces the token of that role: the old one stops working at once, and
nodes already in the cluster are not affected. Needs a manager.`,
		Example: `  hive join-token worker
  hive join-token -q manager
  hive join-token --rotate worker`,
		Args: exactArgs(1, "a role (worker or manager)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			role := types.NodeRole(args[0])
			if role != types.RoleWorker && role != types.RoleManager {
				return usageErrorf(cmd, "invalid role %q: want worker or manager", args[0])
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			var tokens *api.JoinTokens
			if rotate {
				tokens, err = cl.RotateJoinToken(cmd.Context(), role)
			} else {
				tokens, err = cl.JoinTokens(cmd.Context())
			}
			if err != nil {
				return err
			}
			token := tokens.Worker
			if role == types.RoleManager {
				token = tokens.Manager
			}
			out := cmd.OutOrStdout()
			if quiet {
				_, err := fmt.Fprintln(out, token)
				return err
			}
			if rotate {
				fmt.Fprintf(out, "Successfully rotated %s join token.\n\n", role)
			}
			return printJoinCommand(out, role, token, tokens.Addr)
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only print the token")
	cmd.Flags().BoolVar(&rotate, "rotate", false, "replace the token with a new one; the old one stops working")
	return cmd
}

// printJoinCommand prints the join command as `docker swarm join-token`
// does.
func printJoinCommand(w io.Writer, role types.NodeRole, token, addr string) error {
	if addr == "" {
		addr = "MANAGER-ADDR:PORT"
	}
	_, err := fmt.Fprintf(w, "To add a %s to this cluster, run the following command:\n\n    hive join --token %s %s\n\n", role, token, addr)
	return err
}
