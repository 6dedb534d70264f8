package commands

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hiveorch/hive/core/api"
)

func (c *cli) infoCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Show the node you are talking to and the cluster it belongs to",
		Long: `Show the node the CLI is talking to (its ID, role, data directory, plugins)
and a summary of the cluster: whether this node leads it, how many managers,
nodes, services and tasks it has.`,
		Example: `  hive info
  hive info --format json | jq .leader_id`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, formatTable, formatJSON); err != nil {
				return err
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			info, err := cl.Info(cmd.Context())
			if err != nil {
				return err
			}
			if format == formatJSON {
				return writeJSON(cmd.OutOrStdout(), info)
			}
			return renderInfo(cmd.OutOrStdout(), info, c.now())
		},
	}
	addFormatFlag(cmd, &format, formatTable)
	return cmd
}

// renderInfo prints info as "Key: value" lines.
func renderInfo(w io.Writer, info *api.Info, now time.Time) error {
	leader := "yes"
	if !info.Leader {
		leader = "no"
		if info.LeaderID != "" {
			leader += " (leader: " + info.LeaderID + ")"
		} else {
			leader += " (no leader elected)"
		}
	}
	started := ""
	if !info.StartedAt.IsZero() {
		started = info.StartedAt.Local().Format(time.RFC3339) + " (" + ago(now, info.StartedAt) + ")"
	}
	rows := [][2]string{
		{"Node ID", info.NodeID},
		{"Hostname", info.Hostname},
		{"Role", info.Role},
		{"Leader", leader},
		{"Cluster ID", info.ClusterID},
		{"Version", info.Version},
		{"Endpoint", info.Endpoint},
		{"Data dir", info.DataDir},
		{"Runtime", info.Runtime},
		{"Scheduler", info.Scheduler},
		{"Managers", fmt.Sprint(info.Managers)},
		{"Nodes", fmt.Sprint(info.Nodes)},
		{"Services", fmt.Sprint(info.Services)},
		{"Tasks", fmt.Sprintf("%d (%d running)", info.Tasks, info.TasksRunning)},
		{"Raft index", fmt.Sprint(info.RaftIndex)},
		{"Started", started},
	}
	if info.Role == "manager" {
		lock := "off"
		switch {
		case info.Locked:
			lock = "on: this manager is LOCKED; run 'hive unlock'"
		case info.Autolock:
			lock = "on"
		}
		rows = append(rows, [2]string{"Autolock", lock})
		rows = append(rows, [2]string{"Docker API", dockerAPIRow(info)})
	}
	if info.MetricsURL != "" {
		rows = append(rows, [2]string{"Metrics", info.MetricsURL})
	}
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%-12s %s\n", r[0]+":", r[1])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// dockerAPIRow is the Docker API row of hive info: the socket and the TCP
// address the manager serves it on, and how to point the docker CLI there.
func dockerAPIRow(info *api.Info) string {
	var parts []string
	if info.DockerAPI != "" {
		parts = append(parts, info.DockerAPI+" (eval $(hive docker-env) points the docker CLI at it)")
	}
	if info.DockerAPITCP != "" {
		parts = append(parts, info.DockerAPITCP+" with TLS (eval $(hive docker-env --tcp))")
	}
	if len(parts) == 0 {
		return "off (docker_api.socket and docker_api.listen are empty)"
	}
	return strings.Join(parts, "; ")
}
