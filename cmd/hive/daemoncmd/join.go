package daemoncmd

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hiveorch/hive/core/daemon"
	"github.com/hiveorch/hive/core/join"
	"github.com/hiveorch/hive/core/types"
)

func joinCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "join --token TOKEN [flags] MANAGER_ADDR:PORT",
		Short: "Join this host to a cluster as a worker or a manager, then run it",
		Long: `Join this host to the cluster whose manager listens at MANAGER_ADDR:PORT, with a
token printed by 'hive join-token worker' or 'hive join-token manager' on a manager.

The token carries the digest of the cluster's CA: hive checks the manager's
certificate against it before it sends anything, then obtains this node's
certificate, records the node in --data-dir and runs it like 'hive up' (in the
foreground, or in the background with -d). A manager token makes the node a
Raft voter. Later, 'hive up --data-dir DIR' resumes the node in its role.`,
		Example: `  hive join --token HIVE-1-8598…-k3x9… 10.0.0.5:4242
  hive join -d --token $(ssh manager hive join-token worker -q) --listen-addr 10.0.0.6:4242 10.0.0.5:4242`,
		Args: cobra.ExactArgs(1),
		RunE: runJoin,
	}
	addDaemonFlags(c.Flags())
	c.Flags().String("token", "", "join token (required): 'hive join-token worker|manager -q' on a manager prints it")
	c.Flags().String("role", "", "role to join as: worker or manager (default: the role the token grants)")
	c.Flags().BoolP("detach", "d", false, "run in the background once joined, and return when the API answers")
	return c
}

func runJoin(cmd *cobra.Command, args []string) error {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	token, _ := cmd.Flags().GetString("token")
	role, _ := cmd.Flags().GetString("role")
	switch {
	case strings.TrimSpace(token) == "":
		return fmt.Errorf("--token is required: run 'hive join-token worker' (or manager) on a manager to get one")
	case role != "" && role != string(types.RoleWorker) && role != string(types.RoleManager):
		return fmt.Errorf("invalid --role %q: use worker or manager", role)
	case daemon.Initialized(cfg.DataDir):
		return fmt.Errorf("data directory %s already holds a node: resume it with 'hive up --data-dir %s', or join with an empty --data-dir", cfg.DataDir, cfg.DataDir)
	}
	advertise, err := daemon.AdvertiseAddr(cfg.AdvertiseAddr, cfg.ListenAddr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
	defer cancel()
	res, err := join.Join(ctx, args[0], token, join.Options{Addr: advertise, Role: types.NodeRole(role)})
	if err != nil {
		return err
	}
	if err := daemon.InitJoined(cfg.DataDir, res.NodeID, res.Role, res.Managers); err != nil {
		return err
	}
	if err := join.Save(daemon.CertDir(cfg.DataDir), res); err != nil {
		os.Remove(daemon.StatePath(cfg.DataDir))
		return err
	}
	if err := daemon.InitKeys(cfg.DataDir, res.DataKey); err != nil {
		os.Remove(daemon.StatePath(cfg.DataDir))
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "This node joined the cluster as a %s (node %s).\n", res.Role, res.NodeID)
	if detach, _ := cmd.Flags().GetBool("detach"); detach {
		return startDetached(cmd, cfg, upArgs(cmd))
	}
	return runDaemon(cmd, cfg, nil)
}

// upArgs is the `hive up` command line that runs the joined node with the
// settings given to `hive join`.
func upArgs(cmd *cobra.Command) []string {
	args := []string{"up"}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		switch f.Name {
		case "detach", "token", "role":
			return
		}
		args = append(args, "--"+f.Name+"="+f.Value.String())
	})
	return args
}
