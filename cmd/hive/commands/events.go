package commands

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/template"

	"github.com/spf13/cobra"

	"github.com/hiveorch/hive/core/events"
)

// eventsCommand is hive events: the cluster's event stream.
func (c *cli) eventsCommand() *cobra.Command {
	var since, until, format string
	var filters []string
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Stream cluster events (services, tasks, nodes, secrets, configs, networks, cluster)",
		Long: `Print the cluster's events as they happen, one a line, as docker events does.
With --since, first the events the manager kept (events.ring_size of them) from
that time on; with --until, stop after the last event before that time (at once
when it has passed). A time is RFC 3339 (2026-12-08T01:02:03Z), Unix seconds
(1765155723) or a duration ago (10m). --filter KEY=VALUE, KEY one of type,
service, node, event, task, name: the same key twice matches either value,
different keys must all match. --format json prints each event as the JSON
GET /v1/events sends; any other value is a Go template over that event
({{.Type}} {{.Action}} {{.Actor.ID}} {{index .Actor.Attributes "name"}}).`,
		Example: `  hive events
  hive events --since 10m --until 0s --filter type=task --filter service=web
  hive events --filter event=failed --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var q events.Query
			var err error
			now := c.now()
			if since != "" {
				if q.Since, err = events.ParseTime("--since", since, now, true); err != nil {
					return usageErrorf(cmd, "%v", err)
				}
			}
			if until != "" {
				if q.Until, err = events.ParseTime("--until", until, now, true); err != nil {
					return usageErrorf(cmd, "%v", err)
				}
			}
			if q.Filter, err = events.ParseFilter(filters); err != nil {
				return usageErrorf(cmd, "--filter: %v", err)
			}
			print, err := eventPrinter(cmd.OutOrStdout(), format)
			if err != nil {
				return usageErrorf(cmd, "%v", err)
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			return cl.Events(cmd.Context(), q, print)
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "show the kept events from this time on (RFC 3339, Unix seconds, or a duration ago such as 10m)")
	cmd.Flags().StringVar(&until, "until", "", "stop after the last event before this time (same forms as --since)")
	cmd.Flags().StringArrayVarP(&filters, "filter", "f", nil, "KEY=VALUE, KEY one of type, service, node, event, task, name (repeatable)")
	cmd.Flags().StringVar(&format, "format", "", "json, or a Go template over each event")
	return cmd
}

// eventPrinter returns the sink that prints each event in format.
func eventPrinter(w io.Writer, format string) (func(events.Event) error, error) {
	switch format {
	case "":
		return func(ev events.Event) error {
			_, err := fmt.Fprintln(w, eventLine(ev))
			return err
		}, nil
	case "json":
		enc := json.NewEncoder(w)
		return func(ev events.Event) error { return enc.Encode(ev) }, nil
	}
	tmpl, err := template.New("format").Parse(format)
	if err != nil {
		return nil, fmt.Errorf("invalid --format: %w", err)
	}
	return func(ev events.Event) error {
		if err := tmpl.Execute(w, ev); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
		_, err := fmt.Fprintln(w)
		return err
	}, nil
}

// eventLine is the default form: time, type, action, actor ID and its
// attributes sorted, as docker events prints.
func eventLine(ev events.Event) string {
	attrs := make([]string, 0, len(ev.Actor.Attributes))
	for _, k := range slices.Sorted(maps.Keys(ev.Actor.Attributes)) {
		attrs = append(attrs, k+"="+ev.Actor.Attributes[k])
	}
	return fmt.Sprintf("%s %s %s %s (%s)", ev.Time.UTC().Format("2006-01-02T15:04:05.000000000Z07:00"), ev.Type, ev.Action, ev.Actor.ID, strings.Join(attrs, ", "))
}
