package commands

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hiveorch/hive/core/api/client"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/scheduler"
)

// updateOptions are the raw flag values of hive service update.
type updateOptions struct {
	image                     string
	envAdd, envRm             []string
	publishAdd, publishRm     []string
	replicas                  string
	constraintAdd             []string
	constraintRm              []string
	labelAdd, labelRm         []string
	mountAdd, mountRm         []string
	secretAdd, secretRm       []string
	configAdd, configRm       []string
	limitCPU, limitMemory     string
	reserveCPU, reserveMemory string
	restartCond, restartDelay string
	restartMax                uint64
	restartWindow             string
	stopGrace, stopSignal     string
	force, rollback           bool
	detach, quiet             bool
	policy                    policyOptions
}

func (o *updateOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.image, "image", "", "run `IMAGE` instead")
	fs.StringArrayVar(&o.envAdd, "env-add", nil, "add or change an environment variable: `KEY=VALUE`")
	fs.StringArrayVar(&o.envRm, "env-rm", nil, "remove the environment variable `KEY`")
	fs.StringArrayVar(&o.publishAdd, "publish-add", nil, "publish a `PORT`, as -p of service create")
	fs.StringArrayVar(&o.publishRm, "publish-rm", nil, "stop publishing the port of target `PORT`: TARGET[/PROTOCOL], or PUBLISHED:TARGET")
	fs.StringVar(&o.replicas, "replicas", "", "run `N` tasks (replicated services)")
	fs.StringArrayVar(&o.constraintAdd, "constraint-add", nil, "add a placement `CONSTRAINT`, as in node.role==manager")
	fs.StringArrayVar(&o.constraintRm, "constraint-rm", nil, "remove the placement `CONSTRAINT`")
	fs.StringArrayVar(&o.labelAdd, "label-add", nil, "add or change a service label: `KEY=VALUE`")
	fs.StringArrayVar(&o.labelRm, "label-rm", nil, "remove the service label `KEY`")
	fs.StringArrayVar(&o.mountAdd, "mount-add", nil, "add or replace (same target) a `MOUNT`, as --mount of service create")
	fs.StringArrayVar(&o.mountRm, "mount-rm", nil, "remove the mount at `TARGET`")
	fs.StringArrayVar(&o.secretAdd, "secret-add", nil, "grant a `SECRET`, as --secret of service create")
	fs.StringArrayVar(&o.secretRm, "secret-rm", nil, "stop granting the secret `NAME`")
	fs.StringArrayVar(&o.configAdd, "config-add", nil, "grant a `CONFIG`, as --config of service create")
	fs.StringArrayVar(&o.configRm, "config-rm", nil, "stop granting the config `NAME`")
	fs.StringVar(&o.limitCPU, "limit-cpu", "", "limit each task to `CPUS` CPUs (0: no limit)")
	fs.StringVar(&o.limitMemory, "limit-memory", "", "limit each task to `SIZE` of memory (0: no limit)")
	fs.StringVar(&o.reserveCPU, "reserve-cpu", "", "reserve `CPUS` CPUs for each task")
	fs.StringVar(&o.reserveMemory, "reserve-memory", "", "reserve `SIZE` of memory for each task")
	fs.StringVar(&o.restartCond, "restart-condition", "", "`CONDITION` to replace a task that ended: none, on-failure or any")
	fs.StringVar(&o.restartDelay, "restart-delay", "", "wait `DURATION` between restarts")
	fs.Uint64Var(&o.restartMax, "restart-max-attempts", 0, "give up after `N` restarts within --restart-window (0: no limit)")
	fs.StringVar(&o.restartWindow, "restart-window", "", "`DURATION` over which restarts are counted")
	fs.StringVar(&o.stopGrace, "stop-grace-period", "", "wait `DURATION` after the stop signal before killing a task")
	fs.StringVar(&o.stopSignal, "stop-signal", "", "`SIGNAL` that stops a task's container")
	fs.BoolVar(&o.force, "force", false, "replace every task even if nothing changed (and resume a paused update)")
	fs.BoolVar(&o.rollback, "rollback", false, "go back to the previous spec, as hive service rollback")
	fs.BoolVarP(&o.detach, "detach", "d", false, "return once the change is stored, without following the update")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "print no progress")
	o.policy.addFlags(fs)
}

func (c *cli) serviceUpdateCommand() *cobra.Command {
	var o updateOptions
	cmd := &cobra.Command{
		Use:   "update [flags] SERVICE",
		Short: "Update a service",
		Long: `Change a service's spec; what a flag does not mention keeps its current value
(the defaults shown are those of service create). A change of what its tasks run (image, environment,
mounts, secrets, configs, ports, limits, health check, --force) is rolled out as a rolling
update: --update-parallelism slots at a time (1; 0 for all at once), each
new task running, and healthy when it has a health check, before the next
slot after --update-delay; stop-first stops a slot's old task before its
new one starts, start-first starts the new one first. A new task that fails
within --update-monitor of its start counts as a failure; past
--update-max-failure-ratio of the tasks, the update does its
--update-failure-action: pause (the default), continue, or rollback to the
previous spec. A change of the replicas, the labels or the update policy
replaces no task.

Unless --detach is given, progress is shown until the update completes; the
command exits 1 with the reason if the update pauses or rolls back. A
paused update resumes with any change, or --force.`,
		Example: `  hive service update --image hive-test/web:v2 web
  hive service update --image hive-test/web:v2 --update-order start-first --update-parallelism 2 web
  hive service update --env-add LEVEL=debug --env-rm OLD web
  hive service update --secret-rm db_password_v1 --secret-add source=db_password_v2,target=db_password api
  hive service update --config-add source=nginx.conf,target=/etc/nginx/nginx.conf web
  hive service update --update-failure-action rollback --update-monitor 10s --image app:2 api
  hive service update --force web`,
		Args: exactArgs(1, "a SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.rollback {
				if changed := o.changedBesidesRollback(cmd.Flags()); changed != "" {
					return usageErrorf(cmd, "--rollback cannot be combined with --%s: it restores the previous spec as it was", changed)
				}
				return c.rollback(cmd, args[0], o.detach, o.quiet)
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			svc, err := updateWithRetry(cmd.Context(), cl, args[0], func(spec *types.ServiceSpec) error {
				return o.apply(cmd.Flags(), spec, c.lookupEnv)
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), svc.Spec.Name)
			if o.detach {
				return nil
			}
			return c.waitUpdated(cmd.Context(), cl, svc, waitOptions{verb: "updated", quiet: o.quiet, out: cmd.OutOrStdout()})
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

// changedBesidesRollback names a flag given with --rollback that changes
// the spec, or returns "".
func (o *updateOptions) changedBesidesRollback(fs *pflag.FlagSet) string {
	name := ""
	fs.Visit(func(f *pflag.Flag) {
		switch f.Name {
		case "rollback", "detach", "quiet", "host", "config", "tls-dir":
		default:
			if name == "" {
				name = f.Name
			}
		}
	})
	return name
}

// updateWithRetry reads a service, changes its spec with change and writes
// it with the version read; when the service changed meanwhile (the update
// controller writes its progress there), it reads it again and retries.
func updateWithRetry(ctx context.Context, cl *client.Client, ref string, change func(*types.ServiceSpec) error) (*types.Service, error) {
	const attempts = 5
	for attempt := 1; ; attempt++ {
		svc, err := cl.GetService(ctx, ref)
		if err != nil {
			return nil, err
		}
		spec := svc.Spec.Copy()
		if err := change(&spec); err != nil {
			return nil, err
		}
		updated, err := cl.UpdateService(ctx, svc.ID, svc.Version, spec)
		if errors.Is(err, errdefs.ErrConflict) && attempt < attempts && strings.Contains(err.Error(), "changed since") {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("update %s: %w", ref, err)
		}
		return updated, nil
	}
}

// apply makes the flags' changes to spec. Its errors say what to fix.
func (o *updateOptions) apply(fs *pflag.FlagSet, s *types.ServiceSpec, lookup func(string) (string, bool)) error {
	ct := &s.Task.Container
	if flagChanged(fs, "image") {
		if err := types.ValidateImage(o.image); err != nil {
			return err
		}
		ct.Image = o.image
	}
	if err := o.applyEnv(ct, lookup); err != nil {
		return err
	}
	if err := o.applyLabels(s); err != nil {
		return err
	}
	if err := o.applyConstraints(s); err != nil {
		return err
	}
	if err := o.applyMounts(ct); err != nil {
		return err
	}
	if err := o.applyGrants(ct); err != nil {
		return err
	}
	if err := o.applyPorts(s); err != nil {
		return err
	}
	if flagChanged(fs, "replicas") {
		if s.Mode == types.ModeGlobal {
			return fmt.Errorf("invalid --replicas for global service %s: it runs one task on every node", s.Name)
		}
		n, err := parseReplicas("--replicas", o.replicas)
		if err != nil {
			return err
		}
		s.Replicas = n
	}
	if err := o.applyResources(fs, s); err != nil {
		return err
	}
	if err := o.applyRestart(fs, s); err != nil {
		return err
	}
	if o.force {
		s.Task.ForceUpdate++
	}
	return o.policy.apply(fs, s)
}

func (o *updateOptions) applyEnv(ct *types.ContainerSpec, lookup func(string) (string, bool)) error {
	for _, name := range o.envRm {
		key, _, _ := strings.Cut(name, "=")
		ct.Env = slices.DeleteFunc(ct.Env, func(kv string) bool { k, _, _ := strings.Cut(kv, "="); return k == key })
	}
	for _, e := range o.envAdd {
		kv, ok, err := parseEnv(e, lookup)
		if err != nil {
			return errors.New(strings.Replace(err.Error(), "--env", "--env-add", 1))
		}
		if !ok {
			continue
		}
		key, _, _ := strings.Cut(kv, "=")
		ct.Env = slices.DeleteFunc(ct.Env, func(x string) bool { k, _, _ := strings.Cut(x, "="); return k == key })
		ct.Env = append(ct.Env, kv)
	}
	return nil
}

func (o *updateOptions) applyLabels(s *types.ServiceSpec) error {
	for _, k := range o.labelRm {
		delete(s.Labels, k)
	}
	for _, l := range o.labelAdd {
		k, v, err := parseLabel(l)
		if err != nil {
			return errors.New(strings.Replace(err.Error(), "--label", "--label-add", 1))
		}
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		s.Labels[k] = v
	}
	return nil
}

func (o *updateOptions) applyConstraints(s *types.ServiceSpec) error {
	p := &s.Task.Placement
	for _, v := range o.constraintRm {
		p.Constraints = slices.DeleteFunc(p.Constraints, func(c string) bool { return strings.TrimSpace(c) == strings.TrimSpace(v) })
	}
	for _, v := range o.constraintAdd {
		if _, err := scheduler.ParseConstraint(v); err != nil {
			return fmt.Errorf("%s", strings.Replace(err.Error(), "invalid constraint", "invalid --constraint-add", 1))
		}
		if !slices.Contains(p.Constraints, v) {
			p.Constraints = append(p.Constraints, v)
		}
	}
	return nil
}

func (o *updateOptions) applyMounts(ct *types.ContainerSpec) error {
	for _, target := range o.mountRm {
		t := path.Clean(target)
		n := len(ct.Mounts)
		ct.Mounts = slices.DeleteFunc(ct.Mounts, func(m types.Mount) bool { return path.Clean(m.Target) == t })
		if len(ct.Mounts) == n {
			return fmt.Errorf("invalid --mount-rm %s: the service has no mount at that target", target)
		}
	}
	for _, v := range o.mountAdd {
		m, err := parseMount(v)
		if err != nil {
			return errors.New(strings.Replace(err.Error(), "--mount", "--mount-add", 1))
		}
		t := path.Clean(m.Target)
		ct.Mounts = slices.DeleteFunc(ct.Mounts, func(x types.Mount) bool { return path.Clean(x.Target) == t })
		ct.Mounts = append(ct.Mounts, m)
	}
	return nil
}

// applyGrants removes, then adds, secrets and configs. An added one
// replaces a grant of the same name to the same target.
func (o *updateOptions) applyGrants(ct *types.ContainerSpec) error {
	for _, name := range o.secretRm {
		n := len(ct.Secrets)
		ct.Secrets = slices.DeleteFunc(ct.Secrets, func(r types.SecretReference) bool { return r.SecretName == name || r.SecretID == name })
		if len(ct.Secrets) == n {
			return fmt.Errorf("invalid --secret-rm %s: the service is not granted that secret", name)
		}
	}
	for _, name := range o.configRm {
		n := len(ct.Configs)
		ct.Configs = slices.DeleteFunc(ct.Configs, func(r types.ConfigReference) bool { return r.ConfigName == name || r.ConfigID == name })
		if len(ct.Configs) == n {
			return fmt.Errorf("invalid --config-rm %s: the service is not granted that config", name)
		}
	}
	for _, v := range o.secretAdd {
		r, err := parseSecretRef("--secret-add", v)
		if err != nil {
			return err
		}
		target := r.File.Name
		if target == "" {
			target = r.SecretName
		}
		ct.Secrets = slices.DeleteFunc(ct.Secrets, func(x types.SecretReference) bool { return path.Clean(x.File.Name) == path.Clean(target) })
		ct.Secrets = append(ct.Secrets, r)
	}
	for _, v := range o.configAdd {
		r, err := parseConfigRef("--config-add", v)
		if err != nil {
			return err
		}
		target := r.File.Name
		if target == "" {
			target = "/" + r.ConfigName
		}
		ct.Configs = slices.DeleteFunc(ct.Configs, func(x types.ConfigReference) bool { return path.Clean(x.File.Name) == path.Clean(target) })
		ct.Configs = append(ct.Configs, r)
	}
	return nil
}

func (o *updateOptions) applyPorts(s *types.ServiceSpec) error {
	ep := &s.Endpoint
	for _, v := range o.publishRm {
		p, err := parsePublish(v)
		if err != nil {
			return errors.New(strings.Replace(err.Error(), "--publish", "--publish-rm", 1))
		}
		n := len(ep.Ports)
		ep.Ports = slices.DeleteFunc(ep.Ports, func(x types.PortConfig) bool {
			return x.TargetPort == p.TargetPort && x.Protocol == p.Protocol && (p.PublishedPort == 0 || x.PublishedPort == p.PublishedPort)
		})
		if len(ep.Ports) == n {
			return fmt.Errorf("invalid --publish-rm %s: the service publishes no such port (it publishes %s)", v, orNone(formatPorts(ep.Ports)))
		}
	}
	for _, v := range o.publishAdd {
		p, err := parsePublish(v)
		if err != nil {
			return errors.New(strings.Replace(err.Error(), "--publish", "--publish-add", 1))
		}
		ep.Ports = slices.DeleteFunc(ep.Ports, func(x types.PortConfig) bool {
			return p.PublishedPort != 0 && x.PublishedPort == p.PublishedPort && x.Protocol == p.Protocol
		})
		ep.Ports = append(ep.Ports, p)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func (o *updateOptions) applyResources(fs *pflag.FlagSet, s *types.ServiceSpec) error {
	res := &s.Task.Resources
	for _, r := range []struct {
		flag, value string
		dst         *int64
		parse       func(flag, value string) (int64, error)
	}{
		{"limit-cpu", o.limitCPU, &res.Limits.NanoCPUs, parseCPU},
		{"reserve-cpu", o.reserveCPU, &res.Reservations.NanoCPUs, parseCPU},
		{"limit-memory", o.limitMemory, &res.Limits.MemoryBytes, parseMemory},
		{"reserve-memory", o.reserveMemory, &res.Reservations.MemoryBytes, parseMemory},
	} {
		if !flagChanged(fs, r.flag) {
			continue
		}
		n, err := r.parse(r.flag, r.value)
		if err != nil {
			return err
		}
		*r.dst = n
	}
	if l, rv := res.Limits.NanoCPUs, res.Reservations.NanoCPUs; l > 0 && rv > l {
		return fmt.Errorf("the CPU reservation (%s) would exceed the CPU limit (%s): change both", formatCPU(rv), formatCPU(l))
	}
	if l, rv := res.Limits.MemoryBytes, res.Reservations.MemoryBytes; l > 0 && rv > l {
		return fmt.Errorf("the memory reservation (%s) would exceed the memory limit (%s): change both", formatBytes(rv), formatBytes(l))
	}
	return nil
}

func (o *updateOptions) applyRestart(fs *pflag.FlagSet, s *types.ServiceSpec) error {
	rp := &s.Task.RestartPolicy
	ct := &s.Task.Container
	if flagChanged(fs, "restart-condition") {
		switch c := types.RestartCondition(o.restartCond); c {
		case types.RestartNone, types.RestartOnFailure, types.RestartAny:
			rp.Condition = c
		default:
			return fmt.Errorf("invalid --restart-condition %q: want none, on-failure or any", o.restartCond)
		}
	}
	if flagChanged(fs, "restart-max-attempts") {
		rp.MaxAttempts = o.restartMax
	}
	for _, d := range []struct {
		flag, value string
		dst         **types.Duration
	}{
		{"restart-delay", o.restartDelay, &rp.Delay},
		{"restart-window", o.restartWindow, &rp.Window},
		{"stop-grace-period", o.stopGrace, &ct.StopGracePeriod},
	} {
		if !flagChanged(fs, d.flag) {
			continue
		}
		v, err := parseDuration(d.flag, d.value)
		if err != nil {
			return err
		}
		*d.dst = &v
	}
	if flagChanged(fs, "stop-signal") {
		sig, err := parseSignal(o.stopSignal)
		if err != nil {
			return err
		}
		ct.StopSignal = sig
	}
	return nil
}

func (c *cli) serviceRollbackCommand() *cobra.Command {
	var detach, quiet bool
	cmd := &cobra.Command{
		Use:   "rollback [flags] SERVICE",
		Short: "Go back to a service's previous spec",
		Long: `Put a service back on the spec it had before its last update (the previous
spec, which hive service inspect shows) and roll its tasks back, with the
rollback policy (--rollback-* of service create and update). The spec rolled
away from becomes the previous one, so a second rollback goes forward again.
A rollback can be paused by failures (--rollback-failure-action) but is never
rolled back itself.

Unless --detach is given, progress is shown until the rollback completes.`,
		Example: `  hive service rollback web
  hive service rollback -d web`,
		Args: exactArgs(1, "a SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.rollback(cmd, args[0], detach, quiet)
		},
	}
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "return once the rollback started, without following it")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print no progress")
	return cmd
}

// rollback starts a rollback of ref and follows it unless detach.
func (c *cli) rollback(cmd *cobra.Command, ref string, detach, quiet bool) error {
	cl, err := c.api()
	if err != nil {
		return err
	}
	svc, err := cl.RollbackService(cmd.Context(), ref)
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), svc.Spec.Name)
	if detach {
		return nil
	}
	return c.waitUpdated(cmd.Context(), cl, svc, waitOptions{verb: "rolled back", quiet: quiet, out: cmd.OutOrStdout()})
}
