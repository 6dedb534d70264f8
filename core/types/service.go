package types

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"time"
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
	// UpdateStatus is the state of the last rolling update or rollback of
	// the tasks; nil until the task spec first changes.
	UpdateStatus *UpdateStatus `json:"update_status,omitempty"`
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
	// Networks are the networks the service's tasks attach to, each by
	// its ID once stored; none leaves the service off every network.
	Networks []NetworkAttachmentConfig `json:"networks,omitempty"`
	// Update is how a change of the task spec is rolled out; Rollback is
	// how a rollback is. Normalize fills either with the defaults when it
	// is nil.
	Update   *UpdateConfig `json:"update,omitempty"`
	Rollback *UpdateConfig `json:"rollback,omitempty"`
	// DependsOn are the services whose tasks must meet a condition before
	// a task of this service may start (compose's depends_on, which hive
	// honours on the cluster).
	DependsOn []ServiceDependency `json:"depends_on,omitempty"`
	// RegistryAuth is set in a create or update request only (--with-
	// registry-auth, Docker's X-Registry-Auth): the managers seal it into
	// the service's pull secret (ContainerSpec.PullSecret) and never store
	// it here. Nil on update keeps the credential the service has.
	RegistryAuth *RegistryAuth `json:"registry_auth,omitempty"`
}

// ServiceDependency is one entry of ServiceSpec.DependsOn. When and how
// the cluster honours it is core/orchestrator/depends's to say.
type ServiceDependency struct {
	// Service is the name of the service depended on.
	Service   string              `json:"service"`
	Condition DependencyCondition `json:"condition"`
}

// DependencyCondition is what a dependency's tasks must do before a
// dependant's task starts, with compose's names.
type DependencyCondition string

const (
	// DependencyStarted: the dependency's tasks run.
	DependencyStarted DependencyCondition = "service_started"
	// DependencyHealthy: the dependency's tasks run and are healthy.
	DependencyHealthy DependencyCondition = "service_healthy"
	// DependencyCompleted: the dependency's tasks ended with exit code 0.
	DependencyCompleted DependencyCondition = "service_completed_successfully"
)

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
	Args   []string          `json:"args,omitempty"`
	Env    []string          `json:"env,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	Dir    string            `json:"dir,omitempty"`
	User   string            `json:"user,omitempty"`
	// Hostname is the container's hostname, a template that may name
	// the task, its service and its node (HostnameData); empty leaves
	// the runtime's default.
	Hostname        string    `json:"hostname,omitempty"`
	Mounts          []Mount   `json:"mounts,omitempty"`
	StopSignal      string    `json:"stop_signal,omitempty"`
	StopGracePeriod *Duration `json:"stop_grace_period,omitempty"`
	// Healthcheck replaces the image's HEALTHCHECK when set; nil keeps it.
	Healthcheck *HealthConfig `json:"healthcheck,omitempty"`
	// Secrets and Configs are granted to the task: files in its container,
	// in memory on the node.
	Secrets []SecretReference `json:"secrets,omitempty"`
	Configs []ConfigReference `json:"configs,omitempty"`
	// PullSecret is the ID of the secret holding the registry credential
	// the image is pulled with (labelled LabelRegistryAuth), delivered
	// like a secret to the nodes that run the service's tasks only. The
	// managers set it from ServiceSpec.RegistryAuth; empty pulls
	// anonymously.
	PullSecret string `json:"pull_secret,omitempty"`
}

// HealthConfig is a task's health check, with Docker's semantics. A task
// with a health check counts as running only once it is healthy, and
// fails when it turns unhealthy.
type HealthConfig struct {
	// Test is ["CMD", "prog", "arg"...] (run directly), ["CMD-SHELL",
	// "command"] (run by the container's shell) or ["NONE"] (no check,
	// not even the image's). Empty keeps the image's test, with the
	// durations and retries set here.
	Test []string `json:"test,omitempty"`
	// Interval between checks (30s when zero), Timeout of one check (30s
	// when zero) and StartPeriod, during which failures do not count (0s).
	Interval    Duration `json:"interval,omitempty"`
	Timeout     Duration `json:"timeout,omitempty"`
	StartPeriod Duration `json:"start_period,omitempty"`
	// Retries is how many failures in a row make the task unhealthy (3
	// when zero).
	Retries int `json:"retries,omitempty"`
}

// Disabled reports whether the check turns the image's check off.
func (h *HealthConfig) Disabled() bool {
	return h != nil && len(h.Test) > 0 && h.Test[0] == "NONE"
}

// FailureAction is what an update does when too many of its tasks fail.
type FailureAction string

// Failure actions, as in Swarm.
const (
	FailurePause    FailureAction = "pause"
	FailureContinue FailureAction = "continue"
	FailureRollback FailureAction = "rollback"
)

// UpdateOrder says whether an update starts a slot's new task before or
// after it stops the old one.
type UpdateOrder string

// Update orders.
const (
	OrderStopFirst  UpdateOrder = "stop-first"
	OrderStartFirst UpdateOrder = "start-first"
)

// Defaults of an update policy, as in Swarm.
const (
	DefaultUpdateParallelism = 1
	DefaultUpdateMonitor     = Duration(5_000_000_000) // 5s
)

// UpdateConfig is how a rolling update (or a rollback) replaces tasks:
// Parallelism slots at a time, each batch waiting for its new tasks to run
// (and be healthy), then Delay; a new task that fails before it ran for
// Monitor counts as a failure, and when failures exceed MaxFailureRatio of
// the slots the update does FailureAction.
type UpdateConfig struct {
	// Parallelism is how many slots are updated at once; 0 updates them
	// all at once.
	Parallelism uint64 `json:"parallelism"`
	// Delay is the pause after a slot's new task runs before the next slot
	// starts.
	Delay Duration `json:"delay"`
	// FailureAction is pause, continue or rollback.
	FailureAction FailureAction `json:"failure_action"`
	// Monitor is how long a new task is watched for failure once running;
	// nil means the default (5s).
	Monitor *Duration `json:"monitor,omitempty"`
	// MaxFailureRatio is the fraction of the slots whose new tasks may
	// fail before FailureAction applies (0 to 1).
	MaxFailureRatio float64 `json:"max_failure_ratio"`
	// Order is stop-first or start-first.
	Order UpdateOrder `json:"order"`
}

// DefaultUpdateConfig returns Swarm's update policy: one slot at a time,
// no delay, pause on the first failure, 5s of monitoring, stop-first.
func DefaultUpdateConfig() *UpdateConfig {
	m := DefaultUpdateMonitor
	return &UpdateConfig{Parallelism: DefaultUpdateParallelism, FailureAction: FailurePause, Monitor: &m, Order: OrderStopFirst}
}

// MonitorPeriod is the config's monitor, or the default.
func (c *UpdateConfig) MonitorPeriod() time.Duration {
	if c == nil || c.Monitor == nil {
		return DefaultUpdateMonitor.D()
	}
	return c.Monitor.D()
}

// UpdateState is where a service's rolling update is.
type UpdateState string

// Update states, as in Swarm.
const (
	UpdateUpdating          UpdateState = "updating"
	UpdatePaused            UpdateState = "paused"
	UpdateCompleted         UpdateState = "completed"
	UpdateRollbackStarted   UpdateState = "rollback_started"
	UpdateRollbackPaused    UpdateState = "rollback_paused"
	UpdateRollbackCompleted UpdateState = "rollback_completed"
)

// UpdateStatus is the progress of a service's rolling update or rollback.
// It is everything the update controller needs to carry on after a leader
// change besides the tasks themselves.
type UpdateStatus struct {
	State       UpdateState `json:"state"`
	StartedAt   time.Time   `json:"started_at,omitzero"`
	CompletedAt time.Time   `json:"completed_at,omitzero"`
	// Message says what happened: "update in progress", or why the update
	// paused or rolled back.
	Message string `json:"message,omitempty"`
	// SpecVersion is the service's SpecVersion when the update (or the
	// rollback) began or resumed: the tasks created from it on are the
	// update's.
	SpecVersion uint64 `json:"spec_version"`
	// Failures are the IDs of the update's tasks counted as failed.
	Failures []string `json:"failures,omitempty"`
}

// Active reports whether the update is under way or paused: tasks of the
// old and the new spec may then share a slot.
func (u *UpdateStatus) Active() bool {
	if u == nil {
		return false
	}
	switch u.State {
	case UpdateUpdating, UpdatePaused, UpdateRollbackStarted, UpdateRollbackPaused:
		return true
	}
	return false
}

// Running reports whether the update controller is to move the update
// on: it is updating or rolling back, not paused or done.
func (u *UpdateStatus) Running() bool {
	return u != nil && (u.State == UpdateUpdating || u.State == UpdateRollbackStarted)
}

// RollingBack reports whether the update is a rollback.
func (u *UpdateStatus) RollingBack() bool {
	return u != nil && (u.State == UpdateRollbackStarted || u.State == UpdateRollbackPaused || u.State == UpdateRollbackCompleted)
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

// EndpointSpec is how a service is reached: the ports it asks to
// publish, and on its networks by a virtual IP (mode vip, the default) or
// by its tasks' addresses (dnsrr).
type EndpointSpec struct {
	Mode  EndpointMode `json:"mode,omitempty"`
	Ports []PortConfig `json:"ports,omitempty"`
}

// Endpoint is what a service got: its ports, and in mode vip one virtual
// IP on each of its networks.
type Endpoint struct {
	Ports      []PortConfig        `json:"ports,omitempty"`
	VirtualIPs []EndpointVirtualIP `json:"virtual_ips,omitempty"`
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
	c.Endpoint.VirtualIPs = slices.Clone(s.Endpoint.VirtualIPs)
	if s.UpdateStatus != nil {
		u := *s.UpdateStatus
		u.Failures = slices.Clone(u.Failures)
		c.UpdateStatus = &u
	}
	return &c
}

// Copy returns a deep copy of s.
func (s ServiceSpec) Copy() ServiceSpec {
	s.Labels = maps.Clone(s.Labels)
	s.Task = s.Task.Copy()
	s.Endpoint.Ports = slices.Clone(s.Endpoint.Ports)
	s.Networks = copyAttachmentConfigs(s.Networks)
	s.Update = s.Update.copy()
	s.Rollback = s.Rollback.copy()
	s.DependsOn = slices.Clone(s.DependsOn)
	if s.RegistryAuth != nil {
		a := *s.RegistryAuth
		s.RegistryAuth = &a
	}
	return s
}

func (c *UpdateConfig) copy() *UpdateConfig {
	if c == nil {
		return nil
	}
	out := *c
	if c.Monitor != nil {
		m := *c.Monitor
		out.Monitor = &m
	}
	return &out
}

// Copy returns a deep copy of t.
func (t TaskSpec) Copy() TaskSpec {
	c := t.Container
	c.Command = slices.Clone(c.Command)
	c.Args = slices.Clone(c.Args)
	c.Env = slices.Clone(c.Env)
	c.Labels = maps.Clone(c.Labels)
	c.Mounts = slices.Clone(c.Mounts)
	c.Secrets = slices.Clone(c.Secrets)
	c.Configs = slices.Clone(c.Configs)
	if c.Healthcheck != nil {
		h := *c.Healthcheck
		h.Test = slices.Clone(h.Test)
		c.Healthcheck = &h
	}
	t.Container = c
	t.Placement.Constraints = slices.Clone(t.Placement.Constraints)
	return t
}

// Equal reports whether t and o ask for the same thing. They are compared
// in their stored (JSON) form, so that an empty list and a missing one are
// the same.
func (t TaskSpec) Equal(o TaskSpec) bool {
	a, erra := json.Marshal(t)
	b, errb := json.Marshal(o)
	return erra == nil && errb == nil && bytes.Equal(a, b)
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
