package commands

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hiveorch/hive/core/api"
)

// parseTail reads --tail: a number of lines, or "all" (-1).
func parseTail(value string) (int, error) {
	if value == "all" || value == "" {
		return -1, nil
	}
	n, err := strconv.Atoi(value)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid --tail %q: want a number of lines, or all", value)
	}
	return n, nil
}

// parseSince reads --since: a duration back from now ("10m", "1h30m"), an
// RFC 3339 time, a date, or Unix seconds.
func parseSince(value string, now time.Time) (time.Time, error) {
	if value == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(value); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("invalid --since %q: a duration counts back from now, so it cannot be negative", value)
		}
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, value, time.Local); err == nil {
			return t, nil
		}
	}
	if secs, err := strconv.ParseInt(value, 10, 64); err == nil && secs >= 0 {
		return time.Unix(secs, 0), nil
	}
	return time.Time{}, fmt.Errorf("invalid --since %q: want a duration such as 10m or 1h30m, or a time such as 2024-05-01T10:00:00Z", value)
}

// logWriter prefixes each log line with its task and node, padded so the
// lines of a service line up.
type logWriter struct {
	stdout, stderr io.Writer
	noTaskIDs      bool
	trunc          bool
	timestamps     bool
	width          int
}

// context is the "web.2.<task id>@node" part of a line's prefix.
func (w *logWriter) context(l api.LogLine) string {
	name := l.TaskName
	if !w.noTaskIDs {
		name += "." + maybeTrunc(l.TaskID, w.trunc)
	}
	host := l.NodeHostname
	if host == "" {
		host = maybeTrunc(l.NodeID, w.trunc)
	}
	return name + "@" + host
}

func (w *logWriter) write(l api.LogLine) error {
	ctx := w.context(l)
	w.width = max(w.width, len(ctx))
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s    | ", w.width, ctx)
	if w.timestamps && !l.Time.IsZero() {
		b.WriteString(l.Time.Format(time.RFC3339Nano) + " ")
	}
	b.WriteString(l.Line)
	b.WriteByte('\n')
	out := w.stdout
	if l.Stream == "stderr" {
		out = w.stderr
	}
	_, err := io.WriteString(out, b.String())
	return err
}

func (c *cli) serviceLogsCommand() *cobra.Command {
	var (
		follow, timestamps, noTaskIDs, noTrunc bool
		tail, since                            string
	)
	cmd := &cobra.Command{
		Use:   "logs [flags] SERVICE",
		Short: "Show the logs of a service's tasks",
		Long: `Show what the tasks of a service wrote to stdout and stderr. Each line is
prefixed with the task and the node it runs on, as web.2.<task id>@<node>;
lines a task wrote to stderr go to stderr.`,
		Example: `  hive service logs web
  hive service logs -f --tail 20 web
  hive service logs --since 10m -t --no-task-ids web`,
		Args: exactArgs(1, "one SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := parseTail(tail)
			if err != nil {
				return err
			}
			from, err := parseSince(since, c.now())
			if err != nil {
				return err
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			w := &logWriter{stdout: cmd.OutOrStdout(), stderr: cmd.ErrOrStderr(), noTaskIDs: noTaskIDs, trunc: !noTrunc, timestamps: timestamps}
			if err := c.presizeLogPrefix(cmd, w, args[0]); err != nil {
				return err
			}
			opts := api.LogOptions{Follow: follow, Tail: n, Since: from, Timestamps: timestamps}
			err = cl.ServiceLogs(ctx, args[0], opts, w.write)
			if err != nil && follow && ctx.Err() != nil {
				return nil // interrupted while following: the normal way out
			}
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "keep printing new lines as they are written")
	f.StringVarP(&tail, "tail", "n", "all", "print only the last `N` lines of each task, or all")
	f.StringVar(&since, "since", "", "print lines written since `TIME` (2024-05-01T10:00:00Z) or for a duration back (10m)")
	f.BoolVarP(&timestamps, "timestamps", "t", false, "print each line's time before it")
	f.BoolVar(&noTaskIDs, "no-task-ids", false, "leave task IDs out of the prefix")
	f.BoolVar(&noTrunc, "no-trunc", false, "print full task IDs")
	return cmd
}

// presizeLogPrefix sets the prefix width from the service's current tasks,
// so that lines line up from the first one.
func (c *cli) presizeLogPrefix(cmd *cobra.Command, w *logWriter, ref string) error {
	cl, err := c.api()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	svc, err := cl.GetService(ctx, ref)
	if err != nil {
		return err
	}
	tasks, err := cl.ListTasks(ctx, api.TaskFilter{Service: svc.ID})
	if err != nil {
		return err
	}
	nodes, err := cl.ListNodes(ctx)
	if err != nil {
		return err
	}
	hostnames := map[string]string{}
	for _, n := range nodes {
		hostnames[n.ID] = n.Description.Hostname
	}
	for _, t := range tasks {
		l := api.LogLine{TaskID: t.ID, TaskName: t.Name(), NodeID: t.NodeID, NodeHostname: hostnames[t.NodeID]}
		w.width = max(w.width, len(w.context(l)))
	}
	return nil
}
