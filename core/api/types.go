package api

import (
	"context"
	"github.com/hiveorch/hive/core/events"
	"slices"
	"time"

	"github.com/hiveorch/hive/core/types"
)

// Backend is what the API serves. The daemon implements it; so does the Go
// client, which makes the same calls over HTTP.
//
// Every method may be called concurrently from many requests. Methods
// return errors wrapping an errdefs kind (errdefs.ErrNotFound, ...) so the
// API can choose the HTTP status; an error of no kind is reported as an
// internal error (500). Returned objects belong to the caller.
type Backend interface {
	// Info describes the node serving the request and the cluster.
	Info(ctx context.Context) (*Info, error)
	// ListNodes returns every node of the cluster.
	ListNodes(ctx context.Context) ([]*types.Node, error)
	// GetNode returns one node. ref is an ID, a unique ID prefix, a
	// hostname, or "self" for the node serving the request.
	GetNode(ctx context.Context, ref string) (*types.Node, error)
	// ListServices returns every service with its task counts.
	ListServices(ctx context.Context) ([]ServiceSummary, error)
	// GetService returns one service. ref is an ID, a unique ID prefix,
	// or a name.
	GetService(ctx context.Context, ref string) (*types.Service, error)
	// CreateService validates spec and stores a new service.
	CreateService(ctx context.Context, spec types.ServiceSpec) (*types.Service, error)
	// UpdateService replaces the spec; version is the service's
	// Meta.Version the caller read (errdefs.ErrVersionConflict when it
	// changed since).
	UpdateService(ctx context.Context, ref string, version uint64, spec types.ServiceSpec) (*types.Service, error)
	// RollbackService puts a service back on its previous spec and rolls
	// its tasks back (errdefs.ErrInvalidArgument when it has none).
	RollbackService(ctx context.Context, ref string) (*types.Service, error)
	// RemoveService removes a service; its tasks are shut down.
	RemoveService(ctx context.Context, ref string) error
	// ListTasks returns the tasks that match every field set in f.
	ListTasks(ctx context.Context, f TaskFilter) ([]*types.Task, error)
	// ServiceLogs sends the log lines of a service's tasks to sink, in
	// order per task, until there are no more (or, with opts.Follow, until
	// ctx is done). It stops and returns sink's error when sink fails.
	ServiceLogs(ctx context.Context, ref string, opts LogOptions, sink func(LogLine) error) error
	// Stats sends the resource use of the running tasks of opts.Services
	// (of every service when none is given) to sink, one frame per refresh,
	// from every node through the managers. A node that cannot be reached
	// shows as an Error in its tasks' rows. An unknown service is an error
	// wrapping errdefs.ErrNotFound.
	Stats(ctx context.Context, opts StatsOptions, sink func(StatsFrame) error) error
	// Plugins reports the plugins the node serving the request runs.
	Plugins(ctx context.Context) ([]PluginStatus, error)
	// Events sends sink the cluster events q asks for (replayed from the
	// manager's ring, then live) until q.Until passes or ctx is done
	// (managers only; events.ErrOff when events are off). See
	// events.Ring.Stream.
	Events(ctx context.Context, q events.Query, sink func(events.Event) error) error
	// Shutdown asks the daemon to stop; it returns at once.
	Shutdown(ctx context.Context) error

	// JoinTokens returns the current join tokens and this manager's
	// cluster address (managers only).
	JoinTokens(ctx context.Context) (*JoinTokens, error)
	// RotateJoinToken replaces role's join token (worker or manager); the
	// old one stops working. It returns the tokens after the rotation.
	RotateJoinToken(ctx context.Context, role types.NodeRole) (*JoinTokens, error)
	// IssueClientCert signs a client certificate for a remote CLI
	// (managers only).
	IssueClientCert(ctx context.Context, req ClientCertRequest) (*ClientCert, error)

	NodeManager
	SecretManager
	NetworkManager
	KeyManager
}

// Info describes the node that answered and the cluster it belongs to.
type Info struct {
	NodeID    string `json:"node_id"`
	Hostname  string `json:"hostname"`
	Role      string `json:"role"`
	ClusterID string `json:"cluster_id"`
	Version   string `json:"version"`
	DataDir   string `json:"data_dir"`
	Endpoint  string `json:"endpoint"`
	// DockerAPI is where this manager serves the Docker-compatible API
	// (unix:///path), "" when it does not (a worker, or docker_api.socket
	// empty).
	DockerAPI string `json:"docker_api,omitempty"`
	// DockerAPITCP is where this manager also serves the Docker API over
	// TCP with mutual TLS (tcp://HOST:PORT, as docker_api.listen says,
	// its host possibly empty or unspecified), "" when it does not.
	DockerAPITCP string `json:"docker_api_tcp,omitempty"`
	// MetricsURL is where this node serves Prometheus metrics
	// (http://HOST:PORT/metrics, the real bound port), "" when
	// metrics.listen is empty.
	MetricsURL   string    `json:"metrics_url,omitempty"`
	Runtime      string    `json:"runtime"`
	Scheduler    string    `json:"scheduler"`
	Leader       bool      `json:"leader"`
	LeaderID     string    `json:"leader_id"`
	Managers     int       `json:"managers"`
	Nodes        int       `json:"nodes"`
	Services     int       `json:"services"`
	Tasks        int       `json:"tasks"`
	TasksRunning int       `json:"tasks_running"`
	RaftIndex    uint64    `json:"raft_index"`
	StartedAt    time.Time `json:"started_at"`
	// PID is the daemon's process ID, so that `hive down` can wait for it
	// to exit.
	PID int `json:"pid"`
	// Locked is true on an autolocked manager that restarted and waits
	// for `hive unlock`; it serves nothing else until then.
	Locked bool `json:"locked,omitempty"`
	// Autolock says whether the cluster's managers are autolocked.
	Autolock bool `json:"autolock,omitempty"`
	// ClusterVersion is the Meta.Version of the cluster's settings (a
	// manager's answer only): what a change of them is checked against,
	// as the Docker API's /swarm/update?version=N.
	ClusterVersion uint64 `json:"cluster_version,omitempty"`
}

// ServiceSummary is a service with the counts `hive service ls` shows.
type ServiceSummary struct {
	Service *types.Service `json:"service"`
	// RunningTasks counts the service's tasks that are running and meant
	// to be.
	RunningTasks uint64 `json:"running_tasks"`
	// DesiredTasks is the replica count of a replicated service, or the
	// number of nodes a global service should run on.
	DesiredTasks uint64 `json:"desired_tasks"`
}

// Desired states a TaskFilter accepts.
const (
	DesiredRunning  = "running"
	DesiredShutdown = "shutdown"
	DesiredAccepted = "accepted"
)

// TaskFilter selects tasks; an empty field matches every task.
type TaskFilter struct {
	// Service is a service ID, unique ID prefix or name.
	Service string `json:"service,omitempty"`
	// Node is a node ID, unique ID prefix or hostname.
	Node string `json:"node,omitempty"`
	// DesiredState is "running", "shutdown", "accepted" or "", as in
	// `docker service ps --filter desired-state=...`.
	DesiredState string `json:"desired_state,omitempty"`
}

// LogOptions says which log lines ServiceLogs sends.
type LogOptions struct {
	// Follow keeps the stream open and sends new lines as they come.
	Follow bool `json:"follow"`
	// Tail is how many of the last lines of each task to send first; -1
	// sends them all.
	Tail int `json:"tail"`
	// Since drops lines older than this; the zero time keeps all.
	Since time.Time `json:"since,omitzero"`
	// Timestamps asks for each line's time to be filled in.
	Timestamps bool `json:"timestamps"`
}

// LogLine is one line a task wrote.
type LogLine struct {
	TaskID       string    `json:"task_id"`
	TaskName     string    `json:"task_name"`
	NodeID       string    `json:"node_id"`
	NodeHostname string    `json:"node_hostname"`
	Time         time.Time `json:"time,omitzero"`
	// Stream is "stdout" or "stderr".
	Stream string `json:"stream"`
	// Line is the text without its trailing newline.
	Line string `json:"line"`
}

// Plugin states a PluginStatus reports.
const (
	PluginRunning    = "running"
	PluginStarting   = "starting"
	PluginUnhealthy  = "unhealthy"
	PluginRestarting = "restarting"
	PluginFailed     = "failed"
	PluginStopped    = "stopped"
)

// PluginStatus is one plugin as the node serving the request runs it.
type PluginStatus struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Version string `json:"version"`
	// Source is "builtin" or the path of the plugin's executable.
	Source string `json:"source"`
	// State is "starting", "running", "unhealthy" (it runs but its health
	// check fails: its engine is unreachable, say), "restarting", "failed"
	// or "stopped".
	State    string `json:"state"`
	PID      int    `json:"pid,omitempty"`
	Restarts int    `json:"restarts"`
	// Error is why the plugin is unhealthy, restarting or failed.
	Error        string   `json:"error,omitempty"`
	Capabilities []string `json:"capabilities,omitempty"`
}

// PluginKindRuntime is PluginStatus.Kind of a container runtime.
const PluginKindRuntime = "runtime"

// Trouble says what is wrong with a plugin that is unhealthy, restarting
// or failed, and what that means for the node, as `hive up` warns: ""
// for one that is starting, running or stopped.
func (p PluginStatus) Trouble() string {
	switch p.State {
	case PluginUnhealthy, PluginRestarting, PluginFailed:
	default:
		return ""
	}
	msg := p.Kind + " plugin " + p.Name + " is " + p.State
	if p.State == PluginFailed {
		msg = p.Kind + " plugin " + p.Name + " has failed"
	}
	if p.Error != "" {
		msg += ": " + p.Error
	}
	if p.Kind == PluginKindRuntime {
		msg += "; this node cannot run tasks until it is healthy"
	}
	return msg
}

// ErrorResponse is the body of every error the API returns, and the last
// line of a log stream that failed after it began.
type ErrorResponse struct {
	Message string `json:"message"`
	// Kind is errdefs.Kind of the error: "invalid_argument", "not_found",
	// "version_conflict" (an update sent a version that is no longer the
	// current one), "conflict", "unavailable", "permission_denied" or
	// "internal". Both conflicts are status 409.
	Kind string `json:"kind"`
}

// StreamError is the last line of a log stream that failed after the
// first line was sent: {"error": "...", "kind": "..."}.
type StreamError struct {
	Error string `json:"error"`
	Kind  string `json:"kind"`
}

// MaxBodyBytes is the largest request body the API reads.
const MaxBodyBytes = 1 << 20

// Content types the API writes.
const (
	ContentTypeJSON   = "application/json"
	ContentTypeNDJSON = "application/x-ndjson"
)

// StatsOptions says whose resource use Stats reports.
type StatsOptions struct {
	// Services are the services (names, IDs or ID prefixes) whose running
	// tasks are sampled; none means every running task.
	Services []string `json:"services,omitempty"`
	// Stream keeps sending a frame every second until ctx is done;
	// without it, Stats sends one frame (from two samples of each task,
	// a second apart, for the CPU use) and returns.
	Stream bool `json:"stream"`
}

// StatsFrame is one refresh of Stats: a row for every task sampled.
type StatsFrame struct {
	Time  time.Time   `json:"time"`
	Tasks []TaskStats `json:"tasks"`
}

// The values a TaskStats row may know (TaskStats.Known).
const (
	StatsCPU         = "cpu"
	StatsMemory      = "memory"
	StatsMemoryLimit = "memory_limit"
	StatsNetwork     = "network"
	StatsBlockIO     = "block_io"
	StatsPIDs        = "pids"
)

// TaskStats is one task's resource use, as its node's runtime reports it.
// Byte and PID counts are totals since the task's container started; a
// value the runtime cannot report is zero and missing from Known.
type TaskStats struct {
	TaskID       string `json:"task_id"`
	TaskName     string `json:"task_name"`
	ServiceID    string `json:"service_id"`
	ServiceName  string `json:"service_name"`
	NodeID       string `json:"node_id"`
	NodeHostname string `json:"node_hostname"`
	// Time is when the last sample was read; zero when there is none.
	Time time.Time `json:"time,omitzero"`
	// CPUPercent is the use between the last two samples, 100 per busy
	// CPU (as docker stats shows it).
	CPUPercent  float64 `json:"cpu_percent"`
	MemoryBytes uint64  `json:"memory_bytes"`
	MemoryLimit uint64  `json:"memory_limit"`
	// MemoryPercent is MemoryBytes over MemoryLimit, times 100.
	MemoryPercent   float64  `json:"memory_percent"`
	NetRxBytes      uint64   `json:"net_rx_bytes"`
	NetTxBytes      uint64   `json:"net_tx_bytes"`
	BlockReadBytes  uint64   `json:"block_read_bytes"`
	BlockWriteBytes uint64   `json:"block_write_bytes"`
	PIDs            uint64   `json:"pids"`
	Known           []string `json:"known"`
	// Error says why the task has no sample (its node is down, its
	// container is gone); "" when it has one.
	Error string `json:"error,omitempty"`
}

// Knows reports whether the row has the value named (StatsCPU, ...).
func (t TaskStats) Knows(value string) bool { return slices.Contains(t.Known, value) }
