package commands

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

func (c *cli) dockerEnvCommand() *cobra.Command {
	var unset bool
	cmd := &cobra.Command{
		Use:   "docker-env",
		Short: "Print the shell commands that point the docker CLI at this manager",
		Long: `Print the commands that set DOCKER_HOST to the Docker-compatible API the
manager serves (docker_api.socket, by default DATA_DIR/docker.sock), so that
'docker service', 'docker node', 'docker stack deploy' and other Docker clients
drive hive. Run them in your shell with eval. --unset prints the commands that
undo them. See docs/docker-api.md for what the API serves.`,
		Example: `  eval "$(hive docker-env)"
  docker service ls
  eval "$(hive docker-env --unset)"`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if unset {
				fmt.Fprintln(out, "unset DOCKER_HOST")
				return nil
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			info, err := cl.Info(cmd.Context())
			if err != nil {
				return err
			}
			if info.DockerAPI == "" {
				if info.Role != "manager" {
					return fmt.Errorf("node %s is a worker: only managers serve the Docker API; point the CLI at a manager (-H) and run it again", info.NodeID)
				}
				return errors.New("this manager serves no Docker API: docker_api.socket is empty; set it (or leave it unset for DATA_DIR/docker.sock) and restart hive")
			}
			fmt.Fprintf(out, "export DOCKER_HOST=%s\n# Run this command to configure your shell:\n# eval \"$(hive docker-env)\"\n", info.DockerAPI)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&unset, "unset", "u", false, "print the commands that unset DOCKER_HOST")
	return cmd
}
