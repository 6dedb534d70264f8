package stack

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/tree"
	composetypes "github.com/compose-spec/compose-go/v2/types"

	"github.com/hiveorch/hive/core/specparse"
	"github.com/hiveorch/hive/core/types"
)

// service translates the service key s, normalized, recording every
// error (its own and hive's validation's).
func (t *translator) service(key string, s composetypes.ServiceConfig) types.ServiceSpec {
	p := func(parts ...string) tree.Path { return path(append([]string{"services", key}, parts...)...) }
	full := t.stack + "_" + key
	spec := types.ServiceSpec{Name: full, Mode: types.ModeReplicated, Replicas: 1}
	if len(full) > 63 {
		t.fail(p(), "the service's name %s is %d characters long, hive allows 63: shorten the service's or the stack's name", full, len(full))
	}
	c := &spec.Task.Container
	if s.Image == "" {
		t.fail(p(), "it has no image: hive runs images and does not build them; give image")
	}
	c.Image = s.Image
	// compose's entrypoint is the image's ENTRYPOINT (hive's Command),
	// its command the image's CMD (hive's Args), as Swarm translates them.
	c.Command = slices.Clone([]string(s.Entrypoint))
	c.Args = slices.Clone([]string(s.Command))
	c.Env = t.environment(key, s)
	c.Labels = t.stackLabels(s.Labels)
	c.User = s.User
	c.Dir = s.WorkingDir
	c.Hostname = s.Hostname
	if s.StopSignal != "" {
		sig, err := specparse.Signal("stop_signal", s.StopSignal)
		if err != nil {
			t.fail(p("stop_signal"), "%v", err)
		}
		c.StopSignal = sig
	}
	c.StopGracePeriod = duration(s.StopGracePeriod)
	c.Healthcheck = healthcheck(s.HealthCheck)
	spec.Endpoint.Ports = t.ports(key, s.Ports)
	c.Mounts = t.mounts(key, s)
	c.Secrets = t.secretRefs(key, s.Secrets)
	c.Configs = t.configRefs(key, s.Configs)
	spec.Networks = t.attachments(key, s.Networks)
	spec.DependsOn = t.dependsOn(key, s.DependsOn)

	spec.Labels = map[string]string{}
	if d := s.Deploy; d != nil {
		maps.Copy(spec.Labels, d.Labels)
		t.deploy(key, d, &spec)
	}
	spec.Labels[LabelNamespace] = t.stack
	spec.Labels[LabelImage] = s.Image

	spec.Normalize()
	t.failEach(p(), spec.Validate())
	return spec
}

// deploy translates the service's deploy key into spec.
func (t *translator) deploy(key string, d *composetypes.DeployConfig, spec *types.ServiceSpec) {
	p := func(parts ...string) tree.Path {
		return path(append([]string{"services", key, "deploy"}, parts...)...)
	}
	switch d.Mode {
	case "", "replicated":
	case "global":
		spec.Mode, spec.Replicas = types.ModeGlobal, 0
	case "replicated-job", "global-job":
		t.fail(p("mode"), "mode %s: %s; use replicated or global", d.Mode, noteNoJobs)
	default:
		t.fail(p("mode"), "invalid mode %q: use replicated or global", d.Mode)
	}
	if d.Replicas != nil {
		switch {
		case *d.Replicas < 0:
			t.fail(p("replicas"), "invalid replicas %d: give 0 or more", *d.Replicas)
		case spec.Mode == types.ModeGlobal:
			t.fail(p("replicas"), "a global service runs one task on every node: remove replicas, or use mode replicated")
		default:
			spec.Replicas = uint64(*d.Replicas)
		}
	}
	switch m := types.EndpointMode(d.EndpointMode); m {
	case "", types.EndpointVIP, types.EndpointDNSRR:
		spec.Endpoint.Mode = m
	default:
		t.fail(p("endpoint_mode"), "invalid endpoint mode %q: use vip or dnsrr", d.EndpointMode)
	}
	r := &spec.Task.Resources
	for _, x := range []struct {
		what string
		res  *composetypes.Resource
		into *types.Resources
	}{{"limits", d.Resources.Limits, &r.Limits}, {"reservations", d.Resources.Reservations, &r.Reservations}} {
		if x.res == nil {
			continue
		}
		if x.res.NanoCPUs != 0 {
			// compose-go holds cpus as a float32: its shortest decimal
			// form is what the file says, parsed exactly as --limit-cpu.
			v := strconv.FormatFloat(float64(x.res.NanoCPUs), 'f', -1, 32)
			n, err := specparse.CPU("cpus", v)
			if err != nil {
				t.fail(p("resources", x.what, "cpus"), "%v", err)
			}
			x.into.NanoCPUs = n
		}
		x.into.MemoryBytes = int64(x.res.MemoryBytes)
	}
	if rp := d.RestartPolicy; rp != nil {
		spec.Task.RestartPolicy = types.RestartPolicy{
			Condition: types.RestartCondition(rp.Condition),
			Delay:     duration(rp.Delay),
			Window:    duration(rp.Window),
		}
		if rp.MaxAttempts != nil {
			spec.Task.RestartPolicy.MaxAttempts = *rp.MaxAttempts
		}
	}
	spec.Task.Placement.Constraints = slices.Clone(d.Placement.Constraints)
	spec.Update = updateConfig(d.UpdateConfig)
	spec.Rollback = updateConfig(d.RollbackConfig)
}

// environment is the service's env_file then environment (which wins),
// as KEY=VALUE sorted by key. env_file is read as docker stack deploy
// reads it (values as written); a variable given without a value takes
// the process's (or the .env file's) and is left out when it has none.
func (t *translator) environment(key string, s composetypes.ServiceConfig) []string {
	lookup := func(k string) (string, bool) { v, ok := t.p.Environment[k]; return v, ok }
	env := map[string]string{}
	for i, f := range s.EnvFiles {
		p := path("services", key, "env_file")
		switch f.Format {
		case "", "raw":
		default:
			t.fail(p, "format %q of %s: hive reads env files as docker does (KEY=VALUE, values as written); remove format", f.Format, f.Path)
			continue
		}
		if !f.Required {
			if _, err := os.Stat(f.Path); errors.Is(err, fs.ErrNotExist) {
				continue
			}
		}
		vars, err := specparse.EnvFile("env_file", f.Path, lookup)
		if err != nil {
			t.fail(p, "entry %d: %v", i+1, err)
			continue
		}
		for _, kv := range vars {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
	}
	for k, v := range s.Environment {
		if v == nil {
			if val, ok := lookup(k); ok {
				env[k] = val
			} else {
				delete(env, k)
			}
			continue
		}
		env[k] = *v
	}
	if len(env) == 0 {
		return nil
	}
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// healthcheck translates a health check: test (CMD, CMD-SHELL or NONE;
// compose-go has made a string CMD-SHELL), disable, durations, retries.
func healthcheck(h *composetypes.HealthCheckConfig) *types.HealthConfig {
	if h == nil {
		return nil
	}
	if h.Disable {
		return &types.HealthConfig{Test: []string{"NONE"}}
	}
	out := &types.HealthConfig{Test: slices.Clone([]string(h.Test))}
	for _, d := range []struct {
		from *composetypes.Duration
		to   *types.Duration
	}{{h.Interval, &out.Interval}, {h.Timeout, &out.Timeout}, {h.StartPeriod, &out.StartPeriod}} {
		if d.from != nil {
			*d.to = types.Duration(*d.from)
		}
	}
	if h.Retries != nil {
		out.Retries = int(*h.Retries)
	}
	return out
}

// ports translates the published ports, short and long form (compose-go
// has made them all long): published (empty: the cluster chooses),
// target, protocol, mode ingress or host.
func (t *translator) ports(key string, ports []composetypes.ServicePortConfig) []types.PortConfig {
	p := path("services", key, "ports")
	var out []types.PortConfig
	for _, x := range ports {
		pc := types.PortConfig{TargetPort: x.Target, Protocol: types.ProtocolTCP, PublishMode: types.PublishIngress}
		if x.Published != "" {
			if strings.Contains(x.Published, "-") {
				t.fail(p, "published port range %s (target %d): hive publishes one port per target; list each port", x.Published, x.Target)
				continue
			}
			n, err := specparse.Port(x.Published)
			if err != nil {
				t.fail(p, "published port %q: %v", x.Published, err)
				continue
			}
			pc.PublishedPort = n
		}
		if x.Protocol != "" {
			proto, err := specparse.Protocol(x.Protocol)
			if err != nil {
				t.fail(p, "target %d: %v", x.Target, err)
				continue
			}
			pc.Protocol = proto
		}
		switch m := types.PublishMode(x.Mode); m {
		case "", types.PublishIngress, types.PublishHost:
			if m != "" {
				pc.PublishMode = m
			}
		default:
			t.fail(p, "target %d: mode %q: use ingress or host", x.Target, x.Mode)
			continue
		}
		out = append(out, pc)
	}
	return out
}

// mounts translates volumes (named volumes, binds, tmpfs) and tmpfs.
func (t *translator) mounts(key string, s composetypes.ServiceConfig) []types.Mount {
	p := path("services", key, "volumes")
	var out []types.Mount
	for _, v := range s.Volumes {
		m := types.Mount{Target: v.Target, ReadOnly: v.ReadOnly}
		switch v.Type {
		case composetypes.VolumeTypeVolume:
			m.Type = types.MountVolume
			if v.Source != "" {
				name, ok := t.volume(p, v.Source)
				if !ok {
					continue
				}
				m.Source = name
			}
		case composetypes.VolumeTypeBind:
			// The source is a path on the node that runs the task,
			// made absolute against the working directory (as docker
			// stack deploy does); like Swarm, hive does not create it.
			m.Type, m.Source = types.MountBind, v.Source
		case composetypes.VolumeTypeTmpfs:
			m.Type = types.MountTmpfs
		default:
			t.fail(p, "target %s: type %q: use volume, bind or tmpfs", v.Target, v.Type)
			continue
		}
		out = append(out, m)
	}
	for _, tm := range s.Tmpfs {
		target, opts, _ := strings.Cut(tm, ":")
		if opts != "" {
			t.fail(path("services", key, "tmpfs"), "%s: hive's tmpfs mounts take no options (%s); give the path alone", tm, opts)
			continue
		}
		out = append(out, types.Mount{Type: types.MountTmpfs, Target: target})
	}
	return out
}

// secretRefs grants the service the secrets it lists. compose's default
// target, /run/secrets/SOURCE, is hive's SOURCE (relative to
// /run/secrets).
func (t *translator) secretRefs(key string, refs []composetypes.ServiceSecretConfig) []types.SecretReference {
	var out []types.SecretReference
	for _, r := range refs {
		sec, ok := t.p.Secrets[r.Source]
		if !ok {
			t.fail(path("services", key, "secrets"), "secret %s is not defined: add it under the top-level secrets: key", r.Source)
			continue
		}
		name := t.scoped("secrets", r.Source, sec.Name, bool(sec.External))
		target := r.Target
		if rel, ok := strings.CutPrefix(target, types.SecretsDir+"/"); ok {
			target = rel
		}
		out = append(out, types.SecretReference{SecretName: name, File: fileTarget(target, composetypes.FileReferenceConfig(r))})
	}
	return out
}

// configRefs grants the service the configs it lists; the default target
// is /SOURCE, as in Swarm.
func (t *translator) configRefs(key string, refs []composetypes.ServiceConfigObjConfig) []types.ConfigReference {
	var out []types.ConfigReference
	for _, r := range refs {
		cfg, ok := t.p.Configs[r.Source]
		if !ok {
			t.fail(path("services", key, "configs"), "config %s is not defined: add it under the top-level configs: key", r.Source)
			continue
		}
		name := t.scoped("configs", r.Source, cfg.Name, bool(cfg.External))
		target := r.Target
		if target == "" {
			target = "/" + r.Source
		}
		out = append(out, types.ConfigReference{ConfigName: name, File: fileTarget(target, composetypes.FileReferenceConfig(r))})
	}
	return out
}

func fileTarget(target string, r composetypes.FileReferenceConfig) types.FileTarget {
	f := types.FileTarget{Name: target, UID: r.UID, GID: r.GID}
	if r.Mode != nil {
		f.Mode = fs.FileMode(*r.Mode)
	}
	return f
}

// attachments attaches the service to its networks, in name order
// (compose-go gives a service that names none the default network).
func (t *translator) attachments(key string, nets map[string]*composetypes.ServiceNetworkConfig) []types.NetworkAttachmentConfig {
	var out []types.NetworkAttachmentConfig
	for _, n := range slices.Sorted(maps.Keys(nets)) {
		if _, ok := t.p.Networks[n]; !ok {
			t.fail(path("services", key, "networks"), "network %s is not defined: add it under the top-level networks: key", n)
			continue
		}
		t.usedNetworks[n] = true
		a := types.NetworkAttachmentConfig{Target: t.networkName(n)}
		if cfg := nets[n]; cfg != nil {
			a.Aliases = slices.Clone(cfg.Aliases)
		}
		// The service answers to its key on each of its networks, as
		// with docker stack deploy: a stack's files say "db", not
		// "app_db". A key that is no DNS name ("my_db") cannot be one.
		if types.IsDNSName(key) && !slices.Contains(a.Aliases, key) {
			a.Aliases = append(a.Aliases, key)
		}
		out = append(out, a)
	}
	return out
}

// dependsOn translates depends_on, short and long form, into the other
// services' full names, in name order.
func (t *translator) dependsOn(key string, deps composetypes.DependsOnConfig) []types.ServiceDependency {
	var out []types.ServiceDependency
	for _, d := range slices.Sorted(maps.Keys(deps)) {
		cfg := deps[d]
		p := path("services", key, "depends_on", d)
		if _, ok := t.p.Services[d]; !ok {
			t.fail(path("services", key, "depends_on"), "service %s is not in the stack: add it, or remove the dependency", d)
			continue
		}
		if cfg.Restart {
			t.fail(path("services", key, "depends_on", d, "restart"), "hive does not restart a service when its dependency restarts; remove restart")
		}
		if !cfg.Required {
			t.fail(path("services", key, "depends_on", d, "required"), "hive always waits for a dependency of the stack; remove required: false, or the dependency")
		}
		switch c := types.DependencyCondition(cfg.Condition); c {
		case "", types.DependencyStarted, types.DependencyHealthy, types.DependencyCompleted:
			out = append(out, types.ServiceDependency{Service: t.stack + "_" + d, Condition: c})
		default:
			t.fail(p, "invalid condition %q: use %s, %s or %s", cfg.Condition, types.DependencyStarted, types.DependencyHealthy, types.DependencyCompleted)
		}
	}
	return out
}

// updateConfig translates update_config or rollback_config; nil keeps
// hive's defaults.
func updateConfig(u *composetypes.UpdateConfig) *types.UpdateConfig {
	if u == nil {
		return nil
	}
	out := &types.UpdateConfig{
		Parallelism:   types.DefaultUpdateParallelism,
		Delay:         types.Duration(u.Delay),
		FailureAction: types.FailureAction(u.FailureAction),
		Order:         types.UpdateOrder(u.Order),
	}
	if u.Parallelism != nil {
		out.Parallelism = *u.Parallelism
	}
	if u.Monitor != 0 {
		m := types.Duration(u.Monitor)
		out.Monitor = &m
	}
	// compose-go holds the ratio as a float32: its shortest decimal form
	// is what the file says.
	out.MaxFailureRatio, _ = strconv.ParseFloat(strconv.FormatFloat(float64(u.MaxFailureRatio), 'g', -1, 32), 64)
	return out
}

func duration(d *composetypes.Duration) *types.Duration {
	if d == nil {
		return nil
	}
	v := types.Duration(*d)
	return &v
}
