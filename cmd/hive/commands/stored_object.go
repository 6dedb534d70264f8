package commands

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/api/client"
)

// storedKind describes secrets, configs or networks to the ls, inspect
// and rm commands they share.
type storedKind[T any] struct {
	noun string // "secret", "config", "network"
	// list, get and remove are the client's methods for the kind, as
	// method expressions: (*client.Client).ListSecrets.
	list   func(*client.Client, context.Context) ([]T, error)
	get    func(*client.Client, context.Context, string) (T, error)
	remove func(*client.Client, context.Context, string) error
	meta   func(T) storedMeta
	// driverColumn adds ls's DRIVER column (secrets).
	driverColumn bool
	// columns, when set, are ls's table instead of ID, NAME, [DRIVER,]
	// CREATED and UPDATED.
	columns []storedColumn[T]
	// noValue kinds (networks) hold no value: inspect --pretty shows no
	// value version.
	noValue bool
	// prettyBefore and prettyAfter print what inspect --pretty shows
	// beside the common fields: after the labels, and at the end.
	prettyBefore, prettyAfter func(io.Writer, T)
	// usedBy, when set, names the services that use an object, for an
	// "In use by:" line of inspect --pretty.
	usedBy func(T, []api.ServiceSummary) []string
}

// storedColumn is a column of ls's table.
type storedColumn[T any] struct {
	header string
	value  func(o T, now time.Time) string
}

// lsColumns returns ls's table: the kind's columns, or ID, NAME,
// [DRIVER,] CREATED and UPDATED.
func (k storedKind[T]) lsColumns() []storedColumn[T] {
	if k.columns != nil {
		return k.columns
	}
	cols := []storedColumn[T]{
		{"ID", func(o T, _ time.Time) string { return truncID(k.meta(o).ID) }},
		{"NAME", func(o T, _ time.Time) string { return k.meta(o).Name }},
	}
	if k.driverColumn {
		cols = append(cols, storedColumn[T]{"DRIVER", func(o T, _ time.Time) string { return k.meta(o).Driver }})
	}
	return append(cols,
		storedColumn[T]{"CREATED", func(o T, now time.Time) string { return ago(now, k.meta(o).CreatedAt) }},
		storedColumn[T]{"UPDATED", func(o T, now time.Time) string { return ago(now, k.meta(o).UpdatedAt) }})
}

// storedMeta is what every secret and config has.
type storedMeta struct {
	ID, Name, Driver     string
	Labels               map[string]string
	ValueVersion         uint64
	CreatedAt, UpdatedAt time.Time
}

// lsCommand is `hive secret ls`, `hive config ls` or `hive network ls`.
func (k storedKind[T]) lsCommand(c *cli, long, example string) *cobra.Command {
	var (
		format string
		quiet  bool
	)
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   fmt.Sprintf("List %ss", k.noun),
		Long:    long,
		Example: example,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, formatTable, formatJSON); err != nil {
				return err
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			list, err := k.list(cl, cmd.Context())
			if err != nil {
				return err
			}
			sort.SliceStable(list, func(i, j int) bool { return k.meta(list[i]).Name < k.meta(list[j]).Name })
			out := cmd.OutOrStdout()
			switch {
			case format == formatJSON:
				if list == nil {
					list = []T{}
				}
				return writeJSON(out, list)
			case quiet:
				for _, o := range list {
					fmt.Fprintln(out, truncID(k.meta(o).ID))
				}
				return nil
			}
			now := c.now()
			cols := k.lsColumns()
			headers := make([]string, len(cols))
			for i, col := range cols {
				headers[i] = col.header
			}
			t := newTable(out, headers...)
			for _, o := range list {
				row := make([]string, len(cols))
				for i, col := range cols {
					row[i] = col.value(o, now)
				}
				t.row(row...)
			}
			return t.flush()
		},
	}
	addFormatFlag(cmd, &format, formatTable)
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, fmt.Sprintf("only print %s IDs", k.noun))
	return cmd
}

// inspectCommand is `hive secret inspect`, `hive config inspect` or
// `hive network inspect`.
func (k storedKind[T]) inspectCommand(c *cli, cmd *cobra.Command, prettyUsage string) *cobra.Command {
	var (
		pretty bool
		format string
	)
	cmd.Args = minArgs(1, "one "+k.noun)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkFormat(format, formatJSON); err != nil {
			return err
		}
		if pretty && flagChanged(cmd.Flags(), "format") {
			return usageErrorf(cmd, "--pretty and --format cannot be used together")
		}
		cl, err := c.api()
		if err != nil {
			return err
		}
		list := []T{}
		var errs []error
		for _, ref := range args {
			o, err := k.get(cl, cmd.Context(), ref)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			list = append(list, o)
		}
		out := cmd.OutOrStdout()
		if !pretty {
			if err := writeJSON(out, list); err != nil {
				return err
			}
			return errorOf(errs)
		}
		var services []api.ServiceSummary
		if k.usedBy != nil && len(list) > 0 {
			if services, err = cl.ListServices(cmd.Context()); err != nil {
				return err
			}
		}
		for i, o := range list {
			if i > 0 {
				fmt.Fprintln(out)
			}
			m := k.meta(o)
			fmt.Fprintf(out, "ID:              %s\nName:            %s\n", m.ID, m.Name)
			prettyLabels(out, m.Labels)
			if k.prettyBefore != nil {
				k.prettyBefore(out, o)
			}
			if !k.noValue {
				fmt.Fprintf(out, "Value version:   %d\n", m.ValueVersion)
			}
			fmt.Fprintf(out, "Created at:      %s\nUpdated at:      %s\n",
				m.CreatedAt.Local().Format("2006-01-02 15:04:05 -0700 MST"), m.UpdatedAt.Local().Format("2006-01-02 15:04:05 -0700 MST"))
			if k.usedBy != nil {
				fmt.Fprintf(out, "In use by:       %s\n", orDefault(strings.Join(k.usedBy(o, services), ", "), "no service"))
			}
			if k.prettyAfter != nil {
				k.prettyAfter(out, o)
			}
		}
		return errorOf(errs)
	}
	cmd.Flags().BoolVar(&pretty, "pretty", false, prettyUsage)
	addFormatFlag(cmd, &format, formatJSON)
	return cmd
}

// rmCommand is `hive secret rm`, `hive config rm` or `hive network rm`.
func (k storedKind[T]) rmCommand(c *cli, long, example string) *cobra.Command {
	return &cobra.Command{
		Use:     fmt.Sprintf("rm %s [%s...]", strings.ToUpper(k.noun), strings.ToUpper(k.noun)),
		Aliases: []string{"remove"},
		Short:   fmt.Sprintf("Remove one or more %ss", k.noun),
		Long:    long,
		Example: example,
		Args:    minArgs(1, "one "+k.noun),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.api()
			if err != nil {
				return err
			}
			var errs []error
			for _, ref := range args {
				if err := k.remove(cl, cmd.Context(), ref); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), ref)
			}
			return errorOf(errs)
		},
	}
}

func prettyLabels(w io.Writer, labels map[string]string) {
	if len(labels) == 0 {
		return
	}
	fmt.Fprintln(w, "Labels:")
	for _, k := range sortedKeys(labels) {
		fmt.Fprintf(w, " - %s=%s\n", k, labels[k])
	}
}
