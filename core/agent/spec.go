package agent

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/hiveorch/hive/core/networks/dns"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// Labels hive puts on every task container. The agent finds its containers
// again after a restart by LabelNode and matches them to tasks by
// LabelTask, so several nodes may share one engine.
const (
	LabelManaged     = "hive.managed"
	LabelNode        = "hive.node.id"
	LabelService     = "hive.service.id"
	LabelServiceName = "hive.service.name"
	LabelTask        = "hive.task.id"
	LabelTaskName    = "hive.task.name"
	LabelSlot        = "hive.task.slot"
)

// Host is what a container spec takes from the node that runs it.
type Host struct {
	// IP is the address host-mode ports bind on ("" for all).
	IP string
	// Hostname is the node's, for hostname templates.
	Hostname string
}

// ContainerSpec turns a task into the runtime's container spec, or fails
// when the task's hostname template does not give a hostname here.
func ContainerSpec(t *types.Task, host Host) (*runtime.ContainerSpec, error) {
	c := t.Spec.Container
	hostname, err := taskHostname(t, host)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{}
	for k, v := range c.Labels {
		labels[k] = v
	}
	labels[LabelManaged] = "true"
	labels[LabelNode] = t.NodeID
	labels[LabelService] = t.ServiceID
	labels[LabelServiceName] = t.ServiceName
	labels[LabelTask] = t.ID
	labels[LabelTaskName] = t.Name()
	labels[LabelSlot] = strconv.FormatUint(t.Slot, 10)

	spec := &runtime.ContainerSpec{
		Name:        t.ContainerName(),
		Image:       c.Image,
		Command:     c.Command,
		Args:        c.Args,
		Env:         c.Env,
		Labels:      labels,
		WorkingDir:  c.Dir,
		User:        c.User,
		Hostname:    hostname,
		StopSignal:  c.StopSignal,
		StopTimeout: c.GracePeriod().D(),
		Resources: runtime.Resources{
			NanoCPUs:    t.Spec.Resources.Limits.NanoCPUs,
			MemoryBytes: t.Spec.Resources.Limits.MemoryBytes,
		},
	}
	if len(t.Networks) > 0 {
		// The task's resolver, which the agent serves in its namespace
		// once it starts.
		spec.DNS = []string{dns.ResolverIP}
	}
	if h := c.Healthcheck; h != nil {
		spec.Healthcheck = &runtime.Healthcheck{
			Test:        slices.Clone(h.Test),
			Interval:    h.Interval.D(),
			Timeout:     h.Timeout.D(),
			StartPeriod: h.StartPeriod.D(),
			Retries:     h.Retries,
		}
	}
	for _, m := range c.Mounts {
		spec.Mounts = append(spec.Mounts, runtime.Mount{Type: string(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	for _, p := range t.Ports {
		if p.PublishMode != types.PublishHost {
			continue
		}
		spec.Ports = append(spec.Ports, runtime.PortBinding{
			Protocol: string(p.Protocol), ContainerPort: p.TargetPort, HostPort: p.PublishedPort, HostIP: host.IP,
		})
	}
	return spec, nil
}

// taskHostname expands the task's hostname template ("" when it has none).
func taskHostname(t *types.Task, host Host) (string, error) {
	tmpl := t.Spec.Container.Hostname
	if tmpl == "" {
		return "", nil
	}
	var d types.HostnameData
	d.Service.ID, d.Service.Name = t.ServiceID, t.ServiceName
	d.Task.ID, d.Task.Name, d.Task.Slot = t.ID, t.Name(), t.Slot
	d.Node.ID, d.Node.Hostname = t.NodeID, host.Hostname
	name, err := types.ExpandHostname(tmpl, d)
	if err != nil {
		return "", fmt.Errorf("container hostname %q: %w", tmpl, err)
	}
	return name, nil
}
