package containerd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	cerrdefs "github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// defaultStopTimeout is the grace period of a container created without
// one, as Docker's.
const defaultStopTimeout = 10 * time.Second

// cpuPeriod is the CFS period CPU limits are expressed in (100ms).
const cpuPeriod = 100_000

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// Create creates (does not start) the container spec describes and
// returns its ID: a containerd container in the namespace with a snapshot
// of the image for its root, and a directory under root/containers for
// its logs and its /etc/hosts, /etc/hostname and /etc/resolv.conf. A
// container of the same name is sdk.ErrAlreadyExists; an image that is not
// there is sdk.ErrNotFound; a spec that cannot run (a bind source that
// does not exist, a bad port or signal) is sdk.ErrInvalidArgument.
func (r *Runtime) Create(ctx context.Context, spec *runtime.ContainerSpec) (string, error) {
	if spec == nil {
		return "", fmt.Errorf("create container: no spec: %w", sdk.ErrInvalidArgument)
	}
	if err := checkSpec(spec); err != nil {
		return "", fmt.Errorf("create container %s: %w", spec.Name, err)
	}
	eng, err := r.engine()
	if err != nil {
		return "", err
	}
	unlock := r.locks.lock("name/" + spec.Name)
	defer unlock()
	if _, err := eng.resolveName(ctx, spec.Name); err == nil {
		return "", fmt.Errorf("create container %s: the name is already in use: %w", spec.Name, sdk.ErrAlreadyExists)
	} else if !errors.Is(err, sdk.ErrNotFound) {
		return "", fmt.Errorf("create container %s: %w", spec.Name, err)
	}

	imageName, err := normalizeRef(spec.Image)
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", spec.Name, err)
	}
	img, err := eng.client.GetImage(eng.ctx(ctx), imageName)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return "", fmt.Errorf("create container %s: image %s is not on this node; pull it first: %w", spec.Name, spec.Image, sdk.ErrNotFound)
		}
		return "", wrapErr(err, "create container %s: image %s", spec.Name, spec.Image)
	}
	if err := eng.unpack(ctx, img, spec.Image); err != nil {
		return "", fmt.Errorf("create container %s: %w", spec.Name, err)
	}
	imgSpec, err := img.Spec(eng.ctx(ctx))
	if err != nil {
		return "", wrapErr(err, "create container %s: configuration of image %s", spec.Name, spec.Image)
	}
	extras, err := eng.extras(ctx, img)
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", spec.Name, err)
	}

	labels, err := containerLabels(spec, extras)
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", spec.Name, err)
	}
	id := newID()
	hostname := spec.Hostname
	if hostname == "" {
		hostname = id[:12]
	}
	dir := eng.containerDir(id)
	files, err := writeEtcFiles(dir, hostname, spec.DNS)
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", spec.Name, err)
	}
	mounts, err := eng.mounts(spec.Mounts)
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("create container %s: %w", spec.Name, err)
	}
	mounts = append(mounts, files...)

	specOpts := []oci.SpecOpts{
		oci.WithImageConfig(img),
		oci.WithHostname(hostname),
		withArgs(spec.Command, spec.Args, imgSpec.Config.Entrypoint, imgSpec.Config.Cmd),
		oci.WithEnv(spec.Env),
		oci.WithMounts(mounts),
	}
	if spec.WorkingDir != "" {
		specOpts = append(specOpts, oci.WithProcessCwd(spec.WorkingDir))
	}
	if spec.User != "" {
		user, _, _ := strings.Cut(spec.User, ":")
		specOpts = append(specOpts, oci.WithUser(spec.User), oci.WithAdditionalGIDs(user))
	}
	if m := spec.Resources.MemoryBytes; m > 0 {
		specOpts = append(specOpts, oci.WithMemoryLimit(uint64(m)))
	}
	if n := spec.Resources.NanoCPUs; n > 0 {
		specOpts = append(specOpts, oci.WithCPUCFS(max(n*cpuPeriod/1e9, 1000), cpuPeriod))
	}
	_, err = eng.client.NewContainer(eng.ctx(ctx), id,
		containerd.WithImageName(imageName),
		containerd.WithSnapshotter(eng.Snapshotter),
		containerd.WithNewSnapshot(id, img),
		containerd.WithNewSpec(specOpts...),
		containerd.WithContainerLabels(labels),
	)
	if err != nil {
		_ = os.RemoveAll(dir)
		// A failed create may leave the snapshot behind.
		_ = eng.client.SnapshotService(eng.Snapshotter).Remove(eng.ctx(context.WithoutCancel(ctx)), id)
		return "", wrapErr(err, "create container %s", spec.Name)
	}
	r.logger.Debug("created container", "container", spec.Name, "container_id", id)
	return id, nil
}

// resolveName finds a container by name.
func (e *engine) resolveName(ctx context.Context, name string) (containers.Container, error) {
	recs, err := e.client.ContainerService().List(e.ctx(ctx), labelFilter(map[string]string{labelName: name}))
	if err != nil {
		return containers.Container{}, wrapErr(err, "find container %s", name)
	}
	for _, r := range recs {
		if r.Labels[labelName] == name {
			return r, nil
		}
	}
	return containers.Container{}, notFound(name)
}

// checkSpec checks what it can without containerd.
func checkSpec(spec *runtime.ContainerSpec) error {
	switch {
	case spec.Name == "":
		return fmt.Errorf("the spec has no name: %w", sdk.ErrInvalidArgument)
	case !nameRE.MatchString(spec.Name):
		return fmt.Errorf("invalid name %q: want letters, digits, '_', '.' and '-', starting with a letter or digit: %w", spec.Name, sdk.ErrInvalidArgument)
	case spec.Image == "":
		return fmt.Errorf("the spec has no image: %w", sdk.ErrInvalidArgument)
	case spec.Resources.NanoCPUs < 0 || spec.Resources.MemoryBytes < 0:
		return fmt.Errorf("negative resource limit (nano_cpus %d, memory_bytes %d): %w",
			spec.Resources.NanoCPUs, spec.Resources.MemoryBytes, sdk.ErrInvalidArgument)
	case spec.StopTimeout < 0:
		return fmt.Errorf("negative stop timeout %s: %w", spec.StopTimeout, sdk.ErrInvalidArgument)
	}
	for k := range spec.Labels {
		if strings.HasPrefix(k, LabelPrefix) {
			return fmt.Errorf("label %s: the prefix %s is the runtime's own: %w", k, LabelPrefix, sdk.ErrInvalidArgument)
		}
	}
	if spec.StopSignal != "" {
		if _, err := parseSignal(spec.StopSignal); err != nil {
			return err
		}
	}
	for _, p := range spec.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		if proto != "tcp" && proto != "udp" && proto != "sctp" {
			return fmt.Errorf("port %d: protocol %q is not tcp, udp or sctp: %w", p.ContainerPort, p.Protocol, sdk.ErrInvalidArgument)
		}
		if p.ContainerPort == 0 || p.ContainerPort > 65535 || p.HostPort == 0 || p.HostPort > 65535 {
			return fmt.Errorf("port %d:%d/%s: want both ports in 1-65535 (this runtime needs an explicit host port): %w",
				p.HostPort, p.ContainerPort, proto, sdk.ErrInvalidArgument)
		}
	}
	if spec.Healthcheck != nil {
		if err := checkHealthcheck(spec.Healthcheck); err != nil {
			return err
		}
	}
	for _, s := range spec.DNS {
		if _, err := netip.ParseAddr(s); err != nil {
			return fmt.Errorf("DNS server %q is not an IP address: %w", s, sdk.ErrInvalidArgument)
		}
	}
	return nil
}

// containerLabels are the spec's labels and the plugin's own.
func containerLabels(spec *runtime.ContainerSpec, extras imageExtras) (map[string]string, error) {
	labels := maps.Clone(spec.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	stopSignal := spec.StopSignal
	if stopSignal == "" {
		stopSignal = extras.StopSignal
	}
	if stopSignal == "" {
		stopSignal = "SIGTERM"
	}
	if _, err := parseSignal(stopSignal); err != nil {
		return nil, err
	}
	stopTimeout := spec.StopTimeout
	if stopTimeout == 0 {
		stopTimeout = defaultStopTimeout
	}
	labels[labelName] = spec.Name
	labels[labelImage] = spec.Image
	labels[labelStopSignal] = stopSignal
	labels[labelStopTimeout] = stopTimeout.String()
	if p := encodePorts(spec.Ports); p != "" {
		labels[labelPorts] = p
	}
	if hc := effectiveHealthcheck(spec.Healthcheck, extras.Healthcheck); hc != nil {
		labels[labelHealth] = encodeHealthcheck(hc)
	}
	return labels, nil
}

// withArgs sets the process arguments the way Docker does: the spec's
// command replaces the image's entrypoint and drops its cmd, the spec's
// args replace the cmd.
func withArgs(command, args, entrypoint, cmd []string) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if len(command) > 0 {
			entrypoint, cmd = command, nil
		}
		if len(args) > 0 {
			cmd = args
		}
		all := append(slices.Clone(entrypoint), cmd...)
		if len(all) == 0 {
			return fmt.Errorf("no command to run: the image has neither entrypoint nor cmd and the spec gives none: %w", sdk.ErrInvalidArgument)
		}
		if s.Process == nil {
			s.Process = &specs.Process{}
		}
		s.Process.Args = all
		return nil
	}
}

// mounts translates the spec's mounts. A named volume is a directory
// under root/volumes, created on first use and kept until RemoveVolume.
func (e *engine) mounts(ms []runtime.Mount) ([]specs.Mount, error) {
	var out []specs.Mount
	for _, m := range ms {
		if !path.IsAbs(m.Target) {
			return nil, fmt.Errorf("mount target %q is not an absolute path: %w", m.Target, sdk.ErrInvalidArgument)
		}
		mode := "rw"
		if m.ReadOnly {
			mode = "ro"
		}
		switch m.Type {
		case runtime.MountBind:
			if !path.IsAbs(m.Source) {
				return nil, fmt.Errorf("bind mount source %q for %s is not an absolute host path: %w", m.Source, m.Target, sdk.ErrInvalidArgument)
			}
			if _, err := os.Stat(m.Source); err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return nil, fmt.Errorf("bind mount source %s (for %s) does not exist on this node; create it or fix the path: %w", m.Source, m.Target, sdk.ErrInvalidArgument)
				}
				return nil, fmt.Errorf("bind mount source %s (for %s): %v: %w", m.Source, m.Target, err, sdk.ErrInvalidArgument)
			}
			out = append(out, specs.Mount{Type: "bind", Source: m.Source, Destination: m.Target, Options: []string{"rbind", "rprivate", mode}})
		case runtime.MountVolume:
			dir, err := e.volume(m.Source)
			if err != nil {
				return nil, err
			}
			out = append(out, specs.Mount{Type: "bind", Source: dir, Destination: m.Target, Options: []string{"rbind", "rprivate", mode}})
		case runtime.MountTmpfs:
			out = append(out, specs.Mount{Type: "tmpfs", Source: "tmpfs", Destination: m.Target, Options: []string{"nosuid", "nodev", "mode=1777", mode}})
		default:
			return nil, fmt.Errorf("mount at %s has type %q; want %s, %s or %s: %w",
				m.Target, m.Type, runtime.MountBind, runtime.MountVolume, runtime.MountTmpfs, sdk.ErrInvalidArgument)
		}
	}
	return out, nil
}

// writeEtcFiles writes the container's /etc/hosts, /etc/hostname and
// /etc/resolv.conf (listing the dns servers when there are any, see
// resolvConf) into dir and returns their mounts. /etc/hosts is rewritten in
// place once the task has an address.
func writeEtcFiles(dir, hostname string, dns []string) ([]specs.Mount, error) {
	host, err := os.ReadFile(hostResolvConf)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read the host's %s for the container's: %w", hostResolvConf, err)
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, fmt.Errorf("create the container's directory: %w", err)
	}
	files := []struct {
		name, target string
		data         []byte
	}{
		{"hosts", "/etc/hosts", hostsFile(hostname, "")},
		{"hostname", "/etc/hostname", []byte(hostname + "\n")},
		{"resolv.conf", "/etc/resolv.conf", resolvConf(host, dns)},
	}
	var out []specs.Mount
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("write the container's %s: %w", f.target, err)
		}
		out = append(out, specs.Mount{Type: "bind", Source: p, Destination: f.target, Options: []string{"rbind", "rprivate", "rw"}})
	}
	return out, nil
}

// newID returns a random container ID in Docker's form (64 hex digits).
func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
