package dockerapi

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

// unsupportedSpecField is the 400 for a field of a request that hive
// cannot honour: it is refused, never dropped.
func unsupportedSpecField(field string) error {
	return errdefs.Newf(errdefs.ErrInvalidArgument, "hive does not support %s: remove it", field)
}

// isSet reports whether p points to a value other than the zero one.
func isSet[T any](p *T) bool { return p != nil && !reflect.ValueOf(*p).IsZero() }

// serviceSpecFromDocker translates a Docker service spec into hive's. A
// field hive lacks, or a value it cannot honour, is a 400 naming the
// field.
func serviceSpecFromDocker(in swarm.ServiceSpec) (types.ServiceSpec, error) {
	out := types.ServiceSpec{Name: in.Name, Labels: maps.Clone(in.Labels)}
	modes := 0
	for _, set := range []bool{in.Mode.Replicated != nil, in.Mode.Global != nil, in.Mode.ReplicatedJob != nil, in.Mode.GlobalJob != nil} {
		if set {
			modes++
		}
	}
	switch {
	case modes > 1:
		return out, errdefs.Newf(errdefs.ErrInvalidArgument, "must specify only one service mode")
	case in.Mode.ReplicatedJob != nil:
		return out, unsupportedSpecField("Spec.Mode.ReplicatedJob (hive has no jobs)")
	case in.Mode.GlobalJob != nil:
		return out, unsupportedSpecField("Spec.Mode.GlobalJob (hive has no jobs)")
	case in.Mode.Global != nil:
		out.Mode = types.ModeGlobal
	default:
		out.Mode, out.Replicas = types.ModeReplicated, 1
		if in.Mode.Replicated != nil && in.Mode.Replicated.Replicas != nil {
			out.Replicas = *in.Mode.Replicated.Replicas
		}
	}
	var err error
	if out.Task, out.Networks, err = taskSpecFromDocker(in.TaskTemplate, "Spec.TaskTemplate"); err != nil {
		return out, err
	}
	if out.Update, err = updateConfigFromDocker(in.UpdateConfig, "Spec.UpdateConfig"); err != nil {
		return out, err
	}
	if out.Rollback, err = updateConfigFromDocker(in.RollbackConfig, "Spec.RollbackConfig"); err != nil {
		return out, err
	}
	if e := in.EndpointSpec; e != nil {
		switch e.Mode {
		case "", swarm.ResolutionModeVIP, swarm.ResolutionModeDNSRR:
			out.Endpoint.Mode = types.EndpointMode(e.Mode)
		default:
			return out, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid resolution mode: %q", e.Mode)
		}
		for i, p := range e.Ports {
			if p.Name != "" {
				return out, unsupportedSpecField(fmt.Sprintf("Spec.EndpointSpec.Ports[%d].Name", i))
			}
			out.Endpoint.Ports = append(out.Endpoint.Ports, types.PortConfig{Protocol: types.Protocol(p.Protocol),
				TargetPort: p.TargetPort, PublishedPort: p.PublishedPort, PublishMode: types.PublishMode(p.PublishMode)})
		}
	}
	return out, nil
}

// taskSpecFromDocker translates a task template; path names it in errors.
// Docker keeps a service's networks in its task template, hive in its
// spec: they are returned apart.
func taskSpecFromDocker(in swarm.TaskSpec, path string) (types.TaskSpec, []types.NetworkAttachmentConfig, error) {
	var out types.TaskSpec
	switch {
	case in.PluginSpec != nil:
		return out, nil, unsupportedSpecField(path + ".PluginSpec")
	case in.NetworkAttachmentSpec != nil:
		return out, nil, unsupportedSpecField(path + ".NetworkAttachmentSpec")
	case in.Runtime != "" && in.Runtime != swarm.RuntimeContainer:
		return out, nil, unsupportedSpecField(fmt.Sprintf("%s.Runtime %q", path, in.Runtime))
	case in.LogDriver != nil:
		return out, nil, unsupportedSpecField(path + ".LogDriver (hive keeps the runtime's logs)")
	}
	out.ForceUpdate = in.ForceUpdate
	if in.ContainerSpec != nil {
		c, err := containerSpecFromDocker(*in.ContainerSpec, path+".ContainerSpec")
		if err != nil {
			return out, nil, err
		}
		out.Container = c
	}
	if r := in.Resources; r != nil {
		switch {
		case r.Limits != nil && r.Limits.Pids != 0:
			return out, nil, unsupportedSpecField(path + ".Resources.Limits.Pids")
		case r.Reservations != nil && len(r.Reservations.GenericResources) > 0:
			return out, nil, unsupportedSpecField(path + ".Resources.Reservations.GenericResources")
		case r.SwapBytes != nil:
			return out, nil, unsupportedSpecField(path + ".Resources.SwapBytes")
		case r.MemorySwappiness != nil:
			return out, nil, unsupportedSpecField(path + ".Resources.MemorySwappiness")
		}
		if r.Limits != nil {
			out.Resources.Limits = types.Resources{NanoCPUs: r.Limits.NanoCPUs, MemoryBytes: r.Limits.MemoryBytes}
		}
		if r.Reservations != nil {
			out.Resources.Reservations = types.Resources{NanoCPUs: r.Reservations.NanoCPUs, MemoryBytes: r.Reservations.MemoryBytes}
		}
	}
	if p := in.RestartPolicy; p != nil {
		switch p.Condition {
		case "", swarm.RestartPolicyConditionNone, swarm.RestartPolicyConditionOnFailure, swarm.RestartPolicyConditionAny:
			out.RestartPolicy.Condition = types.RestartCondition(p.Condition)
		default:
			return out, nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid RestartCondition: %q", p.Condition)
		}
		out.RestartPolicy.Delay = durationFromDocker(p.Delay)
		out.RestartPolicy.Window = durationFromDocker(p.Window)
		if p.MaxAttempts != nil {
			out.RestartPolicy.MaxAttempts = *p.MaxAttempts
		}
	}
	if p := in.Placement; p != nil {
		switch {
		case len(p.Preferences) > 0:
			return out, nil, unsupportedSpecField(path + ".Placement.Preferences")
		case p.MaxReplicas != 0:
			return out, nil, unsupportedSpecField(path + ".Placement.MaxReplicas")
		case len(p.Platforms) > 0:
			return out, nil, unsupportedSpecField(path + ".Placement.Platforms")
		}
		out.Placement.Constraints = slices.Clone(p.Constraints)
	}
	var nets []types.NetworkAttachmentConfig
	for i, n := range in.Networks {
		if len(n.DriverOpts) > 0 {
			return out, nil, unsupportedSpecField(fmt.Sprintf("%s.Networks[%d].DriverOpts", path, i))
		}
		nets = append(nets, types.NetworkAttachmentConfig{Target: n.Target, Aliases: slices.Clone(n.Aliases)})
	}
	return out, nets, nil
}

// containerSpecFromDocker translates a container spec; path names it in
// errors. Docker's Command is the image's entrypoint and Args its CMD, as
// hive's are.
func containerSpecFromDocker(in swarm.ContainerSpec, path string) (types.ContainerSpec, error) {
	var out types.ContainerSpec
	dnsSet := in.DNSConfig != nil && (len(in.DNSConfig.Nameservers) > 0 || len(in.DNSConfig.Search) > 0 || len(in.DNSConfig.Options) > 0)
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"Groups", len(in.Groups) > 0},
		{"Privileges", isSet(in.Privileges)},
		{"Init", in.Init != nil && *in.Init},
		{"TTY", in.TTY},
		{"OpenStdin", in.OpenStdin},
		{"ReadOnly", in.ReadOnly},
		{"Hosts", len(in.Hosts) > 0},
		{"DNSConfig", dnsSet},
		{"Isolation", in.Isolation != "" && in.Isolation != container.IsolationDefault},
		{"Sysctls", len(in.Sysctls) > 0},
		{"CapabilityAdd", len(in.CapabilityAdd) > 0},
		{"CapabilityDrop", len(in.CapabilityDrop) > 0},
		{"Ulimits", len(in.Ulimits) > 0},
		{"OomScoreAdj", in.OomScoreAdj != 0},
	} {
		if f.set {
			return out, unsupportedSpecField(path + "." + f.name)
		}
	}
	out = types.ContainerSpec{
		Image: in.Image, Command: slices.Clone(in.Command), Args: slices.Clone(in.Args), Env: slices.Clone(in.Env),
		Labels: maps.Clone(in.Labels), Dir: in.Dir, User: in.User, Hostname: in.Hostname,
		StopSignal: in.StopSignal, StopGracePeriod: durationFromDocker(in.StopGracePeriod),
	}
	for i, m := range in.Mounts {
		mp := fmt.Sprintf("%s.Mounts[%d]", path, i)
		switch m.Type {
		case mount.TypeBind, mount.TypeVolume, mount.TypeTmpfs:
		default:
			return out, unsupportedSpecField(fmt.Sprintf("%s.Type %q (hive mounts bind, volume and tmpfs)", mp, m.Type))
		}
		switch {
		case m.Consistency != "" && m.Consistency != mount.ConsistencyDefault:
			return out, unsupportedSpecField(mp + ".Consistency")
		case isSet(m.BindOptions):
			return out, unsupportedSpecField(mp + ".BindOptions")
		case isSet(m.VolumeOptions):
			return out, unsupportedSpecField(mp + ".VolumeOptions")
		case isSet(m.TmpfsOptions):
			return out, unsupportedSpecField(mp + ".TmpfsOptions")
		case m.ImageOptions != nil:
			return out, unsupportedSpecField(mp + ".ImageOptions")
		case m.ClusterOptions != nil:
			return out, unsupportedSpecField(mp + ".ClusterOptions")
		}
		out.Mounts = append(out.Mounts, types.Mount{Type: types.MountType(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	if h := in.Healthcheck; h != nil {
		if h.StartInterval != 0 {
			return out, unsupportedSpecField(path + ".Healthcheck.StartInterval")
		}
		out.Healthcheck = &types.HealthConfig{Test: slices.Clone(h.Test), Interval: types.Duration(h.Interval),
			Timeout: types.Duration(h.Timeout), StartPeriod: types.Duration(h.StartPeriod), Retries: h.Retries}
	}
	for i, s := range in.Secrets {
		if s == nil {
			return out, errdefs.Newf(errdefs.ErrInvalidArgument, "%s.Secrets[%d] is null: give a secret reference", path, i)
		}
		ref := types.SecretReference{SecretID: s.SecretID, SecretName: s.SecretName}
		if s.File != nil {
			ref.File = types.FileTarget{Name: s.File.Name, UID: s.File.UID, GID: s.File.GID, Mode: s.File.Mode}
		}
		out.Secrets = append(out.Secrets, ref)
	}
	for i, c := range in.Configs {
		if c == nil {
			return out, errdefs.Newf(errdefs.ErrInvalidArgument, "%s.Configs[%d] is null: give a config reference", path, i)
		}
		if c.Runtime != nil {
			return out, unsupportedSpecField(fmt.Sprintf("%s.Configs[%d].Runtime", path, i))
		}
		ref := types.ConfigReference{ConfigID: c.ConfigID, ConfigName: c.ConfigName}
		if c.File != nil {
			ref.File = types.FileTarget{Name: c.File.Name, UID: c.File.UID, GID: c.File.GID, Mode: c.File.Mode}
		}
		out.Configs = append(out.Configs, ref)
	}
	return out, nil
}

// updateConfigFromDocker translates an update or rollback policy; a
// Monitor of 0 is Docker's "the default".
func updateConfigFromDocker(in *swarm.UpdateConfig, path string) (*types.UpdateConfig, error) {
	if in == nil {
		return nil, nil
	}
	out := &types.UpdateConfig{Parallelism: in.Parallelism, Delay: types.Duration(in.Delay),
		MaxFailureRatio: float32To64(in.MaxFailureRatio)}
	switch in.FailureAction {
	case "", swarm.UpdateFailureActionPause, swarm.UpdateFailureActionContinue, swarm.UpdateFailureActionRollback:
		out.FailureAction = types.FailureAction(in.FailureAction)
	default:
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "%s.FailureAction: unrecognized update failure action %s", path, in.FailureAction)
	}
	switch in.Order {
	case "", swarm.UpdateOrderStopFirst, swarm.UpdateOrderStartFirst:
		out.Order = types.UpdateOrder(in.Order)
	default:
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "%s.Order: unrecognized update order %s", path, in.Order)
	}
	if in.Monitor != 0 {
		m := types.Duration(in.Monitor)
		out.Monitor = &m
	}
	return out, nil
}

// float32To64 widens f to the float64 that prints as f does (0.1, not
// 0.10000000149011612).
func float32To64(f float32) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	return v
}

func durationFromDocker(d *time.Duration) *types.Duration {
	if d == nil {
		return nil
	}
	v := types.Duration(*d)
	return &v
}

func durationToDocker(d *types.Duration) *time.Duration {
	if d == nil {
		return nil
	}
	v := d.D()
	return &v
}

// serviceSpecToDocker translates hive's service spec into Docker's.
// DependsOn, which Docker cannot express, is left out (an update keeps
// the stored one).
func serviceSpecToDocker(in types.ServiceSpec) swarm.ServiceSpec {
	out := swarm.ServiceSpec{
		Annotations:    swarm.Annotations{Name: in.Name, Labels: nonNilMap(in.Labels)},
		TaskTemplate:   taskSpecToDocker(in.Task, in.Networks),
		UpdateConfig:   updateConfigToDocker(in.Update),
		RollbackConfig: updateConfigToDocker(in.Rollback),
		EndpointSpec:   &swarm.EndpointSpec{Mode: swarm.ResolutionMode(in.Endpoint.Mode), Ports: portsToDocker(in.Endpoint.Ports)},
	}
	if in.Mode == types.ModeGlobal {
		out.Mode.Global = &swarm.GlobalService{}
	} else {
		n := in.Replicas
		out.Mode.Replicated = &swarm.ReplicatedService{Replicas: &n}
	}
	return out
}

// taskSpecToDocker translates a task spec with the networks its tasks
// attach to.
func taskSpecToDocker(in types.TaskSpec, nets []types.NetworkAttachmentConfig) swarm.TaskSpec {
	c := in.Container
	cs := &swarm.ContainerSpec{
		Image: c.Image, Labels: maps.Clone(c.Labels), Command: slices.Clone(c.Command), Args: slices.Clone(c.Args),
		Hostname: c.Hostname, Env: slices.Clone(c.Env), Dir: c.Dir, User: c.User, StopSignal: c.StopSignal,
		StopGracePeriod: durationToDocker(c.StopGracePeriod),
	}
	for _, m := range c.Mounts {
		cs.Mounts = append(cs.Mounts, mount.Mount{Type: mount.Type(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	if h := c.Healthcheck; h != nil {
		cs.Healthcheck = &container.HealthConfig{Test: slices.Clone(h.Test), Interval: h.Interval.D(),
			Timeout: h.Timeout.D(), StartPeriod: h.StartPeriod.D(), Retries: h.Retries}
	}
	for _, s := range c.Secrets {
		f := s.File
		cs.Secrets = append(cs.Secrets, &swarm.SecretReference{SecretID: s.SecretID, SecretName: s.SecretName,
			File: &swarm.SecretReferenceFileTarget{Name: f.Name, UID: f.UID, GID: f.GID, Mode: f.Mode}})
	}
	for _, r := range c.Configs {
		f := r.File
		cs.Configs = append(cs.Configs, &swarm.ConfigReference{ConfigID: r.ConfigID, ConfigName: r.ConfigName,
			File: &swarm.ConfigReferenceFileTarget{Name: f.Name, UID: f.UID, GID: f.GID, Mode: f.Mode}})
	}
	p := in.RestartPolicy
	attempts := p.MaxAttempts
	out := swarm.TaskSpec{
		ContainerSpec: cs,
		Resources: &swarm.ResourceRequirements{
			Limits:       &swarm.Limit{NanoCPUs: in.Resources.Limits.NanoCPUs, MemoryBytes: in.Resources.Limits.MemoryBytes},
			Reservations: &swarm.Resources{NanoCPUs: in.Resources.Reservations.NanoCPUs, MemoryBytes: in.Resources.Reservations.MemoryBytes},
		},
		RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyCondition(p.Condition), Delay: durationToDocker(p.Delay),
			MaxAttempts: &attempts, Window: durationToDocker(p.Window)},
		Placement:   &swarm.Placement{Constraints: slices.Clone(in.Placement.Constraints)},
		ForceUpdate: in.ForceUpdate,
		Runtime:     swarm.RuntimeContainer,
	}
	for _, n := range nets {
		out.Networks = append(out.Networks, swarm.NetworkAttachmentConfig{Target: n.Target, Aliases: slices.Clone(n.Aliases)})
	}
	return out
}

func updateConfigToDocker(in *types.UpdateConfig) *swarm.UpdateConfig {
	if in == nil {
		return nil
	}
	out := &swarm.UpdateConfig{Parallelism: in.Parallelism, Delay: in.Delay.D(), FailureAction: swarm.FailureAction(in.FailureAction),
		MaxFailureRatio: float32(in.MaxFailureRatio), Order: swarm.UpdateOrder(in.Order)}
	if in.Monitor != nil {
		out.Monitor = in.Monitor.D()
	}
	return out
}

func portsToDocker(in []types.PortConfig) []swarm.PortConfig {
	var out []swarm.PortConfig
	for _, p := range in {
		out = append(out, swarm.PortConfig{Protocol: network.IPProtocol(p.Protocol), TargetPort: p.TargetPort,
			PublishedPort: p.PublishedPort, PublishMode: swarm.PortConfigPublishMode(p.PublishMode)})
	}
	return out
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return maps.Clone(m)
}

// serviceToDocker translates a stored service. Its version is hive's.
func serviceToDocker(svc *types.Service) swarm.Service {
	spec := serviceSpecToDocker(svc.Spec)
	out := swarm.Service{
		ID:   svc.ID,
		Meta: metaToDocker(svc.Meta),
		Spec: spec,
		Endpoint: swarm.Endpoint{
			Spec:  *spec.EndpointSpec,
			Ports: portsToDocker(svc.Endpoint.Ports),
		},
	}
	if svc.PreviousSpec != nil {
		prev := serviceSpecToDocker(*svc.PreviousSpec)
		out.PreviousSpec = &prev
	}
	for _, v := range svc.Endpoint.VirtualIPs {
		out.Endpoint.VirtualIPs = append(out.Endpoint.VirtualIPs, swarm.EndpointVirtualIP{NetworkID: v.NetworkID, Addr: v.Addr})
	}
	if u := svc.UpdateStatus; u != nil {
		out.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateState(u.State), StartedAt: timePtr(u.StartedAt),
			CompletedAt: timePtr(u.CompletedAt), Message: u.Message}
	}
	return out
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
