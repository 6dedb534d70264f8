package commands

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/types"
)

// maxErrLength is where service ps cuts a task's error, as docker does.
const maxErrLength = 30

func (c *cli) servicePsCommand() *cobra.Command {
	var (
		format  string
		quiet   bool
		noTrunc bool
		filters []string
	)
	cmd := &cobra.Command{
		Use:   "ps [flags] SERVICE [SERVICE...]",
		Short: "List the tasks of one or more services",
		Long: `List the tasks of services: the running ones and, below each, the older tasks
of the same slot (shown as \_ web.1) that they replaced. NODE is the
hostname of the node the task was placed on. IDs and errors are shortened
unless --no-trunc is given.`,
		Example: `  hive service ps web
  hive service ps --filter desired-state=running web api
  hive service ps -q web
  hive service ps --no-trunc --format json web`,
		Args: minArgs(1, "one service"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, formatTable, formatJSON); err != nil {
				return err
			}
			desired, err := parsePsFilters(filters)
			if err != nil {
				return err
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var (
				tasks []*types.Task
				errs  []error
			)
			for _, ref := range args {
				svc, err := cl.GetService(ctx, ref)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				ts, err := cl.ListTasks(ctx, api.TaskFilter{Service: svc.ID, DesiredState: desired})
				if err != nil {
					return err
				}
				tasks = append(tasks, ts...)
			}
			sortTasks(tasks)
			out := cmd.OutOrStdout()
			switch {
			case format == formatJSON:
				if tasks == nil {
					tasks = []*types.Task{}
				}
				if err := writeJSON(out, tasks); err != nil {
					return err
				}
			case quiet:
				for _, t := range tasks {
					fmt.Fprintln(out, maybeTrunc(t.ID, !noTrunc))
				}
			default:
				nodes, err := cl.ListNodes(ctx)
				if err != nil {
					return err
				}
				hostnames := map[string]string{}
				for _, n := range nodes {
					hostnames[n.ID] = n.Description.Hostname
				}
				if err := renderTasks(out, tasks, hostnames, !noTrunc, c.now()); err != nil {
					return err
				}
			}
			return errorOf(errs)
		},
	}
	addFormatFlag(cmd, &format, formatTable)
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only print task IDs")
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not shorten IDs and errors")
	cmd.Flags().StringArrayVarP(&filters, "filter", "f", nil, "only show tasks that match `FILTER`: desired-state=running|shutdown|accepted")
	return cmd
}

// parsePsFilters reads --filter values; desired-state is the one filter.
func parsePsFilters(filters []string) (string, error) {
	desired := ""
	for _, f := range filters {
		key, value, ok := strings.Cut(f, "=")
		if !ok || key != "desired-state" {
			return "", fmt.Errorf("invalid --filter %q: want desired-state=running, desired-state=shutdown or desired-state=accepted", f)
		}
		switch value {
		case api.DesiredRunning, api.DesiredShutdown, api.DesiredAccepted:
		default:
			return "", fmt.Errorf("invalid --filter %q: desired-state is running, shutdown or accepted", f)
		}
		if desired != "" && desired != value {
			return "", fmt.Errorf("invalid --filter %q: only one desired-state can be given", f)
		}
		desired = value
	}
	return desired, nil
}

// sortTasks orders tasks by service, slot (or node), then newest first,
// so the tasks of a slot sit together under the current one.
func sortTasks(tasks []*types.Task) {
	sort.SliceStable(tasks, func(i, j int) bool {
		a, b := tasks[i], tasks[j]
		if a.ServiceName != b.ServiceName {
			return a.ServiceName < b.ServiceName
		}
		if a.ServiceID != b.ServiceID {
			return a.ServiceID < b.ServiceID
		}
		if a.Slot != b.Slot {
			return a.Slot < b.Slot
		}
		if a.Slot == 0 && a.NodeID != b.NodeID {
			return a.NodeID < b.NodeID
		}
		return newer(a, b)
	})
}

func maybeTrunc(id string, trunc bool) string {
	if trunc {
		return truncID(id)
	}
	return id
}

// renderTasks prints the service ps table. tasks must be sorted by
// sortTasks; a task with the same name as the row above is an older task
// of that slot and is shown as " \_ name".
func renderTasks(w io.Writer, tasks []*types.Task, hostnames map[string]string, trunc bool, now time.Time) error {
	t := newTable(w, "ID", "NAME", "IMAGE", "NODE", "DESIRED STATE", "CURRENT STATE", "ERROR", "PORTS")
	prev := ""
	for _, task := range tasks {
		name := task.Name()
		key := task.ServiceID + "/" + name
		if key == prev {
			name = ` \_ ` + name
		}
		prev = key
		image := task.Spec.Container.Image
		if trunc {
			image = imageName(image)
		}
		node := hostnames[task.NodeID]
		if node == "" {
			node = maybeTrunc(task.NodeID, trunc)
		}
		stamp := task.Status.Timestamp
		if stamp.IsZero() {
			stamp = task.UpdatedAt
		}
		current := capitalize(task.Status.State.String())
		if a := ago(now, stamp); a != "" {
			current += " " + a
		}
		t.row(maybeTrunc(task.ID, trunc), name, image, node, capitalize(task.DesiredState.String()),
			current, taskError(task.Status.Err, trunc), taskPorts(task.Ports))
	}
	return t.flush()
}

// taskError quotes a task's error, cut to maxErrLength unless trunc is
// false, as docker does: "no suitable node (1 node…".
func taskError(err string, trunc bool) string {
	if err == "" {
		return ""
	}
	if trunc {
		err = cutText(err, maxErrLength)
	}
	return `"` + err + `"`
}

// cutText cuts s to n characters, the last one an ellipsis, when it is
// longer.
func cutText(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
