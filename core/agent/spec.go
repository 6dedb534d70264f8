package agent

import (
	"slices"
	"strconv"

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

// ContainerSpec turns a task into the runtime's container spec. hostIP is
// the address host-mode ports bind on ("" for all).
func ContainerSpec(t *types.Task, hostIP string) *runtime.ContainerSpec {
	c := t.Spec.Container
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
		StopSignal:  c.StopSignal,
		StopTimeout: c.GracePeriod().D(),
		Resources: runtime.Resources{
			NanoCPUs:    t.Spec.Resources.Limits.NanoCPUs,
			MemoryBytes: t.Spec.Resources.Limits.MemoryBytes,
		},
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
			Protocol: string(p.Protocol), ContainerPort: p.TargetPort, HostPort: p.PublishedPort, HostIP: hostIP,
		})
	}
	return spec
}
