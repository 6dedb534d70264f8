package docker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"golang.org/x/sync/errgroup"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// listInspectLimit bounds the inspects List runs at once.
const listInspectLimit = 8

// Inspect returns a container's current state. A missing container wraps
// sdk.ErrNotFound.
func (r *Runtime) Inspect(ctx context.Context, id string) (*runtime.Container, error) {
	eng, err := r.engine()
	if err != nil {
		return nil, err
	}
	res, err := eng.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return nil, wrapErr(err, "inspect container %s", id)
	}
	return fromInspect(res.Container), nil
}

// List returns the containers, whatever their state, whose labels include
// all of filter.Labels, oldest first, in the same shape as Inspect.
//
// The engine's list has no PID, exit code, error or start and finish
// times, for any state (a container whose start failed stays "created"
// with an exit code and an error), so List inspects each container it
// finds, a few at a time. A container removed in between is left out.
func (r *Runtime) List(ctx context.Context, filter runtime.ListFilter) ([]*runtime.Container, error) {
	eng, err := r.engine()
	if err != nil {
		return nil, err
	}
	filters := client.Filters{}
	for _, k := range slices.Sorted(maps.Keys(filter.Labels)) {
		filters.Add("label", k+"="+filter.Labels[k])
	}
	res, err := eng.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filters})
	if err != nil {
		return nil, wrapErr(err, "list containers")
	}

	out := make([]*runtime.Container, len(res.Items))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(listInspectLimit)
	for i, item := range res.Items {
		g.Go(func() error {
			ires, err := eng.cli.ContainerInspect(gctx, item.ID, client.ContainerInspectOptions{})
			switch {
			case err == nil:
				out[i] = fromInspect(ires.Container)
			case errors.Is(kindOf(err), sdk.ErrNotFound):
				// Removed since the list: leave it out.
			default:
				return wrapErr(err, "list containers: inspect %s", item.ID)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out = slices.DeleteFunc(out, func(c *runtime.Container) bool { return c == nil })
	slices.SortStableFunc(out, func(a, b *runtime.Container) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// fromInspect converts the engine's view of a container.
func fromInspect(c container.InspectResponse) *runtime.Container {
	out := &runtime.Container{
		ID:        c.ID,
		Name:      strings.TrimPrefix(c.Name, "/"),
		Image:     c.Image,
		State:     runtime.StateUnknown,
		CreatedAt: parseTime(c.Created),
	}
	if c.Config != nil {
		// The reference it was created from, not the image ID.
		out.Image = c.Config.Image
		out.Labels = maps.Clone(c.Config.Labels)
	}
	if s := c.State; s != nil {
		out.State = stateOf(s.Status)
		out.PID = s.Pid
		out.ExitCode = s.ExitCode
		out.Error = s.Error
		out.StartedAt = parseTime(s.StartedAt)
		out.FinishedAt = parseTime(s.FinishedAt)
		out.Health, out.HealthLog = health(s.Health)
	}
	if ns := c.NetworkSettings; ns != nil {
		out.Addresses = addresses(ns.Networks)
		out.Ports = ports(ns.Ports)
	}
	if len(out.Ports) == 0 && c.HostConfig != nil {
		// Not running: report the bindings it will get.
		out.Ports = ports(c.HostConfig.PortBindings)
	}
	return out
}

// health maps the engine's health status, and describes the last failed
// check: its output, or its exit code when it printed nothing.
func health(h *container.Health) (status, log string) {
	if h == nil {
		return runtime.HealthNone, ""
	}
	switch h.Status {
	case container.Starting:
		status = runtime.HealthStarting
	case container.Healthy:
		status = runtime.HealthHealthy
	case container.Unhealthy:
		status = runtime.HealthUnhealthy
	default:
		return runtime.HealthNone, ""
	}
	for i := len(h.Log) - 1; i >= 0; i-- {
		r := h.Log[i]
		if r == nil || r.ExitCode == 0 {
			continue
		}
		if out := strings.TrimSpace(r.Output); out != "" {
			return status, out
		}
		return status, fmt.Sprintf("health check exited with %d", r.ExitCode)
	}
	return status, ""
}

// stateOf maps the engine's container status to a runtime.State*.
func stateOf(s container.ContainerState) string {
	switch s {
	case container.StateCreated:
		return runtime.StateCreated
	case container.StateRunning, container.StateRestarting:
		// Restarting is the engine's restart policy at work: it counts as
		// running, as the engine's own Running flag says. hive sets no
		// restart policy, so it is rare.
		return runtime.StateRunning
	case container.StatePaused:
		return runtime.StatePaused
	case container.StateExited, container.StateRemoving:
		return runtime.StateExited
	case container.StateDead:
		return runtime.StateDead
	}
	return runtime.StateUnknown
}

// parseTime parses an engine timestamp; the engine's "0001-01-01T00:00:00Z"
// for "never" and anything unparsable give the zero time.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}

// addresses lists the container's IPv4 then IPv6 addresses on all its
// networks, by network name.
func addresses(nets map[string]*network.EndpointSettings) []string {
	var v4, v6 []string
	for _, name := range slices.Sorted(maps.Keys(nets)) {
		ep := nets[name]
		if ep == nil {
			continue
		}
		if ep.IPAddress.IsValid() && !ep.IPAddress.IsUnspecified() {
			v4 = append(v4, ep.IPAddress.String())
		}
		if ep.GlobalIPv6Address.IsValid() && !ep.GlobalIPv6Address.IsUnspecified() {
			v6 = append(v6, ep.GlobalIPv6Address.String())
		}
	}
	return slices.Compact(append(v4, v6...))
}

// ports converts port bindings, sorted. The engine reports a binding on
// all addresses once per address family (0.0.0.0 and ::); runtime has a
// single binding with an empty HostIP for that.
func ports(pm network.PortMap) []runtime.PortBinding {
	var out []runtime.PortBinding
	seen := map[runtime.PortBinding]bool{}
	for port, bindings := range pm {
		for _, b := range bindings {
			pb := runtime.PortBinding{
				Protocol:      string(port.Proto()),
				ContainerPort: uint32(port.Num()),
				HostPort:      parsePort(b.HostPort),
			}
			if b.HostIP.IsValid() && !b.HostIP.IsUnspecified() {
				pb.HostIP = b.HostIP.String()
			}
			if !seen[pb] {
				seen[pb] = true
				out = append(out, pb)
			}
		}
	}
	slices.SortFunc(out, func(a, b runtime.PortBinding) int {
		return cmp.Or(cmp.Compare(a.ContainerPort, b.ContainerPort), strings.Compare(a.Protocol, b.Protocol),
			cmp.Compare(a.HostPort, b.HostPort), strings.Compare(a.HostIP, b.HostIP))
	})
	return out
}

// parsePort parses a host port; empty (an ephemeral port not yet chosen)
// or malformed gives 0.
func parsePort(s string) uint32 {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0
	}
	return uint32(n)
}
