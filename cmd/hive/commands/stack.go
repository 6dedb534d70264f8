package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/api/client"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/stack"
	"github.com/hiveorch/hive/core/types"
)

func (c *cli) stackCommand() *cobra.Command {
	return groupCommand("stack", "Manage stacks: services, networks, secrets and configs from compose files",
		"  hive stack deploy -c compose.yaml app\n  hive stack ls\n  hive stack services app\n  hive stack ps app\n  hive stack rm app",
		c.stackDeployCommand(), c.stackLsCommand(), c.stackServicesCommand(), c.stackPsCommand(), c.stackRmCommand(), c.stackConfigCommand())
}

// stackObjects are the objects of the cluster that carry a stack's label.
type stackObjects struct {
	services []api.ServiceSummary
	networks []*types.Network
	secrets  []*types.Secret
	configs  []*types.Config
}

func (o stackObjects) empty() bool {
	return len(o.services)+len(o.networks)+len(o.secrets)+len(o.configs) == 0
}

// inStack reports whether labels put an object in the stack name.
func inStack(labels map[string]string, name string) bool {
	v, ok := labels[stack.LabelNamespace]
	return ok && v == name
}

// stackServices lists the services of the stack name, sorted by name.
func stackServices(ctx context.Context, cl *client.Client, name string) ([]api.ServiceSummary, error) {
	sums, err := cl.ListServices(ctx)
	if err != nil {
		return nil, err
	}
	var out []api.ServiceSummary
	for _, s := range sums {
		if inStack(s.Service.Spec.Labels, name) {
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Service.Spec.Name < out[j].Service.Spec.Name })
	return out, nil
}

// listStack reads every object of the stack name.
func listStack(ctx context.Context, cl *client.Client, name string) (stackObjects, error) {
	var o stackObjects
	var err error
	if o.services, err = stackServices(ctx, cl, name); err != nil {
		return o, err
	}
	nets, err := cl.ListNetworks(ctx)
	if err != nil {
		return o, err
	}
	o.networks = ofStack(nets, name, func(n *types.Network) (string, map[string]string) { return n.Spec.Name, n.Spec.Labels })
	secs, err := cl.ListSecrets(ctx)
	if err != nil {
		return o, err
	}
	o.secrets = ofStack(secs, name, func(s *types.Secret) (string, map[string]string) { return s.Spec.Name, s.Spec.Labels })
	cfgs, err := cl.ListConfigs(ctx)
	if err != nil {
		return o, err
	}
	o.configs = ofStack(cfgs, name, func(c *types.Config) (string, map[string]string) { return c.Spec.Name, c.Spec.Labels })
	return o, nil
}

// ofStack returns the items of the stack name, sorted by name; meta
// gives an item's name and labels.
func ofStack[T any](items []T, name string, meta func(T) (string, map[string]string)) []T {
	var out []T
	for _, it := range items {
		if _, labels := meta(it); inStack(labels, name) {
			out = append(out, it)
		}
	}
	slices.SortFunc(out, func(a, b T) int {
		na, _ := meta(a)
		nb, _ := meta(b)
		return strings.Compare(na, nb)
	})
	return out
}

// stackNotFound is the error of a command given a stack with no object.
func stackNotFound(name string) error {
	return fmt.Errorf("stack %s not found: no service, network, secret or config carries the label %s=%s; see 'hive stack ls'",
		name, stack.LabelNamespace, name)
}

// stackSummary is a row of stack ls.
type stackSummary struct {
	Name     string `json:"name"`
	Services int    `json:"services"`
}

func (c *cli) stackLsCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List stacks",
		Long: `List the stacks of the cluster: every value of the label
com.docker.stack.namespace on a service, network, secret or config, with its
number of services, sorted by name.`,
		Example: `  hive stack ls
  hive stack ls --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, formatTable, formatJSON); err != nil {
				return err
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			count := map[string]int{}
			sums, err := cl.ListServices(ctx)
			if err != nil {
				return err
			}
			for _, s := range sums {
				if ns, ok := s.Service.Spec.Labels[stack.LabelNamespace]; ok {
					count[ns]++
				}
			}
			var labels []map[string]string
			nets, err := cl.ListNetworks(ctx)
			if err != nil {
				return err
			}
			for _, n := range nets {
				labels = append(labels, n.Spec.Labels)
			}
			secs, err := cl.ListSecrets(ctx)
			if err != nil {
				return err
			}
			for _, s := range secs {
				labels = append(labels, s.Spec.Labels)
			}
			cfgs, err := cl.ListConfigs(ctx)
			if err != nil {
				return err
			}
			for _, s := range cfgs {
				labels = append(labels, s.Spec.Labels)
			}
			for _, l := range labels {
				if ns, ok := l[stack.LabelNamespace]; ok {
					if _, seen := count[ns]; !seen {
						count[ns] = 0
					}
				}
			}
			list := []stackSummary{}
			for name, n := range count {
				list = append(list, stackSummary{Name: name, Services: n})
			}
			sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
			out := cmd.OutOrStdout()
			if format == formatJSON {
				return writeJSON(out, list)
			}
			t := newTable(out, "NAME", "SERVICES")
			for _, s := range list {
				t.row(s.Name, fmt.Sprint(s.Services))
			}
			return t.flush()
		},
	}
	addFormatFlag(cmd, &format, formatTable)
	return cmd
}

func (c *cli) stackServicesCommand() *cobra.Command {
	var (
		format string
		quiet  bool
	)
	cmd := &cobra.Command{
		Use:   "services [flags] STACK",
		Short: "List the services of a stack",
		Long:  `List the services of a stack, with the columns of 'hive service ls'.`,
		Example: `  hive stack services app
  hive stack services -q app
  hive stack services --format json app`,
		Args: exactArgs(1, "a STACK"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, formatTable, formatJSON); err != nil {
				return err
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			sums, err := stackServices(cmd.Context(), cl, args[0])
			if err != nil {
				return err
			}
			if len(sums) == 0 {
				o, err := listStack(cmd.Context(), cl, args[0])
				if err != nil {
					return err
				}
				if o.empty() {
					return stackNotFound(args[0])
				}
			}
			return writeServices(cmd.OutOrStdout(), sums, format, quiet)
		},
	}
	addFormatFlag(cmd, &format, formatTable)
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only print service IDs")
	return cmd
}

func (c *cli) stackPsCommand() *cobra.Command {
	var (
		format  string
		quiet   bool
		noTrunc bool
	)
	cmd := &cobra.Command{
		Use:   "ps [flags] STACK",
		Short: "List the tasks of a stack",
		Long: `List the tasks of a stack's services, as 'hive service ps' lists them: the
running ones and, below each, the older tasks of the same slot.`,
		Example: `  hive stack ps app
  hive stack ps -q app
  hive stack ps --no-trunc --format json app`,
		Args: exactArgs(1, "a STACK"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, formatTable, formatJSON); err != nil {
				return err
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			sums, err := stackServices(ctx, cl, args[0])
			if err != nil {
				return err
			}
			if len(sums) == 0 {
				o, err := listStack(ctx, cl, args[0])
				if err != nil {
					return err
				}
				if o.empty() {
					return stackNotFound(args[0])
				}
			}
			var tasks []*types.Task
			for _, s := range sums {
				ts, err := cl.ListTasks(ctx, api.TaskFilter{Service: s.Service.ID})
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
				return writeJSON(out, tasks)
			case quiet:
				for _, t := range tasks {
					fmt.Fprintln(out, maybeTrunc(t.ID, !noTrunc))
				}
				return nil
			}
			nodes, err := cl.ListNodes(ctx)
			if err != nil {
				return err
			}
			hostnames := map[string]string{}
			for _, n := range nodes {
				hostnames[n.ID] = n.Description.Hostname
			}
			return renderTasks(out, tasks, hostnames, !noTrunc, c.now())
		},
	}
	addFormatFlag(cmd, &format, formatTable)
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only print task IDs")
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not shorten IDs and errors")
	return cmd
}

// stackRmTimeout bounds how long stack rm waits for the removed services'
// tasks to stop, and then for each network to be free.
const stackRmTimeout = 60 * time.Second

func (c *cli) stackRmCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "rm STACK [STACK...]",
		Aliases: []string{"remove", "down"},
		Short:   "Remove one or more stacks",
		Long: `Remove a stack: its services, then, once their tasks have stopped, its
networks, secrets and configs: every object that carries the label
com.docker.stack.namespace=STACK, and nothing else. A stack that cannot be
removed whole is reported, and the others are still removed; the command
then exits 1. Removing it again finishes the job.`,
		Example: `  hive stack rm app
  hive stack down app other`,
		Args: minArgs(1, "one STACK"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.api()
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range args {
				errs = append(errs, c.removeStack(cmd.Context(), cl, cmd, name)...)
			}
			return errorOf(errs)
		},
	}
}

// removeStack removes the objects of one stack, printing each.
func (c *cli) removeStack(ctx context.Context, cl *client.Client, cmd *cobra.Command, name string) []error {
	out := cmd.OutOrStdout()
	o, err := listStack(ctx, cl, name)
	if err != nil {
		return []error{err}
	}
	if o.empty() {
		return []error{stackNotFound(name)}
	}
	var errs []error
	var removed []string
	for _, s := range o.services {
		fmt.Fprintf(out, "Removing service %s\n", s.Service.Spec.Name)
		if err := cl.RemoveService(ctx, s.Service.ID); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			errs = append(errs, fmt.Errorf("remove service %s: %w", s.Service.Spec.Name, err))
			continue
		}
		removed = append(removed, s.Service.ID)
	}
	if len(o.networks) > 0 {
		if err := c.waitTasksGone(ctx, cl, removed, stackRmTimeout); err != nil {
			errs = append(errs, fmt.Errorf("%w: run 'hive stack rm' again once they stopped", err))
		}
	}
	for _, n := range o.networks {
		fmt.Fprintf(out, "Removing network %s\n", n.Spec.Name)
		if err := c.removeNetworkRetrying(ctx, cl, n); err != nil {
			errs = append(errs, fmt.Errorf("remove network %s: %w", n.Spec.Name, err))
		}
	}
	for _, s := range o.secrets {
		fmt.Fprintf(out, "Removing secret %s\n", s.Spec.Name)
		if err := cl.RemoveSecret(ctx, s.ID); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			errs = append(errs, fmt.Errorf("remove secret %s: %w", s.Spec.Name, err))
		}
	}
	for _, s := range o.configs {
		fmt.Fprintf(out, "Removing config %s\n", s.Spec.Name)
		if err := cl.RemoveConfig(ctx, s.ID); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			errs = append(errs, fmt.Errorf("remove config %s: %w", s.Spec.Name, err))
		}
	}
	return errs
}

// waitTasksGone polls, for up to timeout, until no task of the removed
// services is still running or stopping: their containers are stopped
// (the agents then remove them), and a network is no longer refused
// removal for a task attached to it.
func (c *cli) waitTasksGone(ctx context.Context, cl *client.Client, services []string, timeout time.Duration) error {
	removed := map[string]bool{}
	for _, id := range services {
		removed[id] = true
	}
	deadline := c.now().Add(timeout)
	for {
		// A removed service's tasks are listed only unfiltered: the
		// filter resolves a service that no longer exists.
		tasks, err := cl.ListTasks(ctx, api.TaskFilter{})
		if err != nil {
			return fmt.Errorf("wait for the stack's tasks to stop: %w", err)
		}
		left := 0
		for _, t := range tasks {
			if removed[t.ServiceID] && !t.Status.State.Terminal() {
				left++
			}
		}
		if left == 0 {
			return nil
		}
		if c.now().After(deadline) {
			return fmt.Errorf("%d task(s) of the removed services are still stopping after %s", left, timeout)
		}
		if err := c.pause(ctx); err != nil {
			return err
		}
	}
}

// removeNetworkRetrying removes a network, retrying while it is refused
// because a task is still attached.
func (c *cli) removeNetworkRetrying(ctx context.Context, cl *client.Client, n *types.Network) error {
	deadline := c.now().Add(stackRmTimeout)
	for {
		err := cl.RemoveNetwork(ctx, n.ID)
		if err == nil || errors.Is(err, errdefs.ErrNotFound) {
			return nil
		}
		if !errors.Is(err, errdefs.ErrStillStopping) || c.now().After(deadline) {
			return err
		}
		if err := c.pause(ctx); err != nil {
			return err
		}
	}
}

// pause waits one progress interval, or until ctx is done.
func (c *cli) pause(ctx context.Context) error {
	t := time.NewTimer(c.progress.interval)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (c *cli) stackConfigCommand() *cobra.Command {
	var files []string
	cmd := &cobra.Command{
		Use:   "config -c FILE [-c FILE...]",
		Short: "Print the merged, interpolated model of compose files",
		Long: `Load the compose files as 'hive stack deploy' does (merged in order,
interpolated, extends resolved, every key screened) and print the resulting
model as YAML. It asks no cluster. A secret or config taken from an
environment variable shows the variable's name, never its value.`,
		Example: `  hive stack config -c compose.yaml
  hive stack config -c compose.yaml -c compose.prod.yaml`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := c.loadStack(cmd, files)
			if err != nil {
				return err
			}
			b, err := stack.Config(m)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	addComposeFileFlag(cmd, &files)
	return cmd
}

// addComposeFileFlag adds -c/--compose-file, as docker stack deploy has.
func addComposeFileFlag(cmd *cobra.Command, files *[]string) {
	cmd.Flags().StringArrayVarP(files, "compose-file", "c", nil, "compose `FILE` (repeat to merge several, later ones override)")
}

// loadStack loads the compose files with the CLI's environment and prints
// each warning once on stderr.
func (c *cli) loadStack(cmd *cobra.Command, files []string) (*stack.Model, error) {
	if len(files) == 0 {
		return nil, usageErrorf(cmd, "%q requires at least one compose file: -c FILE", cmd.CommandPath())
	}
	env := map[string]string{}
	for _, kv := range c.opts.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	m, warnings, err := stack.Load(cmd.Context(), stack.Options{Files: files, Env: env})
	seen := map[string]bool{}
	for _, w := range warnings {
		if s := w.String(); !seen[s] {
			seen[s] = true
			fmt.Fprintf(cmd.ErrOrStderr(), "Warning: %s\n", s)
		}
	}
	if err != nil {
		return nil, splitErrors(err)
	}
	return m, nil
}

// splitErrors turns an errors.Join of problems into a multiError, so that
// each is printed on its own "Error:" line.
func splitErrors(err error) error {
	var out []error
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		out = append(out, e)
	}
	walk(err)
	return errorOf(out)
}
