// Package runtime defines the runtime plugin kind: the plugin that runs
// hive's task containers on a node (runtime-docker, runtime-containerd, or
// a third party's).
//
// hive's agent drives a runtime through the Runtime interface only; it
// knows no engine. It names containers and labels them with the task they
// belong to, and finds them again after a restart with List, so a runtime
// must keep labels exactly and list containers whatever their state.
package runtime

import (
	"context"
	"time"

	"github.com/hiveorch/hive/plugins/sdk"
)

// Runtime runs containers on one node.
//
// Every method may be called concurrently. Calls are idempotent where noted;
// hive retries a call that failed with sdk.ErrUnavailable.
type Runtime interface {
	sdk.Base

	// EnsureImage makes the image available locally, pulling it only when
	// it is missing. auth, when not nil, is the credential for that pull
	// (nil pulls anonymously): the runtime sends it only to the registry
	// it is for (RegistryAuth.AppliesTo), uses it for that pull only, and
	// never stores or logs it. progress, when not nil, receives pull
	// progress; it must not be called after EnsureImage returns. An image
	// that cannot be had is an error wrapping sdk.ErrNotFound whose text
	// is "image not found: REF: REASON"; a registry refusing the pull for
	// want of a credential, or refusing the one given, is such an error
	// that says so (PullDenied builds it).
	EnsureImage(ctx context.Context, ref string, auth *RegistryAuth, progress func(PullProgress)) error
	// Create creates (does not start) a container and returns its ID. A
	// container of the same name already existing is an error wrapping
	// sdk.ErrAlreadyExists.
	Create(ctx context.Context, spec *ContainerSpec) (string, error)
	// Start starts a created container. Starting a running container is
	// not an error.
	Start(ctx context.Context, id string) error
	// Stop sends opts.Signal (or the container's stop signal, or SIGTERM),
	// waits up to opts.Timeout for the container to exit, then kills it.
	// Stopping a stopped container is not an error.
	Stop(ctx context.Context, id string, opts StopOptions) error
	// Kill sends a signal (SIGKILL when empty) to a running container.
	Kill(ctx context.Context, id string, signal string) error
	// Remove deletes a container and its anonymous storage; Force removes a
	// running one. Removing a missing container wraps sdk.ErrNotFound.
	Remove(ctx context.Context, id string, opts RemoveOptions) error
	// Inspect returns a container's current state.
	Inspect(ctx context.Context, id string) (*Container, error)
	// List returns the containers, running or not, whose labels include
	// all of filter.Labels.
	List(ctx context.Context, filter ListFilter) ([]*Container, error)
	// Wait blocks until the container is not running and returns how it
	// ended. For a container that already exited it returns at once.
	Wait(ctx context.Context, id string) (*ExitStatus, error)
	// Logs sends the container's output to sink, oldest first, until the
	// output ends (or, with Follow, until the container exits or ctx is
	// done). An error from sink stops the call and is returned.
	Logs(ctx context.Context, id string, opts LogOptions, sink func(LogEntry) error) error
	// Stats returns a sample of the container's resource use.
	Stats(ctx context.Context, id string) (*Stats, error)
}

// ContainerSpec is everything needed to create a container.
type ContainerSpec struct {
	// Name is the container's name, unique on the node.
	Name  string `json:"name"`
	Image string `json:"image"`
	// Command, when set, replaces the image's entrypoint.
	Command []string `json:"command,omitempty"`
	// Args, when set, replaces the image's default arguments (CMD).
	Args       []string          `json:"args,omitempty"`
	Env        []string          `json:"env,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	WorkingDir string            `json:"working_dir,omitempty"`
	User       string            `json:"user,omitempty"`
	Hostname   string            `json:"hostname,omitempty"`
	// Ports are bound on the host straight to the container (host-mode
	// publishing). Ingress-mode ports are not here: hive's routing mesh
	// reaches the container at its address.
	Ports     []PortBinding `json:"ports,omitempty"`
	Mounts    []Mount       `json:"mounts,omitempty"`
	Resources Resources     `json:"resources"`
	// StopSignal is the signal Stop sends first (SIGTERM when empty).
	StopSignal string `json:"stop_signal,omitempty"`
	// StopTimeout is the grace period Stop gives by default.
	StopTimeout time.Duration `json:"stop_timeout,omitempty"`
	// Healthcheck, when set, replaces the image's health check; nil keeps
	// the image's (if it has one).
	Healthcheck *Healthcheck `json:"healthcheck,omitempty"`
	// DNS, when set, are the nameservers the container's /etc/resolv.conf
	// lists, in order, instead of the node's; the search domains and
	// options stay the node's (as with docker run --dns). Each is an IP
	// address; anything else is an error wrapping sdk.ErrInvalidArgument.
	DNS []string `json:"dns,omitempty"`
}

// Healthcheck is how a runtime checks that a container is healthy, with
// Docker's semantics: Test is ["CMD", args...] (exec), ["CMD-SHELL",
// command] (run by /bin/sh -c in the container) or ["NONE"] (disable the
// image's check). A check that fails Retries times in a row after
// StartPeriod makes the container unhealthy; one success makes it healthy.
// Zero durations and retries take Docker's defaults (30s, 30s, 0s, 3).
type Healthcheck struct {
	Test        []string      `json:"test"`
	Interval    time.Duration `json:"interval,omitempty"`
	Timeout     time.Duration `json:"timeout,omitempty"`
	StartPeriod time.Duration `json:"start_period,omitempty"`
	Retries     int           `json:"retries,omitempty"`
}

// Health states reported in Container.Health.
const (
	// HealthNone: the container has no health check.
	HealthNone      = ""
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// PortBinding binds a host port to a container port.
type PortBinding struct {
	Protocol      string `json:"protocol"` // "tcp" or "udp"
	ContainerPort uint32 `json:"container_port"`
	HostPort      uint32 `json:"host_port"`
	// HostIP is the host address to bind; empty means all addresses.
	HostIP string `json:"host_ip,omitempty"`
}

// Mount types.
const (
	MountBind   = "bind"
	MountVolume = "volume"
	MountTmpfs  = "tmpfs"
)

// Mount is a filesystem mounted into the container.
type Mount struct {
	// Type is MountBind, MountVolume or MountTmpfs.
	Type string `json:"type"`
	// Source is a host path (bind) or a volume name (volume; the runtime
	// creates a missing named volume). Unused for tmpfs.
	Source   string `json:"source,omitempty"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readonly,omitempty"`
}

// Resources are CPU and memory limits; zero means no limit.
type Resources struct {
	NanoCPUs    int64 `json:"nano_cpus,omitempty"`
	MemoryBytes int64 `json:"memory_bytes,omitempty"`
}

// Container states reported in Container.State.
const (
	StateCreated = "created"
	StateRunning = "running"
	StatePaused  = "paused"
	StateExited  = "exited"
	StateDead    = "dead"
	StateUnknown = "unknown"
)

// Container is a container's current state.
type Container struct {
	ID     string            `json:"id"`
	Name   string            `json:"name"`
	Image  string            `json:"image"`
	Labels map[string]string `json:"labels,omitempty"`
	// State is one of the State* constants.
	State      string    `json:"state"`
	PID        int       `json:"pid,omitempty"`
	ExitCode   int       `json:"exit_code"`
	Error      string    `json:"error,omitempty"`
	CreatedAt  time.Time `json:"created_at,omitzero"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// Addresses are the container's IP addresses, reachable from the node.
	Addresses []string      `json:"addresses,omitempty"`
	Ports     []PortBinding `json:"ports,omitempty"`
	// Health is one of the Health* constants: HealthNone when the
	// container has no health check.
	Health string `json:"health,omitempty"`
	// HealthLog is the output of the last failed check, for messages.
	HealthLog string `json:"health_log,omitempty"`
}

// Running reports whether the container is running.
func (c *Container) Running() bool { return c.State == StateRunning || c.State == StatePaused }

// ExitStatus is how a container ended.
type ExitStatus struct {
	ExitCode   int       `json:"exit_code"`
	Error      string    `json:"error,omitempty"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// StopOptions tune Stop.
type StopOptions struct {
	// Timeout is the grace period before the container is killed; zero
	// uses the container's StopTimeout.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Signal overrides the container's stop signal.
	Signal string `json:"signal,omitempty"`
}

// RemoveOptions tune Remove.
type RemoveOptions struct {
	Force bool `json:"force,omitempty"`
}

// ListFilter selects containers by label.
type ListFilter struct {
	Labels map[string]string `json:"labels,omitempty"`
}

// LogOptions select the output Logs returns.
type LogOptions struct {
	Follow bool `json:"follow,omitempty"`
	// Tail limits the output to the last Tail lines; negative means all.
	Tail int `json:"tail"`
	// Since, when not zero, skips lines written before it.
	Since time.Time `json:"since,omitzero"`
	// Timestamps asks the runtime to fill LogEntry.Time.
	Timestamps bool `json:"timestamps,omitempty"`
}

// Log streams.
const (
	StreamStdout = "stdout"
	StreamStderr = "stderr"
)

// LogEntry is one line of output, without its trailing newline.
type LogEntry struct {
	Time   time.Time `json:"time,omitzero"`
	Stream string    `json:"stream"`
	Line   []byte    `json:"line"`
}

// Stats is one raw sample of a container's resource use. Counters are
// cumulative since the container started; a rate (CPU %, bytes per second)
// needs two samples (CPUPercent). A value the runtime cannot report is zero
// and its field is missing from Known.
type Stats struct {
	// Time is when the sample was read.
	Time time.Time `json:"time"`
	// Known says which of the values below the runtime reported.
	Known StatsFields `json:"known"`
	// CPUNanos is the CPU time used since the container started.
	CPUNanos uint64 `json:"cpu_nanos"`
	// OnlineCPUs is the number of CPUs the container may run on.
	OnlineCPUs uint32 `json:"online_cpus,omitempty"`
	// MemoryBytes is the memory in use without the page cache the kernel
	// can drop, as `docker stats` reports it.
	MemoryBytes uint64 `json:"memory_bytes"`
	// MemoryLimit is the container's memory limit, or the node's memory
	// when the container has none (0 when unknown).
	MemoryLimit uint64 `json:"memory_limit,omitempty"`
	// NetRxBytes and NetTxBytes are the bytes received and sent on the
	// container's network interfaces.
	NetRxBytes uint64 `json:"net_rx_bytes,omitempty"`
	NetTxBytes uint64 `json:"net_tx_bytes,omitempty"`
	// BlockReadBytes and BlockWriteBytes are the bytes read from and
	// written to block devices.
	BlockReadBytes  uint64 `json:"block_read_bytes,omitempty"`
	BlockWriteBytes uint64 `json:"block_write_bytes,omitempty"`
	// PIDs is the number of processes and threads in the container.
	PIDs uint64 `json:"pids,omitempty"`
}

// StatsFields is a set of the values of a Stats sample.
type StatsFields uint32

// The values of a Stats sample a runtime may report.
const (
	StatsCPU StatsFields = 1 << iota
	StatsMemory
	StatsMemoryLimit
	StatsNetwork
	StatsBlockIO
	StatsPIDs
)

// Has reports whether every field of f is in s.
func (s StatsFields) Has(f StatsFields) bool { return s&f == f }

// PullProgress reports the progress of an image pull.
type PullProgress struct {
	// Status is the engine's description ("Downloading", "Pull complete").
	Status string `json:"status"`
	// Layer is the layer the status is about, when it is about one.
	Layer   string `json:"layer,omitempty"`
	Current int64  `json:"current,omitempty"`
	Total   int64  `json:"total,omitempty"`
}
