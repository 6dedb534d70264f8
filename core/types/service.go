package types

import (
	"maps"
	"slices"
)

// ServiceMode is how a service decides how many tasks to run.
type ServiceMode string

// Service modes.
const (
	ModeReplicated ServiceMode = "replicated"
	ModeGlobal     ServiceMode = "global"
)

// RestartCondition says when a task that ended is replaced.
type RestartCondition string

// Restart conditions, as in Swarm.
const (
	RestartNone      RestartCondition = "none"
	RestartOnFailure RestartCondition = "on-failure"
	RestartAny       RestartCondition = "any"
)

// Defaults for a service spec that leaves them out, as in Swarm.
const (
	DefaultRestartDelay    = Duration(5_000_000_000)  // 5s
	DefaultStopGracePeriod = Duration(10_000_000_000) // 10s
)

// Service is a declared, long-running workload.
type Service struct {
	ID string `json:"id"`
	Meta
	Spec ServiceSpec `json:"spec"`
	// PreviousSpec is the spec before the last update, for rollback.
	PreviousSpec *ServiceSpec `json:"previous_spec,omitempty"`
	// Endpoint holds the ports as allocated: a published port left out of
	// the spec gets one from the cluster's range here.
	Endpoint Endpoint `json:"endpoint"`
	// SpecVersion counts changes to Spec; tasks record the one they were
	// created from.
	SpecVersion uint64 `json:"spec_version"`
}

// ServiceSpec is what a user declares.
type ServiceSpec struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
	Mode   ServiceMode       `json:"mode"`
	// Replicas is the number of tasks of a replicated service.
	Replicas uint64       `json:"replicas"`
	Task     TaskSpec     `json:"task"`
	Endpoint EndpointSpec `json:"endpoint"`
}

// TaskSpec is what every task of a service runs.
type TaskSpec struct {
	Container     ContainerSpec `json:"container"`
	Resources     Requirements  `json:"resources"`
	RestartPolicy RestartPolicy `json:"restart_policy"`
	Placement     Placement     `json:"placement"`
	// ForceUpdate changes the spec without changing what runs, so that an
	// update replaces every task.
	ForceUpdate uint64 `json:"force_update,omitempty"`
}

// ContainerSpec is the container a task runs.
type ContainerSpec struct {
	Image string `json:"image"`
	// Command replaces the image's entrypoint when set.
	Command []string `json:"command,omitempty"`
	// Args replaces the image's CMD when set: `hive service create IMAGE
	// COMMAND ARG...` puts COMMAND and ARGs here, as Swarm does.
	Args            []string          `json:"args,omitempty"`
	Env             []string          `json:"env,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
	Dir             string            `json:"dir,omitempty"`
	User            string            `json:"user,omitempty"`
	Mounts          []Mount           `json:"mounts,omitempty"`
	StopSignal      string            `json:"stop_signal,omitempty"`
	StopGracePeriod *Duration         `json:"stop_grace_period,omitempty"`
}

// MountType is the kind of a mount.
type MountType string

// Mount types.
const (
	MountBind   MountType = "bind"
	MountVolume MountType = "volume"
	MountTmpfs  MountType = "tmpfs"
)

// Mount is a filesystem mounted into a task's container.
type Mount struct {
	Type     MountType `json:"type"`
	Source   string    `json:"source,omitempty"`
	Target   string    `json:"target"`
	ReadOnly bool      `json:"readonly,omitempty"`
}

// Resources is an amount of CPU and memory.
type Resources struct {
	// NanoCPUs is CPU in units of 1e-9 CPUs: 1.5 CPUs is 1_500_000_000.
	NanoCPUs    int64 `json:"nano_cpus,omitempty"`
	MemoryBytes int64 `json:"memory_bytes,omitempty"`
}

// Requirements are a task's resource limits and reservations.
type Requirements struct {
	Limits       Resources `json:"limits"`
	Reservations Resources `json:"reservations"`
}

// RestartPolicy says whether and when a task that ended is replaced.
type RestartPolicy struct {
	Condition RestartCondition `json:"condition"`
	Delay     *Duration        `json:"delay,omitempty"`
	// MaxAttempts is how many replacements are made within Window; 0 means
	// no limit.
	MaxAttempts uint64 `json:"max_attempts,omitempty"`
	// Window is the time over which attempts are counted; 0 means the whole
	// life of the service.
	Window *Duration `json:"window,omitempty"`
}

// Placement restricts the nodes a task may run on.
type Placement struct {
	// Constraints are expressions such as "node.role==manager" or
	// "node.labels.zone!=east"; all must hold.
	Constraints []string `json:"constraints,omitempty"`
}

// PublishMode says how a published port is reached.
type PublishMode string

// Publish modes.
const (
	// PublishIngress: every node listens on the published port and balances
	// connections across the service's running tasks.
	PublishIngress PublishMode = "ingress"
	// PublishHost: the port is bound on the node that runs the task,
	// straight to the task.
	PublishHost PublishMode = "host"
)

// Protocol is a transport protocol of a port.
type Protocol string

// Protocols.
const (
	ProtocolTCP Protocol = "tcp"
	ProtocolUDP Protocol = "udp"
)

// PortConfig is one published port of a service.
type PortConfig struct {
	Protocol Protocol `json:"protocol"`
	// TargetPort is the port inside the container.
	TargetPort uint32 `json:"target_port"`
	// PublishedPort is the port on the nodes; 0 in a spec asks the cluster
	// to choose one (ingress mode only).
	PublishedPort uint32      `json:"published_port"`
	PublishMode   PublishMode `json:"publish_mode"`
}

// EndpointSpec is the ports a service asks to publish.
type EndpointSpec struct {
	Ports []PortConfig `json:"ports,omitempty"`
}

// Endpoint is the ports a service got.
type Endpoint struct {
	Ports []PortConfig `json:"ports,omitempty"`
}

// Copy returns a deep copy of s.
func (s *Service) Copy() *Service {
	if s == nil {
		return nil
	}
	c := *s
	c.Spec = s.Spec.Copy()
	if s.PreviousSpec != nil {
		p := s.PreviousSpec.Copy()
		c.PreviousSpec = &p
	}
	c.Endpoint.Ports = slices.Clone(s.Endpoint.Ports)
	return &c
}

// Copy returns a deep copy of s.
func (s ServiceSpec) Copy() ServiceSpec {
	s.Labels = maps.Clone(s.Labels)
	s.Task = s.Task.Copy()
	s.Endpoint.Ports = slices.Clone(s.Endpoint.Ports)
	return s
}

// Copy returns a deep copy of t.
func (t TaskSpec) Copy() TaskSpec {
	c := t.Container
	c.Command = slices.Clone(c.Command)
	c.Args = slices.Clone(c.Args)
	c.Env = slices.Clone(c.Env)
	c.Labels = maps.Clone(c.Labels)
	c.Mounts = slices.Clone(c.Mounts)
	t.Container = c
	t.Placement.Constraints = slices.Clone(t.Placement.Constraints)
	return t
}

// RestartDelay is the policy's delay, or the default.
func (p RestartPolicy) RestartDelay() Duration {
	if p.Delay == nil {
		return DefaultRestartDelay
	}
	return *p.Delay
}

// GracePeriod is the spec's stop grace period, or the default.
func (c ContainerSpec) GracePeriod() Duration {
	if c.StopGracePeriod == nil {
		return DefaultStopGracePeriod
	}
	return *c.StopGracePeriod
}
