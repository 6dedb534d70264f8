package commands

import (
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/types"
)

func (c *cli) serviceCommand() *cobra.Command {
	return groupCommand("service", "Manage services",
		"  hive service create --name web --replicas 3 -p 8080:80 nginx:alpine\n  hive service ls\n  hive service scale web=5\n  hive service update --image nginx:1.27 web",
		c.serviceCreateCommand(), c.serviceLsCommand(), c.servicePsCommand(), c.serviceInspectCommand(),
		c.serviceScaleCommand(), c.serviceUpdateCommand(), c.serviceRollbackCommand(), c.serviceRmCommand(), c.serviceLogsCommand())
}

func (c *cli) serviceLsCommand() *cobra.Command {
	var (
		format string
		quiet  bool
	)
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List services",
		Long: `List the services of the cluster. REPLICAS is running/desired tasks; for a
global service, desired is the number of nodes it should run on. PORTS shows
ingress ports as *:PUBLISHED->TARGET/PROTOCOL and host-mode ports as
PUBLISHED->TARGET/PROTOCOL (host).`,
		Example: `  hive service ls
  hive service ls -q
  hive service ls --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, formatTable, formatJSON); err != nil {
				return err
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			sums, err := cl.ListServices(cmd.Context())
			if err != nil {
				return err
			}
			sort.SliceStable(sums, func(i, j int) bool { return sums[i].Service.Spec.Name < sums[j].Service.Spec.Name })
			return writeServices(cmd.OutOrStdout(), sums, format, quiet)
		},
	}
	addFormatFlag(cmd, &format, formatTable)
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only print service IDs")
	return cmd
}

// writeServices prints services as service ls does: JSON, IDs only
// (quiet), or the table.
func writeServices(out io.Writer, sums []api.ServiceSummary, format string, quiet bool) error {
	switch {
	case format == formatJSON:
		if sums == nil {
			sums = []api.ServiceSummary{}
		}
		return writeJSON(out, sums)
	case quiet:
		for _, s := range sums {
			fmt.Fprintln(out, truncID(s.Service.ID))
		}
		return nil
	}
	return renderServices(out, sums)
}

// renderServices prints the service ls table.
func renderServices(w io.Writer, sums []api.ServiceSummary) error {
	t := newTable(w, "ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS")
	for _, s := range sums {
		svc := s.Service
		t.row(truncID(svc.ID), svc.Spec.Name, string(svc.Spec.Mode),
			fmt.Sprintf("%d/%d", s.RunningTasks, s.DesiredTasks),
			imageName(svc.Spec.Task.Container.Image), formatPorts(servicePorts(svc)))
	}
	return t.flush()
}

func (c *cli) serviceInspectCommand() *cobra.Command {
	var (
		pretty bool
		format string
	)
	cmd := &cobra.Command{
		Use:   "inspect [flags] SERVICE [SERVICE...]",
		Short: "Show the details of one or more services",
		Long: `Show the details of one or more services: a JSON array by default, as
docker service inspect prints, or a summary for people with --pretty. A
service is named by its name, ID or a unique prefix of its ID.`,
		Example: `  hive service inspect web
  hive service inspect --pretty web api`,
		Args: minArgs(1, "one service"),
		RunE: func(cmd *cobra.Command, args []string) error {
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
			services := []*types.Service{}
			var errs []error
			for _, ref := range args {
				s, err := cl.GetService(cmd.Context(), ref)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				services = append(services, s)
			}
			out := cmd.OutOrStdout()
			if pretty {
				names, err := networkNames(cmd.Context(), cl)
				if err != nil {
					return err
				}
				for i, s := range services {
					if i > 0 {
						fmt.Fprintln(out)
					}
					if err := renderServicePretty(out, s, names, c.now()); err != nil {
						return err
					}
				}
			} else if err := writeJSON(out, services); err != nil {
				return err
			}
			return errorOf(errs)
		},
	}
	cmd.Flags().BoolVar(&pretty, "pretty", false, "print a summary for people instead of JSON")
	addFormatFlag(cmd, &format, formatJSON)
	return cmd
}

// renderServicePretty prints a service the way docker service inspect
// --pretty does; networks maps network IDs to names.
func renderServicePretty(w io.Writer, s *types.Service, networks map[string]string, now time.Time) error {
	var b strings.Builder
	kv := func(indent int, key string, value any) {
		fmt.Fprintf(&b, "%-*s%v\n", 20, strings.Repeat(" ", indent)+key+":", value)
	}
	kv(0, "ID", s.ID)
	kv(0, "Name", s.Spec.Name)
	if len(s.Spec.Labels) > 0 {
		b.WriteString("Labels:\n")
		for _, k := range sortedKeys(s.Spec.Labels) {
			fmt.Fprintf(&b, " %s=%s\n", k, s.Spec.Labels[k])
		}
	}
	kv(0, "Service Mode", capitalize(string(s.Spec.Mode)))
	if s.Spec.Mode != types.ModeGlobal {
		kv(1, "Replicas", s.Spec.Replicas)
	}
	prettyDependsOn(kv, s.Spec.DependsOn)
	prettyUpdateStatus(kv, &b, s.UpdateStatus, now)
	if cons := s.Spec.Task.Placement.Constraints; len(cons) > 0 {
		b.WriteString("Placement:\n")
		kv(1, "Constraints", "["+strings.Join(cons, ", ")+"]")
	}
	rp := s.Spec.Task.RestartPolicy
	b.WriteString("RestartPolicy:\n")
	kv(1, "Condition", rp.Condition)
	kv(1, "Delay", rp.RestartDelay())
	kv(1, "Max attempts", rp.MaxAttempts)
	if rp.Window != nil {
		kv(1, "Window", rp.Window)
	}
	prettyUpdateConfig(kv, &b, "UpdateConfig", "Update order", s.Spec.Update)
	prettyUpdateConfig(kv, &b, "RollbackConfig", "Rollback order", s.Spec.Rollback)
	ct := s.Spec.Task.Container
	b.WriteString("ContainerSpec:\n")
	kv(1, "Image", ct.Image)
	if len(ct.Command) > 0 {
		kv(1, "Command", strings.Join(ct.Command, " "))
	}
	if len(ct.Args) > 0 {
		kv(1, "Args", strings.Join(ct.Args, " "))
	}
	if len(ct.Env) > 0 {
		kv(1, "Env", strings.Join(ct.Env, " "))
	}
	if ct.Dir != "" {
		kv(1, "Dir", ct.Dir)
	}
	if ct.User != "" {
		kv(1, "User", ct.User)
	}
	if ct.Hostname != "" {
		kv(1, "Hostname", ct.Hostname)
	}
	if ct.StopSignal != "" {
		kv(1, "Stop Signal", ct.StopSignal)
	}
	kv(1, "Stop Grace Period", ct.GracePeriod())
	prettyHealthcheck(kv, ct.Healthcheck)
	if len(ct.Mounts) > 0 {
		b.WriteString("Mounts:\n")
		for _, m := range ct.Mounts {
			kv(1, "Target", m.Target)
			kv(2, "Source", m.Source)
			kv(2, "ReadOnly", m.ReadOnly)
			kv(2, "Type", m.Type)
		}
	}
	if len(ct.Secrets) > 0 {
		b.WriteString("Secrets:\n")
		for _, r := range ct.Secrets {
			kv(1, "Target", path.Join(types.SecretsDir, r.File.Name))
			kv(2, "Source", r.SecretName)
			kv(2, "Owner", r.File.UID+":"+r.File.GID)
			kv(2, "Mode", fmt.Sprintf("%#o", uint32(r.File.Mode)))
		}
	}
	if len(ct.Configs) > 0 {
		b.WriteString("Configs:\n")
		for _, r := range ct.Configs {
			kv(1, "Target", r.File.Name)
			kv(2, "Source", r.ConfigName)
			kv(2, "Owner", r.File.UID+":"+r.File.GID)
			kv(2, "Mode", fmt.Sprintf("%#o", uint32(r.File.Mode)))
		}
	}
	res := s.Spec.Task.Resources
	if res.Limits != (types.Resources{}) || res.Reservations != (types.Resources{}) {
		b.WriteString("Resources:\n")
		for _, r := range []struct {
			name string
			v    types.Resources
		}{{"Reservations", res.Reservations}, {"Limits", res.Limits}} {
			if r.v == (types.Resources{}) {
				continue
			}
			fmt.Fprintf(&b, " %s:\n", r.name)
			if r.v.NanoCPUs != 0 {
				kv(2, "CPU", formatCPU(r.v.NanoCPUs))
			}
			if r.v.MemoryBytes != 0 {
				kv(2, "Memory", formatBytes(r.v.MemoryBytes))
			}
		}
	}
	prettyEndpoint(kv, &b, s, networks)
	if ports := servicePorts(s); len(ports) > 0 {
		b.WriteString("Ports:\n")
		for _, p := range ports {
			fmt.Fprintf(&b, " PublishedPort = %s\n  Protocol = %s\n  TargetPort = %d\n  PublishMode = %s\n",
				publishedPort(p.PublishedPort), protocol(p.Protocol), p.TargetPort, p.PublishMode)
		}
	}
	prettyPreviousSpec(kv, &b, s)
	_, err := io.WriteString(w, b.String())
	return err
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// formatCPU renders nano CPUs as a number of CPUs: 1500000000 -> "1.5".
func formatCPU(nano int64) string {
	s := fmt.Sprintf("%d.%09d", nano/1e9, nano%1e9)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// formatBytes renders a size in binary units: 536870912 -> "512MiB".
func formatBytes(n int64) string { return units.BytesSize(float64(n)) }

// serviceRmWaitTimeout is how long service rm --wait waits by default.
const serviceRmWaitTimeout = 60 * time.Second

func (c *cli) serviceRmCommand() *cobra.Command {
	var (
		wait    bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:     "rm SERVICE [SERVICE...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more services",
		Long: `Remove services; their tasks are stopped. Each removed service is printed as
given. A service that cannot be removed is reported and the others are still
removed; the command then exits 1.

With --wait, the command returns only once every task of the removed services
has stopped (their containers are stopped, and the agents remove them), or
fails after --timeout saying how many are still stopping.`,
		Example: `  hive service rm web
  hive service rm --wait web
  hive service rm $(hive service ls -q)`,
		Args: minArgs(1, "one service"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout <= 0 {
				return fmt.Errorf("--timeout must be positive, got %s", timeout)
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var errs []error
			var removed []string
			for _, ref := range args {
				svc, err := cl.GetService(ctx, ref)
				if err == nil {
					err = cl.RemoveService(ctx, svc.ID)
				}
				if err != nil {
					errs = append(errs, err)
					continue
				}
				removed = append(removed, svc.ID)
				fmt.Fprintln(cmd.OutOrStdout(), ref)
			}
			if wait && len(removed) > 0 {
				if err := c.waitTasksGone(ctx, cl, removed, timeout); err != nil {
					errs = append(errs, fmt.Errorf("%w: see their nodes with 'hive node ls'", err))
				}
			}
			return errorOf(errs)
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "return once the services' tasks have stopped")
	cmd.Flags().DurationVar(&timeout, "timeout", serviceRmWaitTimeout, "how long --wait waits")
	return cmd
}
