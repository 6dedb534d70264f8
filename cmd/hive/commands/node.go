package commands

import (
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"

	"github.com/hiveorch/hive/core/types"
)

func (c *cli) nodeCommand() *cobra.Command {
	return groupCommand("node", "Manage the nodes of the cluster",
		"  hive node ls\n  hive node inspect self\n  hive node update --availability drain worker-2",
		append([]*cobra.Command{c.nodeLsCommand(), c.nodeInspectCommand()}, c.nodeManageCommands()...)...)
}

func (c *cli) nodeLsCommand() *cobra.Command {
	var (
		format  string
		quiet   bool
		noTrunc bool
	)
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the nodes of the cluster",
		Long: `List the nodes of the cluster. The node the CLI is talking to is marked
with * after its ID. MANAGER STATUS is Leader, Reachable or Unreachable for
managers and empty for workers. MESSAGE says why a node is not Ready (it
stopped answering, say), cut short unless --no-trunc is given.`,
		Example: `  hive node ls
  hive node ls -q
  hive node ls --no-trunc
  hive node ls --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, formatTable, formatJSON); err != nil {
				return err
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			nodes, err := cl.ListNodes(cmd.Context())
			if err != nil {
				return err
			}
			sortNodes(nodes)
			out := cmd.OutOrStdout()
			switch {
			case format == formatJSON:
				return writeJSON(out, nodes)
			case quiet:
				for _, n := range nodes {
					fmt.Fprintln(out, n.ID)
				}
				return nil
			}
			info, err := cl.Info(cmd.Context())
			if err != nil {
				return err
			}
			return renderNodes(out, nodes, info.NodeID, !noTrunc)
		},
	}
	addFormatFlag(cmd, &format, formatTable)
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only print node IDs")
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not shorten messages")
	return cmd
}

func sortNodes(nodes []*types.Node) {
	sort.SliceStable(nodes, func(i, j int) bool {
		a, b := nodes[i], nodes[j]
		if a.Description.Hostname != b.Description.Hostname {
			return a.Description.Hostname < b.Description.Hostname
		}
		return a.ID < b.ID
	})
}

// maxNodeMessageLength is where node ls cuts a node's message unless
// --no-trunc is given.
const maxNodeMessageLength = 60

// renderNodes prints the node ls table; selfID's row gets a * after the
// ID, and trunc cuts the messages.
func renderNodes(w io.Writer, nodes []*types.Node, selfID string, trunc bool) error {
	t := newTable(w, "ID", "HOSTNAME", "STATUS", "AVAILABILITY", "MANAGER STATUS", "RUNTIME", "MESSAGE")
	for _, n := range nodes {
		id := n.ID
		if n.ID == selfID {
			id += " *"
		}
		msg := ""
		if n.Status.State != types.NodeStateReady {
			msg = n.Status.Message
		}
		if trunc {
			msg = cutText(msg, maxNodeMessageLength)
		}
		t.row(id, n.Description.Hostname, capitalize(string(n.Status.State)),
			capitalize(string(n.Spec.Availability)), managerStatus(n), runtimeName(n.Description.Runtime), msg)
	}
	return t.flush()
}

// managerStatus is the MANAGER STATUS column: Leader, Reachable or
// Unreachable for a manager, empty for a worker.
func managerStatus(n *types.Node) string {
	ms := n.ManagerStatus
	if ms == nil {
		return ""
	}
	if ms.Leader {
		return "Leader"
	}
	return capitalize(ms.Reachability)
}

func runtimeName(p types.Plugin) string {
	if p.Version == "" {
		return p.Name
	}
	return p.Name + " " + p.Version
}

func (c *cli) nodeInspectCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect NODE [NODE...]",
		Short: "Show the details of one or more nodes as JSON",
		Long: `Show the details of one or more nodes as a JSON array. A node is named by
its ID, a unique prefix of its ID, its hostname, or "self" for the node the
CLI is talking to.`,
		Example: `  hive node inspect self
  hive node inspect laptop worker-2`,
		Args: minArgs(1, "one node"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, formatJSON); err != nil {
				return err
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			nodes := []*types.Node{}
			var errs []error
			for _, ref := range args {
				n, err := cl.GetNode(cmd.Context(), ref)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				nodes = append(nodes, n)
			}
			if err := writeJSON(cmd.OutOrStdout(), nodes); err != nil {
				return err
			}
			return errorOf(errs)
		},
	}
	addFormatFlag(cmd, &format, formatJSON)
	return cmd
}
