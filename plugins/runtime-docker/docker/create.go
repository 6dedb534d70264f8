package docker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path"
	"slices"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// VolumeLabel marks the named volumes Docker creates for hive's mounts.
const VolumeLabel = "hive.volume"

// Log rotation of task containers' json-file logs.
const (
	logMaxSize  = "10m"
	logMaxFiles = "3"
)

// Create creates (does not start) the container spec describes on the
// configured network and returns its ID. A container of the same name is
// sdk.ErrAlreadyExists; a missing image is sdk.ErrNotFound; a spec the
// engine cannot run (a bind source that does not exist, a bad port) is
// sdk.ErrInvalidArgument.
func (r *Runtime) Create(ctx context.Context, spec *runtime.ContainerSpec) (string, error) {
	if spec == nil {
		return "", fmt.Errorf("create container: no spec: %w", sdk.ErrInvalidArgument)
	}
	eng, err := r.engine()
	if err != nil {
		return "", err
	}
	cfg, hostCfg, err := containerConfig(spec, eng.network)
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", spec.Name, err)
	}
	if err := checkBindSources(spec.Mounts); err != nil {
		return "", fmt.Errorf("create container %s: %w", spec.Name, err)
	}
	res, err := eng.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:       spec.Name,
		Config:     cfg,
		HostConfig: hostCfg,
	})
	if err != nil {
		if errors.Is(kindOf(err), sdk.ErrNotFound) {
			return "", wrapErr(err, "create container %s: image %s is not on this node; pull it first", spec.Name, spec.Image)
		}
		return "", wrapErr(err, "create container %s", spec.Name)
	}
	for _, w := range res.Warnings {
		r.logger.Warn("docker warned on container create", "container", spec.Name, "warning", w)
	}
	r.logger.Debug("created container", "container", spec.Name, "container_id", res.ID)
	return res.ID, nil
}

// containerConfig translates spec into the engine's container and host
// configuration. It checks what it can without the engine and returns an
// error wrapping sdk.ErrInvalidArgument for a malformed spec.
func containerConfig(spec *runtime.ContainerSpec, networkName string) (*container.Config, *container.HostConfig, error) {
	if spec.Name == "" {
		return nil, nil, fmt.Errorf("the spec has no name: %w", sdk.ErrInvalidArgument)
	}
	if spec.Image == "" {
		return nil, nil, fmt.Errorf("the spec has no image: %w", sdk.ErrInvalidArgument)
	}
	if spec.Resources.NanoCPUs < 0 || spec.Resources.MemoryBytes < 0 {
		return nil, nil, fmt.Errorf("negative resource limit (nano_cpus %d, memory_bytes %d): %w",
			spec.Resources.NanoCPUs, spec.Resources.MemoryBytes, sdk.ErrInvalidArgument)
	}
	if spec.StopTimeout < 0 {
		return nil, nil, fmt.Errorf("negative stop timeout %s: %w", spec.StopTimeout, sdk.ErrInvalidArgument)
	}
	cfg := &container.Config{
		Image:      spec.Image,
		Env:        slices.Clone(spec.Env),
		Labels:     maps.Clone(spec.Labels),
		WorkingDir: spec.WorkingDir,
		User:       spec.User,
		Hostname:   spec.Hostname,
		StopSignal: spec.StopSignal,
	}
	if len(spec.Command) > 0 {
		cfg.Entrypoint = slices.Clone(spec.Command)
	}
	if len(spec.Args) > 0 {
		cfg.Cmd = slices.Clone(spec.Args)
	}
	if spec.StopTimeout > 0 {
		secs := seconds(spec.StopTimeout)
		cfg.StopTimeout = &secs
	}
	hc, err := healthConfig(spec.Healthcheck)
	if err != nil {
		return nil, nil, err
	}
	cfg.Healthcheck = hc
	noInit := false
	hostCfg := &container.HostConfig{
		NetworkMode:   container.NetworkMode(networkName),
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
		Init:          &noInit,
		LogConfig: container.LogConfig{
			Type:   "json-file",
			Config: map[string]string{"max-size": logMaxSize, "max-file": logMaxFiles},
		},
		Resources: container.Resources{
			NanoCPUs: spec.Resources.NanoCPUs,
			Memory:   spec.Resources.MemoryBytes,
		},
	}
	cfg.ExposedPorts, hostCfg.PortBindings, err = portBindings(spec.Ports)
	if err != nil {
		return nil, nil, err
	}
	hostCfg.Mounts, err = mounts(spec.Mounts)
	if err != nil {
		return nil, nil, err
	}
	hostCfg.DNS, err = dnsServers(spec.DNS)
	if err != nil {
		return nil, nil, err
	}
	return cfg, hostCfg, nil
}

// dnsServers parses the spec's DNS servers. The engine lists them, in
// order, as the nameservers of the container's /etc/resolv.conf and keeps
// the host's search domains and options, on every network mode (none
// included).
func dnsServers(servers []string) ([]netip.Addr, error) {
	if len(servers) == 0 {
		return nil, nil
	}
	out := make([]netip.Addr, 0, len(servers))
	for _, s := range servers {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("DNS server %q is not an IP address: %w", s, sdk.ErrInvalidArgument)
		}
		out = append(out, ip)
	}
	return out, nil
}

// healthConfig translates a health check. The engine merges it with the
// image's HEALTHCHECK: an empty test keeps the image's test and zero
// durations and retries keep the image's values; ["NONE"] disables it.
func healthConfig(h *runtime.Healthcheck) (*container.HealthConfig, error) {
	if h == nil {
		return nil, nil
	}
	if len(h.Test) > 0 {
		switch h.Test[0] {
		case "NONE":
		case "CMD", "CMD-SHELL":
			if len(h.Test) < 2 {
				return nil, fmt.Errorf("health check %q has no command: %w", h.Test[0], sdk.ErrInvalidArgument)
			}
		default:
			return nil, fmt.Errorf("health check test %q: want NONE, CMD or CMD-SHELL first: %w", h.Test, sdk.ErrInvalidArgument)
		}
	}
	// The engine refuses intervals and timeouts under a millisecond.
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"interval", h.Interval}, {"timeout", h.Timeout}} {
		if d.v != 0 && d.v < time.Millisecond {
			return nil, fmt.Errorf("health check %s %s: want 0 (the default) or at least 1ms: %w", d.name, d.v, sdk.ErrInvalidArgument)
		}
	}
	if h.StartPeriod < 0 || h.Retries < 0 {
		return nil, fmt.Errorf("health check start period %s or retries %d is negative: %w", h.StartPeriod, h.Retries, sdk.ErrInvalidArgument)
	}
	return &container.HealthConfig{
		Test:        slices.Clone(h.Test),
		Interval:    h.Interval,
		Timeout:     h.Timeout,
		StartPeriod: h.StartPeriod,
		Retries:     h.Retries,
	}, nil
}

// seconds rounds d up to whole seconds, as the engine counts stop timeouts.
func seconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

// portBindings translates host-mode port bindings.
func portBindings(ports []runtime.PortBinding) (network.PortSet, network.PortMap, error) {
	if len(ports) == 0 {
		return nil, nil, nil
	}
	exposed := network.PortSet{}
	bindings := network.PortMap{}
	for _, p := range ports {
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		if proto != "tcp" && proto != "udp" && proto != "sctp" {
			return nil, nil, fmt.Errorf("port %d: protocol %q is not tcp, udp or sctp: %w", p.ContainerPort, p.Protocol, sdk.ErrInvalidArgument)
		}
		if p.ContainerPort == 0 || p.ContainerPort > 65535 || p.HostPort > 65535 {
			return nil, nil, fmt.Errorf("port %d:%d/%s is out of range 1-65535: %w", p.HostPort, p.ContainerPort, proto, sdk.ErrInvalidArgument)
		}
		port, _ := network.PortFrom(uint16(p.ContainerPort), network.IPProtocol(proto))
		b := network.PortBinding{}
		if p.HostPort != 0 {
			b.HostPort = strconv.FormatUint(uint64(p.HostPort), 10)
		}
		if p.HostIP != "" {
			ip, err := netip.ParseAddr(p.HostIP)
			if err != nil {
				return nil, nil, fmt.Errorf("port %d/%s: host IP %q is not an IP address: %w", p.ContainerPort, proto, p.HostIP, sdk.ErrInvalidArgument)
			}
			b.HostIP = ip
		}
		exposed[port] = struct{}{}
		bindings[port] = append(bindings[port], b)
	}
	return exposed, bindings, nil
}

// mounts translates the spec's mounts. A named volume Docker creates for a
// volume mount is labelled VolumeLabel=1.
func mounts(ms []runtime.Mount) ([]mount.Mount, error) {
	var out []mount.Mount
	for _, m := range ms {
		if !path.IsAbs(m.Target) {
			return nil, fmt.Errorf("mount target %q is not an absolute path: %w", m.Target, sdk.ErrInvalidArgument)
		}
		dm := mount.Mount{Target: m.Target, ReadOnly: m.ReadOnly}
		switch m.Type {
		case runtime.MountBind:
			if !path.IsAbs(m.Source) {
				return nil, fmt.Errorf("bind mount source %q for %s is not an absolute host path: %w", m.Source, m.Target, sdk.ErrInvalidArgument)
			}
			dm.Type, dm.Source = mount.TypeBind, m.Source
		case runtime.MountVolume:
			dm.Type, dm.Source = mount.TypeVolume, m.Source
			dm.VolumeOptions = &mount.VolumeOptions{Labels: map[string]string{VolumeLabel: "1"}}
		case runtime.MountTmpfs:
			dm.Type = mount.TypeTmpfs // a tmpfs has no source
		default:
			return nil, fmt.Errorf("mount at %s has type %q; want %s, %s or %s: %w",
				m.Target, m.Type, runtime.MountBind, runtime.MountVolume, runtime.MountTmpfs, sdk.ErrInvalidArgument)
		}
		out = append(out, dm)
	}
	return out, nil
}

// checkBindSources checks that every bind mount's source exists on this
// host, so a typo gives a clear error instead of the engine's.
func checkBindSources(ms []runtime.Mount) error {
	for _, m := range ms {
		if m.Type != runtime.MountBind {
			continue
		}
		if _, err := os.Stat(m.Source); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("bind mount source %s (for %s) does not exist on this node; create it or fix the path: %w", m.Source, m.Target, sdk.ErrInvalidArgument)
			}
			return fmt.Errorf("bind mount source %s (for %s): %v: %w", m.Source, m.Target, err, sdk.ErrInvalidArgument)
		}
	}
	return nil
}
