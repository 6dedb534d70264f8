package commands

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/spf13/cobra"

	"github.com/hiveorch/hive/core/api/client"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

// nodeManageCommands are the commands that change nodes.
func (c *cli) nodeManageCommands() []*cobra.Command {
	return []*cobra.Command{c.nodeUpdateCommand(), c.nodeRoleCommand("promote", types.RoleManager),
		c.nodeRoleCommand("demote", types.RoleWorker), c.nodeRmCommand()}
}

// changeNode reads a node, applies change to a copy of its spec and writes
// it back with the version read, once more on a conflict.
func changeNode(ctx context.Context, cl *client.Client, ref string, change func(*types.NodeSpec) error) (*types.Node, error) {
	for attempt := 0; ; attempt++ {
		n, err := cl.GetNode(ctx, ref)
		if err != nil {
			return nil, err
		}
		spec := n.Spec
		spec.Labels = maps.Clone(n.Spec.Labels)
		if err := change(&spec); err != nil {
			return nil, err
		}
		out, err := cl.UpdateNode(ctx, n.ID, n.Version, spec)
		if err != nil && errors.Is(err, errdefs.ErrVersionConflict) && attempt == 0 {
			continue
		}
		return out, err
	}
}

func (c *cli) nodeUpdateCommand() *cobra.Command {
	var (
		availability string
		labelAdd     []string
		labelRm      []string
		role         string
	)
	cmd := &cobra.Command{
		Use:   "update [flags] NODE",
		Short: "Change a node's availability, labels or role",
		Long: `Change what the cluster does with a node. --availability active takes new tasks,
pause keeps what runs but takes nothing new, drain moves every task away (each
replacement runs before the task it replaces stops) and leaves the node empty.
Labels are what placement constraints such as node.labels.zone==east match.
--role promotes a worker to manager or demotes a manager (see 'hive node
promote' and 'hive node demote').`,
		Example: `  hive node update --availability drain worker-2
  hive node update --label-add zone=east --label-add ssd=true worker-2
  hive node update --label-rm ssd worker-2`,
		Args: exactArgs(1, "NODE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("availability") && len(labelAdd) == 0 && len(labelRm) == 0 && !cmd.Flags().Changed("role") {
				return usageErrorf(cmd, "nothing to change: give --availability, --label-add, --label-rm or --role")
			}
			adds := map[string]string{}
			for _, l := range labelAdd {
				k, v, err := parseLabel("--label-add", l)
				if err != nil {
					return usageErrorf(cmd, "invalid --label-add %q: %v", l, err)
				}
				adds[k] = v
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			n, err := changeNode(cmd.Context(), cl, args[0], func(s *types.NodeSpec) error {
				if cmd.Flags().Changed("availability") {
					s.Availability = types.Availability(availability)
				}
				if cmd.Flags().Changed("role") {
					s.Role = types.NodeRole(role)
				}
				if s.Labels == nil && len(adds) > 0 {
					s.Labels = map[string]string{}
				}
				maps.Copy(s.Labels, adds)
				for _, k := range labelRm {
					if _, ok := s.Labels[k]; !ok {
						return fmt.Errorf("%w: node %s has no label %q to remove", errdefs.ErrInvalidArgument, args[0], k)
					}
					delete(s.Labels, k)
				}
				return nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), n.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&availability, "availability", "", "active, pause or drain")
	f.StringArrayVar(&labelAdd, "label-add", nil, "add or change a node label `KEY=VALUE` (repeatable)")
	f.StringArrayVar(&labelRm, "label-rm", nil, "remove a node label `KEY` (repeatable)")
	f.StringVar(&role, "role", "", "manager or worker")
	return cmd
}

func (c *cli) nodeRoleCommand(verb string, role types.NodeRole) *cobra.Command {
	short := "Promote workers to managers"
	long := `Make nodes managers: each renews its certificate, starts a Raft member and
joins the Raft group once it has caught up. Use an odd number of managers (3
or 5): a cluster keeps working while a majority of them is up.`
	if role == types.RoleWorker {
		short = "Demote managers to workers"
		long = `Make managers workers: each leaves the Raft group and renews its certificate
as a worker. hive refuses to demote the last manager, or one whose leaving
would leave fewer reachable managers than a majority of the rest.`
	}
	return &cobra.Command{
		Use:     verb + " NODE...",
		Short:   short,
		Long:    long,
		Example: fmt.Sprintf("  hive node %s worker-1 worker-2", verb),
		Args:    minArgs(1, "NODE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.api()
			if err != nil {
				return err
			}
			var errs []error
			for _, ref := range args {
				n, err := changeNode(cmd.Context(), cl, ref, func(s *types.NodeSpec) error {
					s.Role = role
					return nil
				})
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if role == types.RoleManager {
					fmt.Fprintf(cmd.OutOrStdout(), "Node %s promoted to a manager in the cluster.\n", n.ID)
				} else {
					fmt.Fprintf(cmd.OutOrStdout(), "Manager %s demoted in the cluster.\n", n.ID)
				}
			}
			return errorOf(errs)
		},
	}
}

func (c *cli) nodeRmCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [--force] NODE...",
		Aliases: []string{"remove"},
		Short:   "Remove nodes from the cluster",
		Long: `Remove nodes from the cluster. A node must be down (stopped, or after 'hive
leave' on it) unless --force is given; a manager must be demoted first. The
tasks of a removed node are replaced on the other nodes.`,
		Example: `  hive node rm worker-3
  hive node rm --force worker-3`,
		Args: minArgs(1, "NODE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.api()
			if err != nil {
				return err
			}
			var errs []error
			for _, ref := range args {
				if err := cl.RemoveNode(cmd.Context(), ref, force); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), ref)
			}
			return errorOf(errs)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "remove a node that is still up")
	return cmd
}

func (c *cli) clusterStatusCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the managers' Raft group: members, leader, term, applied index",
		Long: `Show the Raft group as the manager you talk to sees it: each member's address,
whether it votes, leads and is reachable; the term; and the last, committed and
applied log indexes.`,
		Example: `  hive cluster status
  hive cluster status --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, formatTable, formatJSON); err != nil {
				return err
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			st, err := cl.ClusterStatus(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if format == formatJSON {
				return writeJSON(out, st)
			}
			fmt.Fprintf(out, "Cluster ID:     %s\nThis manager:   %s (%s)\nLeader:         %s %s\nTerm:           %d\nLast index:     %d\nCommit index:   %d\nApplied index:  %d\n\n",
				st.ClusterID, st.NodeID, st.State, st.LeaderID, st.LeaderAddr, st.Term, st.LastIndex, st.CommitIndex, st.AppliedIndex)
			t := newTable(out, "ID", "HOSTNAME", "ADDRESS", "VOTER", "LEADER", "REACHABLE")
			for _, m := range st.Members {
				t.row(m.ID, m.Hostname, m.Addr, yesNo(m.Voter), yesNo(m.Leader), yesNo(m.Reachable))
			}
			return t.flush()
		},
	}
	addFormatFlag(cmd, &format, formatTable)
	return cmd
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (c *cli) leaveCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "leave [--force]",
		Short: "Make the node you talk to leave its cluster",
		Long: `Make the node the CLI talks to (normally this host's, through its local socket)
leave its cluster: its task containers are removed, its certificates and
cluster state deleted, and the daemon stops. The managers see it go down and
replace its tasks; 'hive node rm' on a manager forgets it. A manager needs
--force (better: demote it first); the last manager leaving ends the cluster.`,
		Example: `  hive leave
  hive leave --force`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.api()
			if err != nil {
				return err
			}
			if err := cl.Leave(cmd.Context(), force); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Node left the cluster.")
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "leave even though this node is a manager")
	return cmd
}
