package commands

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/scheduler"
)

// createOptions are the raw flag values of hive service create.
type createOptions struct {
	name          string
	replicas      string
	mode          string
	publish       []string
	env           []string
	envFile       []string
	labels        []string
	constraints   []string
	mounts        []string
	secrets       []string
	configs       []string
	limitCPU      string
	limitMemory   string
	reserveCPU    string
	reserveMemory string
	restartCond   string
	restartDelay  string
	restartMax    uint64
	restartWindow string
	stopGrace     string
	stopSignal    string
	workdir       string
	user          string
	entrypoint    string
	detach        bool
	quiet         bool
	policy        policyOptions
}

func (o *createOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.name, "name", "", "service `NAME` (default: chosen by the cluster)")
	fs.StringVar(&o.replicas, "replicas", "", "run `N` tasks of a replicated service (default 1)")
	fs.StringVar(&o.mode, "mode", "replicated", "service `MODE`: replicated, or global for one task on every node")
	fs.StringArrayVarP(&o.publish, "publish", "p", nil, "publish a `PORT`: [PUBLISHED:]TARGET[/PROTOCOL] or published=8080,target=80,protocol=tcp,mode=ingress|host")
	fs.StringArrayVarP(&o.env, "env", "e", nil, "set an environment variable: `KEY=VALUE`, or KEY to pass the CLI's value")
	fs.StringArrayVar(&o.envFile, "env-file", nil, "read environment variables from `FILE`, one KEY=VALUE per line")
	fs.StringArrayVar(&o.labels, "label", nil, "set a service label: `KEY=VALUE`")
	fs.StringArrayVar(&o.constraints, "constraint", nil, "placement `CONSTRAINT`, as in node.role==manager or node.labels.zone!=east")
	fs.StringArrayVar(&o.mounts, "mount", nil, "mount a filesystem: `MOUNT` is type=bind|volume|tmpfs,source=SRC,target=/PATH[,readonly]")
	fs.StringArrayVar(&o.secrets, "secret", nil, "grant a secret: `SECRET` is NAME, or source=NAME,target=FILE,uid=U,gid=G,mode=0400 (a file in /run/secrets)")
	fs.StringArrayVar(&o.configs, "config", nil, "grant a config: `CONFIG` is NAME, or source=NAME,target=/PATH,uid=U,gid=G,mode=0444 (default target /NAME)")
	fs.StringVar(&o.limitCPU, "limit-cpu", "", "limit each task to `CPUS` CPUs (0.5, 2)")
	fs.StringVar(&o.limitMemory, "limit-memory", "", "limit each task to `SIZE` of memory (512m, 1g)")
	fs.StringVar(&o.reserveCPU, "reserve-cpu", "", "reserve `CPUS` CPUs for each task when scheduling")
	fs.StringVar(&o.reserveMemory, "reserve-memory", "", "reserve `SIZE` of memory for each task when scheduling")
	fs.StringVar(&o.restartCond, "restart-condition", "any", "`CONDITION` to replace a task that ended: none, on-failure or any")
	fs.StringVar(&o.restartDelay, "restart-delay", "", "wait `DURATION` between restarts (default 5s)")
	fs.Uint64Var(&o.restartMax, "restart-max-attempts", 0, "give up after `N` restarts within --restart-window (0: no limit)")
	fs.StringVar(&o.restartWindow, "restart-window", "", "`DURATION` over which restarts are counted (default: the service's life)")
	fs.StringVar(&o.stopGrace, "stop-grace-period", "", "wait `DURATION` after the stop signal before killing a task (default 10s)")
	fs.StringVar(&o.stopSignal, "stop-signal", "", "`SIGNAL` that stops a task's container (default: the image's, else SIGTERM)")
	fs.StringVarP(&o.workdir, "workdir", "w", "", "working `DIR` inside the container")
	fs.StringVarP(&o.user, "user", "u", "", "`USER` the container runs as: NAME, UID or UID:GID")
	fs.StringVar(&o.entrypoint, "entrypoint", "", "replace the image's entrypoint with `COMMAND`, as in --entrypoint \"sh -c\"")
	fs.BoolVarP(&o.detach, "detach", "d", false, "return once the service is created, without waiting for it to converge")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "print only the service ID, no progress")
	o.policy.addFlags(fs)
}

func (c *cli) serviceCreateCommand() *cobra.Command {
	var o createOptions
	cmd := &cobra.Command{
		Use:   "create [flags] IMAGE [COMMAND] [ARG...]",
		Short: "Create a service",
		Long: `Create a service that runs IMAGE. COMMAND and ARGs replace the image's CMD;
--entrypoint replaces its ENTRYPOINT.

Every flag is checked before anything is sent. Unless --detach is given,
hive shows the tasks' progress until the service converges: every task
running, and the same tasks still running a second later. It gives up, and
exits 1 with the reason, when a task is rejected (a missing image, say), a
task cannot be scheduled for 3 seconds, or one slot's task failed 3 times;
the service stays created, so look with 'hive service ps NAME'.`,
		Example: `  hive service create --name web --replicas 3 -p 8080:80 nginx:alpine
  hive service create --name db --mount type=volume,source=data,target=/var/lib/postgresql/data \
      -e POSTGRES_PASSWORD=secret --constraint node.role==manager postgres:16
  hive service create --name api --secret db_password --secret source=tls_key,target=tls/key.pem,mode=0400 \
      --config source=api.yaml,target=/etc/api/config.yaml hive-test/api:v1
  hive service create --name agent --mode global --limit-memory 256m busybox top
  hive service create -d --name job --restart-condition none alpine sh -c 'echo hi'`,
		Args: minArgs(1, "an IMAGE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := o.spec(cmd.Flags(), args, c.lookupEnv)
			if err != nil {
				return err
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			svc, err := cl.CreateService(cmd.Context(), spec)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), svc.ID)
			if o.detach {
				return nil
			}
			return c.waitConverged(cmd.Context(), cl, svc, nil, waitOptions{verb: "created", quiet: o.quiet, out: cmd.OutOrStdout()})
		},
	}
	cmd.Flags().SetInterspersed(false)
	o.addFlags(cmd.Flags())
	return cmd
}

// serviceNameRE is the shape of a service name: a DNS label, since tasks
// are reached by it, with '_' allowed.
var serviceNameRE = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?$`)

// spec checks every flag and argument and builds the service spec. It
// sends nothing; its errors say what to fix.
func (o *createOptions) spec(fs *pflag.FlagSet, args []string, lookup func(string) (string, bool)) (types.ServiceSpec, error) {
	s := types.ServiceSpec{Name: o.name, Mode: types.ModeReplicated, Replicas: 1}
	if o.name != "" && !serviceNameRE.MatchString(o.name) {
		return s, fmt.Errorf("invalid --name %q: use letters, digits, '-' and '_', starting and ending with a letter or digit, at most 63 characters", o.name)
	}

	switch types.ServiceMode(o.mode) {
	case types.ModeReplicated:
	case types.ModeGlobal:
		if flagChanged(fs, "replicas") {
			return s, fmt.Errorf("invalid --replicas with --mode global: a global service runs one task on every node; leave --replicas out or use --mode replicated")
		}
		s.Mode, s.Replicas = types.ModeGlobal, 0
	default:
		return s, fmt.Errorf("invalid --mode %q: want replicated or global", o.mode)
	}
	if flagChanged(fs, "replicas") {
		n, err := parseReplicas("--replicas", o.replicas)
		if err != nil {
			return s, err
		}
		s.Replicas = n
	}

	image := args[0]
	if err := types.ValidateImage(image); err != nil {
		return s, err
	}
	ct := &s.Task.Container
	ct.Image = image
	if len(args) > 1 {
		ct.Args = append([]string(nil), args[1:]...)
	}
	if flagChanged(fs, "entrypoint") {
		words, err := splitWords(o.entrypoint)
		if err != nil {
			return s, fmt.Errorf("invalid --entrypoint: %w", err)
		}
		if len(words) == 0 {
			return s, fmt.Errorf("invalid --entrypoint: it is empty; leave it out to keep the image's entrypoint")
		}
		ct.Command = words
	}

	for _, f := range o.envFile {
		env, err := parseEnvFile(f, lookup)
		if err != nil {
			return s, err
		}
		ct.Env = append(ct.Env, env...)
	}
	for _, e := range o.env {
		kv, ok, err := parseEnv(e, lookup)
		if err != nil {
			return s, err
		}
		if ok {
			ct.Env = append(ct.Env, kv)
		}
	}

	for _, l := range o.labels {
		k, v, err := parseLabel(l)
		if err != nil {
			return s, err
		}
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		s.Labels[k] = v
	}

	targets := map[string]bool{}
	for _, v := range o.mounts {
		m, err := parseMount(v)
		if err != nil {
			return s, err
		}
		t := path.Clean(m.Target)
		if targets[t] {
			return s, fmt.Errorf("invalid --mount %q: %s is already a mount target; give each mount its own target", v, t)
		}
		targets[t] = true
		ct.Mounts = append(ct.Mounts, m)
	}
	for _, v := range o.secrets {
		r, err := parseSecretRef("--secret", v)
		if err != nil {
			return s, err
		}
		ct.Secrets = append(ct.Secrets, r)
	}
	for _, v := range o.configs {
		r, err := parseConfigRef("--config", v)
		if err != nil {
			return s, err
		}
		ct.Configs = append(ct.Configs, r)
	}

	published := map[string]bool{}
	for _, v := range o.publish {
		p, err := parsePublish(v)
		if err != nil {
			return s, err
		}
		if p.PublishedPort != 0 {
			key := fmt.Sprintf("%d/%s", p.PublishedPort, p.Protocol)
			if published[key] {
				return s, fmt.Errorf("invalid --publish %q: port %s is already published; a port can be published once", v, key)
			}
			published[key] = true
		}
		s.Endpoint.Ports = append(s.Endpoint.Ports, p)
	}

	for _, v := range o.constraints {
		if _, err := scheduler.ParseConstraint(v); err != nil {
			return s, fmt.Errorf("%s", strings.Replace(err.Error(), "invalid constraint", "invalid --constraint", 1))
		}
		s.Task.Placement.Constraints = append(s.Task.Placement.Constraints, v)
	}

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
			return s, err
		}
		*r.dst = n
	}
	if l, rv := res.Limits.NanoCPUs, res.Reservations.NanoCPUs; l > 0 && rv > l {
		return s, fmt.Errorf("invalid --reserve-cpu %s: more than --limit-cpu %s", o.reserveCPU, o.limitCPU)
	}
	if l, rv := res.Limits.MemoryBytes, res.Reservations.MemoryBytes; l > 0 && rv > l {
		return s, fmt.Errorf("invalid --reserve-memory %s: more than --limit-memory %s", o.reserveMemory, o.limitMemory)
	}

	rp := &s.Task.RestartPolicy
	switch c := types.RestartCondition(o.restartCond); c {
	case types.RestartNone, types.RestartOnFailure, types.RestartAny:
		rp.Condition = c
	default:
		return s, fmt.Errorf("invalid --restart-condition %q: want none, on-failure or any", o.restartCond)
	}
	rp.MaxAttempts = o.restartMax
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
			return s, err
		}
		*d.dst = &v
	}

	if flagChanged(fs, "stop-signal") {
		sig, err := parseSignal(o.stopSignal)
		if err != nil {
			return s, err
		}
		ct.StopSignal = sig
	}
	if o.workdir != "" && !path.IsAbs(o.workdir) {
		return s, fmt.Errorf("invalid --workdir %q: it must be an absolute path, as in /app", o.workdir)
	}
	ct.Dir = o.workdir
	ct.User = o.user
	if err := o.policy.apply(fs, &s); err != nil {
		return s, err
	}
	return s, nil
}

// parseReplicas parses a replica count, which must be 0 or more.
func parseReplicas(what, value string) (uint64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid %s %s: want a whole number, 0 or more", what, value)
	}
	if n < 0 {
		return 0, fmt.Errorf("invalid %s %d: must be 0 or more", what, n)
	}
	return uint64(n), nil
}
