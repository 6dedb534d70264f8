package commands

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/scheduler"
)

// specOption is one option of a service spec, declared once: service
// create sets it with --NAME; service update sets it with --NAME too or,
// for a list, adds to it with --NAME-add and removes from it with
// --NAME-rm. Its functions know no flag set, only the name to put in their
// errors, so a compose file or a Docker API request can go through the
// same table under its own names.
type specOption struct {
	name  string
	short string
	// help is the help of --NAME and of update's --NAME-add; its `WORD`
	// names the value. rmHelp is that of --NAME-rm.
	help, rmHelp string
	// def is create's default: shown in its help, and set when the flag
	// is not given.
	def string
	// only is "create" or "update" for an option the other command lacks.
	only string
	// boolean options are switches: --NAME alone means true.
	boolean bool
	// conflicts are options that cannot be given with this one.
	conflicts []string

	// set applies a single option's value. add applies the values of a
	// list option, each replacing an entry with the same key; rm removes
	// the entries the values name.
	set     func(e specEdit, v string) error
	add, rm func(e specEdit, vs []string) error
}

// specEdit is what an option's function changes and what it needs besides.
type specEdit struct {
	s *types.ServiceSpec
	// flag is the flag being applied as written, "--env-add", for errors.
	flag string
	// lookup reads the CLI's environment, for --env KEY.
	lookup func(string) (string, bool)
	// networkID resolves a network's name, ID or ID prefix to its ID, so
	// that update's --network-add and --network-rm match the IDs a stored
	// spec holds; nil where no cluster is asked (create: the managers
	// resolve the names they get).
	networkID func(ref string) (string, error)
}

func (e specEdit) ct() *types.ContainerSpec { return &e.s.Task.Container }

// specOptions are every option, in the order they are applied.
var specOptions = slices.Concat([]specOption{
	{name: "name", only: "create", help: "service `NAME` (default: chosen by the cluster)", set: func(e specEdit, v string) error {
		if v != "" && !serviceNameRE.MatchString(v) {
			return fmt.Errorf("invalid %s %q: use letters, digits, '-' and '_', starting and ending with a letter or digit, at most 63 characters", e.flag, v)
		}
		e.s.Name = v
		return nil
	}},
	{name: "mode", only: "create", def: string(types.ModeReplicated), help: "service `MODE`: replicated, or global for one task on every node", set: func(e specEdit, v string) error {
		switch m := types.ServiceMode(v); m {
		case types.ModeReplicated, types.ModeGlobal:
			e.s.Mode = m
			if m == types.ModeGlobal {
				e.s.Replicas = 0
			}
			return nil
		}
		return fmt.Errorf("invalid %s %q: want replicated or global", e.flag, v)
	}},
	{name: "replicas", help: "run `N` tasks of a replicated service (default 1)", set: func(e specEdit, v string) error {
		if e.s.Mode == types.ModeGlobal {
			what := "a global service"
			if e.s.Name != "" {
				what = "service " + e.s.Name
			}
			return fmt.Errorf("invalid %s with --mode global: %s runs one task on every node; leave %s out", e.flag, what, e.flag)
		}
		n, err := parseReplicas(e.flag, v)
		e.s.Replicas = n
		return err
	}},
	{name: "image", only: "update", help: "run `IMAGE` instead", set: setImage},
	{name: "args", only: "update", help: "replace the image's CMD with `ARGS`, split as a shell does (\"\": the image's CMD)", set: func(e specEdit, v string) error {
		words, err := splitWords(v)
		if err != nil {
			return fmt.Errorf("invalid %s: %w", e.flag, err)
		}
		e.ct().Args = words
		return nil
	}},
	{name: "entrypoint", help: "replace the image's entrypoint with `COMMAND`, as in --entrypoint \"sh -c\"", set: func(e specEdit, v string) error {
		words, err := splitWords(v)
		switch {
		case err != nil:
			return fmt.Errorf("invalid %s: %w", e.flag, err)
		case len(words) == 0:
			return fmt.Errorf("invalid %s: it is empty; leave it out to keep the image's entrypoint", e.flag)
		}
		e.ct().Command = words
		return nil
	}},
	{name: "env-file", only: "create", help: "read environment variables from `FILE`, one KEY=VALUE per line", add: func(e specEdit, files []string) error {
		for _, f := range files {
			env, err := parseEnvFile(e.flag, f, e.lookup)
			if err != nil {
				return err
			}
			e.ct().Env = append(e.ct().Env, env...)
		}
		return nil
	}},
	{name: "env", short: "e", help: "set an environment variable: `KEY=VALUE`, or KEY to pass the CLI's value", rmHelp: "remove the environment variable `KEY`",
		add: func(e specEdit, vs []string) error {
			for _, v := range vs {
				kv, ok, err := parseEnv(e.flag, v, e.lookup)
				if err != nil {
					return err
				}
				if ok {
					e.ct().Env = append(dropEnv(e.ct().Env, kv), kv)
				}
			}
			return nil
		},
		rm: func(e specEdit, keys []string) error {
			for _, k := range keys {
				e.ct().Env = dropEnv(e.ct().Env, k)
			}
			return nil
		}},
	labelOption("label", "service label", func(s *types.ServiceSpec) *map[string]string { return &s.Labels }),
	labelOption("container-label", "container label", func(s *types.ServiceSpec) *map[string]string { return &s.Task.Container.Labels }),
	{name: "mount", help: "mount a filesystem: `MOUNT` is type=bind|volume|tmpfs,source=SRC,target=/PATH[,readonly]", rmHelp: "remove the mount at `TARGET`",
		add: func(e specEdit, vs []string) error {
			var err error
			e.ct().Mounts, err = addKeyed(e.ct().Mounts, vs, func(v string) (types.Mount, error) { return parseMount(e.flag, v) },
				func(m types.Mount) string { return path.Clean(m.Target) },
				func(v, t string) error {
					return fmt.Errorf("invalid %s %q: %s is already a mount target; give each mount its own target", e.flag, v, t)
				})
			return err
		},
		rm: func(e specEdit, targets []string) error {
			var err error
			e.ct().Mounts, err = rmKeyed(e.ct().Mounts, targets, func(m types.Mount, t string) bool { return path.Clean(m.Target) == path.Clean(t) },
				func(t string) error {
					return fmt.Errorf("invalid %s %s: the service has no mount at that target", e.flag, t)
				})
			return err
		}},
	grantOption("secret", "grant a secret: `SECRET` is NAME, or source=NAME,target=FILE,uid=U,gid=G,mode=0400 (a file in /run/secrets)",
		func(c *types.ContainerSpec) *[]types.SecretReference { return &c.Secrets }, parseSecretRef,
		func(r types.SecretReference) (string, string, string) {
			return r.SecretName, r.SecretID, orDefault(r.File.Name, r.SecretName)
		}),
	grantOption("config", "grant a config: `CONFIG` is NAME, or source=NAME,target=/PATH,uid=U,gid=G,mode=0444 (default target /NAME)",
		func(c *types.ContainerSpec) *[]types.ConfigReference { return &c.Configs }, parseConfigRef,
		func(r types.ConfigReference) (string, string, string) {
			return r.ConfigName, r.ConfigID, orDefault(r.File.Name, "/"+r.ConfigName)
		}),
	{name: "publish", short: "p", help: "publish a `PORT`: [PUBLISHED:]TARGET[/PROTOCOL] or published=8080,target=80,protocol=tcp,mode=ingress|host",
		rmHelp: "stop publishing the port of target `PORT`: TARGET[/PROTOCOL], or PUBLISHED:TARGET",
		add: func(e specEdit, vs []string) error {
			var err error
			e.s.Endpoint.Ports, err = addKeyed(e.s.Endpoint.Ports, vs, func(v string) (types.PortConfig, error) { return parsePublish(e.flag, v) },
				func(p types.PortConfig) string {
					if p.PublishedPort == 0 {
						return "" // the cluster chooses the port: it takes none's place
					}
					return fmt.Sprintf("%d/%s", p.PublishedPort, p.Protocol)
				},
				func(v, key string) error {
					return fmt.Errorf("invalid %s %q: port %s is already published; a port can be published once", e.flag, v, key)
				})
			return err
		},
		rm: func(e specEdit, vs []string) error {
			ep := &e.s.Endpoint
			for _, v := range vs {
				p, err := parsePublish(e.flag, v)
				if err != nil {
					return err
				}
				if ep.Ports, err = rmKeyed(ep.Ports, []string{v}, func(x types.PortConfig, _ string) bool {
					return x.TargetPort == p.TargetPort && x.Protocol == p.Protocol && (p.PublishedPort == 0 || x.PublishedPort == p.PublishedPort)
				}, func(string) error {
					return fmt.Errorf("invalid %s %s: the service publishes no such port (it publishes %s)", e.flag, v, orDefault(formatPorts(ep.Ports), "none"))
				}); err != nil {
					return err
				}
			}
			return nil
		}},
	{name: "network", help: "attach the tasks to a network: `NETWORK` is NAME, or name=NAME,alias=ALIAS[,alias=ALIAS...]",
		rmHelp: "detach the tasks from the network `NETWORK`: its name or ID",
		add: func(e specEdit, vs []string) error {
			var err error
			e.s.Networks, err = addKeyed(e.s.Networks, vs, func(v string) (types.NetworkAttachmentConfig, error) {
				att, err := parseNetworkAttachment(e.flag, v)
				if err == nil && e.networkID != nil {
					att.Target, err = e.networkID(att.Target)
				}
				return att, err
			}, func(a types.NetworkAttachmentConfig) string { return a.Target },
				func(v, target string) error {
					return fmt.Errorf("invalid %s %q: network %s is given twice; attach the service to it once", e.flag, v, target)
				})
			return err
		},
		rm: func(e specEdit, refs []string) error {
			for _, ref := range refs {
				id, hint := ref, " (give its ID, as hive network ls shows it)"
				if e.networkID != nil {
					var err error
					if id, err = e.networkID(ref); err != nil {
						return err
					}
					hint = ""
				}
				var err error
				e.s.Networks, err = rmKeyed(e.s.Networks, []string{id}, func(a types.NetworkAttachmentConfig, id string) bool {
					return a.Target == id || (e.networkID == nil && strings.HasPrefix(a.Target, id))
				}, func(string) error {
					return fmt.Errorf("invalid %s %s: the service is not attached to that network%s", e.flag, ref, hint)
				})
				if err != nil {
					return err
				}
			}
			return nil
		}},
	{name: "endpoint-mode", help: "reach the service by `MODE`: vip (its name resolves to a virtual IP balanced across its tasks) or dnsrr (to its tasks' addresses) (default vip)",
		set: func(e specEdit, v string) error {
			switch m := types.EndpointMode(v); m {
			case types.EndpointVIP, types.EndpointDNSRR:
				e.s.Endpoint.Mode = m
				return nil
			}
			return fmt.Errorf("invalid %s %q: want vip or dnsrr", e.flag, v)
		}},
	{name: "constraint", help: "placement `CONSTRAINT`, as in node.role==manager or node.labels.zone!=east", rmHelp: "remove the placement `CONSTRAINT`",
		add: func(e specEdit, vs []string) error {
			p := &e.s.Task.Placement
			for _, v := range vs {
				var ce *scheduler.ConstraintError
				if _, err := scheduler.ParseConstraint(v); errors.As(err, &ce) {
					return fmt.Errorf("invalid %s %q: %s", e.flag, v, ce.Reason)
				}
				if !slices.Contains(p.Constraints, v) {
					p.Constraints = append(p.Constraints, v)
				}
			}
			return nil
		},
		rm: func(e specEdit, vs []string) error {
			var err error
			e.s.Task.Placement.Constraints, err = rmKeyed(e.s.Task.Placement.Constraints, vs, func(c, v string) bool { return strings.TrimSpace(c) == strings.TrimSpace(v) }, nil)
			return err
		}},
	resourceOption("limit-cpu", "limit each task to `CPUS` CPUs (0.5, 2; 0: no limit)", parseCPU, func(r *types.Requirements) *int64 { return &r.Limits.NanoCPUs }),
	resourceOption("limit-memory", "limit each task to `SIZE` of memory (512m, 1g; 0: no limit)", parseMemory, func(r *types.Requirements) *int64 { return &r.Limits.MemoryBytes }),
	resourceOption("reserve-cpu", "reserve `CPUS` CPUs for each task when scheduling", parseCPU, func(r *types.Requirements) *int64 { return &r.Reservations.NanoCPUs }),
	resourceOption("reserve-memory", "reserve `SIZE` of memory for each task when scheduling", parseMemory, func(r *types.Requirements) *int64 { return &r.Reservations.MemoryBytes }),
	{name: "restart-condition", def: string(types.RestartAny), help: "`CONDITION` to replace a task that ended: none, on-failure or any", set: func(e specEdit, v string) error {
		switch c := types.RestartCondition(v); c {
		case types.RestartNone, types.RestartOnFailure, types.RestartAny:
			e.s.Task.RestartPolicy.Condition = c
			return nil
		}
		return fmt.Errorf("invalid %s %q: want none, on-failure or any", e.flag, v)
	}},
	durationOption("restart-delay", "wait `DURATION` between restarts (default 5s)", func(s *types.ServiceSpec) **types.Duration { return &s.Task.RestartPolicy.Delay }),
	{name: "restart-max-attempts", help: "give up after `N` restarts within --restart-window (0: no limit)", set: func(e specEdit, v string) error {
		n, err := parseReplicas(e.flag, v)
		e.s.Task.RestartPolicy.MaxAttempts = n
		return err
	}},
	durationOption("restart-window", "`DURATION` over which restarts are counted (default: the service's life)", func(s *types.ServiceSpec) **types.Duration { return &s.Task.RestartPolicy.Window }),
	durationOption("stop-grace-period", "wait `DURATION` after the stop signal before killing a task (default 10s)", func(s *types.ServiceSpec) **types.Duration { return &s.Task.Container.StopGracePeriod }),
	{name: "stop-signal", help: "`SIGNAL` that stops a task's container (default: the image's, else SIGTERM)", set: func(e specEdit, v string) error {
		sig, err := parseSignal(e.flag, v)
		e.ct().StopSignal = sig
		return err
	}},
	{name: "workdir", short: "w", help: "working `DIR` inside the container", set: func(e specEdit, v string) error {
		if v != "" && !path.IsAbs(v) {
			return fmt.Errorf("invalid %s %q: it must be an absolute path, as in /app", e.flag, v)
		}
		e.ct().Dir = v
		return nil
	}},
	{name: "user", short: "u", help: "`USER` the container runs as: NAME, UID or UID:GID", set: func(e specEdit, v string) error {
		e.ct().User = v
		return nil
	}},
	{name: "hostname", help: "container `HOSTNAME`, which may name {{.Service.Name}}, {{.Task.Slot}}, {{.Node.Hostname}} and friends", set: func(e specEdit, v string) error {
		if v != "" {
			if _, err := types.ExpandHostname(v, types.SampleHostnameData()); err != nil {
				return fmt.Errorf("invalid %s %q: %w", e.flag, v, err)
			}
		}
		e.ct().Hostname = v
		return nil
	}},
	{name: "health-cmd", help: "check the task's health by running `COMMAND` with the container's shell (exit 0: healthy)", set: func(e specEdit, v string) error {
		if v == "" {
			return fmt.Errorf("invalid %s: it is empty; give the command to run, or use --no-healthcheck", e.flag)
		}
		health(e.s).Test = []string{"CMD-SHELL", v}
		return nil
	}},
	healthDuration("health-interval", "run the health check every `DURATION` (default 30s)", func(h *types.HealthConfig) *types.Duration { return &h.Interval }),
	healthDuration("health-timeout", "give a health check at most `DURATION` (default 30s)", func(h *types.HealthConfig) *types.Duration { return &h.Timeout }),
	healthDuration("health-start-period", "ignore failed health checks for `DURATION` after the start (default 0s)", func(h *types.HealthConfig) *types.Duration { return &h.StartPeriod }),
	{name: "health-retries", help: "count a task unhealthy after `N` failed health checks in a row (default 3)", set: func(e specEdit, v string) error {
		n, err := parseReplicas(e.flag, v)
		if err == nil {
			health(e.s).Retries = int(n)
		}
		return err
	}},
	{name: "no-healthcheck", boolean: true, help: "disable any health check, the image's included",
		conflicts: []string{"health-cmd", "health-interval", "health-timeout", "health-start-period", "health-retries"},
		set: func(e specEdit, v string) error {
			if v == "true" {
				e.ct().Healthcheck = &types.HealthConfig{Test: []string{"NONE"}}
			}
			return nil
		}},
}, policyOptions("update", "pause, continue or rollback", func(s *types.ServiceSpec) **types.UpdateConfig { return &s.Update }),
	policyOptions("rollback", "pause or continue", func(s *types.ServiceSpec) **types.UpdateConfig { return &s.Rollback }),
	[]specOption{{name: "force", only: "update", boolean: true, help: "replace every task even if nothing changed (and resume a paused update)", set: func(e specEdit, v string) error {
		if v == "true" {
			e.s.Task.ForceUpdate++
		}
		return nil
	}}})

// setImage sets the image the tasks run.
func setImage(e specEdit, v string) error {
	if err := types.ValidateImage(v); err != nil {
		return err
	}
	e.ct().Image = v
	return nil
}

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// dropEnv removes the variable named by kv (KEY or KEY=VALUE) from env.
func dropEnv(env []string, kv string) []string {
	key, _, _ := strings.Cut(kv, "=")
	return slices.DeleteFunc(env, func(x string) bool { k, _, _ := strings.Cut(x, "="); return k == key })
}

// labelOption is a map of labels: KEY=VALUE sets one, KEY removes one.
func labelOption(name, what string, field func(*types.ServiceSpec) *map[string]string) specOption {
	return specOption{name: name, help: "set a " + what + ": `KEY=VALUE`", rmHelp: "remove the " + what + " `KEY`",
		add: func(e specEdit, vs []string) error {
			m := field(e.s)
			for _, l := range vs {
				k, v, err := parseLabel(e.flag, l)
				if err != nil {
					return err
				}
				if *m == nil {
					*m = map[string]string{}
				}
				(*m)[k] = v
			}
			return nil
		},
		rm: func(e specEdit, keys []string) error {
			for _, k := range keys {
				delete(*field(e.s), k)
			}
			return nil
		}}
}

// grantOption grants secrets or configs (kind): ref gives a grant's
// name, ID and target file. A grant replaces one to the same file; --X-rm
// takes a name or an ID.
func grantOption[T any](kind, help string, field func(*types.ContainerSpec) *[]T, parse func(flag, v string) (T, error), ref func(T) (name, id, target string)) specOption {
	return specOption{name: kind, help: help, rmHelp: "stop granting the " + kind + " `NAME`",
		add: func(e specEdit, vs []string) error {
			list := field(e.ct())
			var err error
			*list, err = addKeyed(*list, vs, func(v string) (T, error) { return parse(e.flag, v) },
				func(r T) string { _, _, t := ref(r); return path.Clean(t) }, nil)
			return err
		},
		rm: func(e specEdit, names []string) error {
			list := field(e.ct())
			var err error
			*list, err = rmKeyed(*list, names, func(r T, n string) bool { name, id, _ := ref(r); return n == name || n == id },
				func(n string) error {
					return fmt.Errorf("invalid %s %s: the service is not granted that %s", e.flag, n, kind)
				})
			return err
		}}
}

// resourceOption is a limit or reservation of the tasks' resources.
func resourceOption(name, help string, parse func(flag, v string) (int64, error), field func(*types.Requirements) *int64) specOption {
	return specOption{name: name, help: help, set: func(e specEdit, v string) error {
		n, err := parse(e.flag, v)
		*field(&e.s.Task.Resources) = n
		return err
	}}
}

// durationOption is a duration that is left out (nil) unless given.
func durationOption(name, help string, field func(*types.ServiceSpec) **types.Duration) specOption {
	return specOption{name: name, help: help, set: func(e specEdit, v string) error {
		d, err := parseDuration(e.flag, v)
		*field(e.s) = &d
		return err
	}}
}

// health returns the spec's health check to change, a new one in place of
// none or of --no-healthcheck's.
func health(s *types.ServiceSpec) *types.HealthConfig {
	ct := &s.Task.Container
	if ct.Healthcheck == nil || ct.Healthcheck.Disabled() {
		ct.Healthcheck = &types.HealthConfig{}
	}
	return ct.Healthcheck
}

// healthDuration is a duration of the health check; but for the start
// period, one below 1ms (other than 0, the default) is refused.
func healthDuration(name, help string, field func(*types.HealthConfig) *types.Duration) specOption {
	return specOption{name: name, help: help, set: func(e specEdit, v string) error {
		d, err := parseDuration(e.flag, v)
		if err != nil {
			return err
		}
		if name != "health-start-period" && d != 0 && d.D() < 1e6 {
			return fmt.Errorf("invalid %s %s: use at least 1ms", e.flag, v)
		}
		*field(health(e.s)) = d
		return nil
	}}
}

// policyOptions are the options of an update policy (prefix "update") or
// of the rollback policy ("rollback"); the first given starts from the
// defaults.
func policyOptions(prefix, actions string, field func(*types.ServiceSpec) **types.UpdateConfig) []specOption {
	cfg := func(s *types.ServiceSpec) *types.UpdateConfig {
		if p := field(s); *p == nil {
			*p = types.DefaultUpdateConfig()
		}
		return *field(s)
	}
	return []specOption{
		{name: prefix + "-parallelism", help: "let the " + prefix + " replace `N` tasks at once (0: all at once; default 1)", set: func(e specEdit, v string) error {
			n, err := parseReplicas(e.flag, v)
			if err == nil {
				cfg(e.s).Parallelism = n
			}
			return err
		}},
		{name: prefix + "-delay", help: "wait `DURATION` after a batch ran (and was monitored) before the next one (default 0s)", set: func(e specEdit, v string) error {
			d, err := parseDuration(e.flag, v)
			if err == nil {
				cfg(e.s).Delay = d
			}
			return err
		}},
		{name: prefix + "-failure-action", help: "do `ACTION` when too many new tasks fail: " + actions + " (default pause)", set: func(e specEdit, v string) error {
			switch a := types.FailureAction(v); {
			case a == types.FailurePause, a == types.FailureContinue, a == types.FailureRollback && prefix == "update":
				cfg(e.s).FailureAction = a
				return nil
			case prefix == "rollback":
				return fmt.Errorf("invalid %s %q: want pause or continue (a rollback is not rolled back)", e.flag, v)
			}
			return fmt.Errorf("invalid %s %q: want pause, continue or rollback", e.flag, v)
		}},
		{name: prefix + "-monitor", help: "watch each batch's new tasks for failure for `DURATION` once they run (default 5s)", set: func(e specEdit, v string) error {
			d, err := parseDuration(e.flag, v)
			if err == nil {
				cfg(e.s).Monitor = &d
			}
			return err
		}},
		{name: prefix + "-max-failure-ratio", help: "let a fraction `RATIO` (0 to 1) of the tasks fail before the failure action (default 0)", set: func(e specEdit, v string) error {
			r, err := strconv.ParseFloat(v, 64)
			if err != nil || r < 0 || r > 1 {
				return fmt.Errorf("invalid %s %q: want a fraction from 0 to 1, such as 0.2", e.flag, v)
			}
			cfg(e.s).MaxFailureRatio = r
			return nil
		}},
		{name: prefix + "-order", help: "replace a slot's task in `ORDER`: stop-first or start-first (default stop-first)", set: func(e specEdit, v string) error {
			switch o := types.UpdateOrder(v); o {
			case types.OrderStopFirst, types.OrderStartFirst:
				cfg(e.s).Order = o
				return nil
			}
			return fmt.Errorf("invalid %s %q: want stop-first or start-first", e.flag, v)
		}},
	}
}

// addKeyed parses each value and adds it to list, replacing an entry with
// the same key; a key of "" replaces nothing. Two values with one key are
// an error made by dup, or the later replaces the earlier when dup is nil.
func addKeyed[T any](list []T, values []string, parse func(string) (T, error), key func(T) string, dup func(value, key string) error) ([]T, error) {
	seen := map[string]bool{}
	for _, v := range values {
		item, err := parse(v)
		if err != nil {
			return nil, err
		}
		if k := key(item); k != "" {
			if seen[k] && dup != nil {
				return nil, dup(v, k)
			}
			seen[k] = true
			list = slices.DeleteFunc(list, func(x T) bool { return key(x) == k })
		}
		list = append(list, item)
	}
	return list, nil
}

// rmKeyed removes the entries of list that match each value; one that
// matches none is an error made by missing, or ignored when it is nil.
func rmKeyed[T any](list []T, values []string, match func(T, string) bool, missing func(value string) error) ([]T, error) {
	for _, v := range values {
		n := len(list)
		list = slices.DeleteFunc(list, func(x T) bool { return match(x, v) })
		if len(list) == n && missing != nil {
			return nil, missing(v)
		}
	}
	return list, nil
}

// addSpecFlags registers the options' flags on fs for command, "create" or
// "update".
func addSpecFlags(fs *pflag.FlagSet, command string) {
	for _, o := range specOptions {
		switch {
		case o.only != "" && o.only != command:
		case o.boolean:
			fs.BoolP(o.name, o.short, false, o.help)
		case o.add == nil:
			fs.StringP(o.name, o.short, o.def, o.help)
		case command == "create":
			fs.StringArrayP(o.name, o.short, nil, o.help)
		default:
			fs.StringArray(o.name+"-add", nil, o.help)
			if o.rm != nil {
				fs.StringArray(o.name+"-rm", nil, o.rmHelp)
			}
		}
	}
}

// applySpecFlags applies the options given on fs (registered by
// addSpecFlags for command) to s in the table's order, a list's removals
// before its additions; on create, an option not given takes its default.
// It then refuses a reservation above its limit. It resolves no network
// name: see applySpecFlagsResolving.
func applySpecFlags(fs *pflag.FlagSet, command string, s *types.ServiceSpec, lookup func(string) (string, bool)) error {
	return applySpecFlagsResolving(fs, command, s, lookup, nil)
}

// applySpecFlagsResolving is applySpecFlags with networkID to resolve the
// networks update's --network-add and --network-rm name (see
// networkResolver); without it --network-rm takes only IDs and ID
// prefixes.
func applySpecFlagsResolving(fs *pflag.FlagSet, command string, s *types.ServiceSpec, lookup func(string) (string, bool), networkID func(string) (string, error)) error {
	for _, o := range specOptions {
		if o.only != "" && o.only != command {
			continue
		}
		for _, c := range o.conflicts {
			if flagChanged(fs, o.name) && flagChanged(fs, c) {
				return fmt.Errorf("--%s conflicts with --%s: leave one of them out", o.name, c)
			}
		}
		apply := func(name string, fn func(specEdit, []string) error) error {
			f := fs.Lookup(name)
			if f == nil || !f.Changed {
				return nil
			}
			return fn(specEdit{s: s, flag: "--" + name, lookup: lookup, networkID: networkID}, f.Value.(pflag.SliceValue).GetSlice())
		}
		var err error
		switch {
		case o.add == nil:
			v := o.def
			if f := fs.Lookup(o.name); f.Changed {
				v = f.Value.String()
			} else if command != "create" || v == "" {
				continue
			}
			err = o.set(specEdit{s: s, flag: "--" + o.name, lookup: lookup, networkID: networkID}, v)
		case command == "create":
			err = apply(o.name, o.add)
		default:
			if err = apply(o.name+"-rm", o.rm); err == nil {
				err = apply(o.name+"-add", o.add)
			}
		}
		if err != nil {
			return err
		}
	}
	res := s.Task.Resources
	if l, r := res.Limits.NanoCPUs, res.Reservations.NanoCPUs; l > 0 && r > l {
		return fmt.Errorf("invalid --reserve-cpu %s: more than --limit-cpu %s; lower the one or raise the other", formatCPU(r), formatCPU(l))
	}
	if l, r := res.Limits.MemoryBytes, res.Reservations.MemoryBytes; l > 0 && r > l {
		return fmt.Errorf("invalid --reserve-memory %s: more than --limit-memory %s; lower the one or raise the other", formatBytes(r), formatBytes(l))
	}
	return nil
}
