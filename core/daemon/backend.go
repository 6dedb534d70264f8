package daemon

import (
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/controlapi"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/rpc"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/taskstats"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/core/version"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// managerBackend is the API of a manager: the store-backed control logic,
// plus what only the daemon knows.
type managerBackend struct {
	*controlapi.Server
	d *daemon
}

var _ api.Backend = (*managerBackend)(nil)

// Info describes this node and the cluster.
func (b *managerBackend) Info(ctx context.Context) (*api.Info, error) {
	d := b.d
	leaderID, _ := d.store.Leader()
	info := d.baseInfo()
	info.Leader, info.LeaderID = d.store.IsLeader(), leaderID
	info.Scheduler = d.cfg.Plugins.Scheduler
	d.store.View(func(tx store.ReadTx) {
		info.RaftIndex = tx.Index()
		for _, n := range tx.Nodes() {
			info.Nodes++
			if n.Spec.Role == types.RoleManager {
				info.Managers++
			}
			if n.ID == d.state.NodeID {
				info.Hostname = n.Description.Hostname
			}
		}
		info.Services = len(tx.Services())
		if c := tx.Cluster(); c != nil {
			info.Autolock, info.ClusterVersion = c.Encryption.Autolock, c.Version
		}
		for _, t := range tx.Tasks() {
			info.Tasks++
			if t.Status.State == types.TaskStateRunning && t.DesiredState == types.TaskStateRunning {
				info.TasksRunning++
			}
		}
	})
	return info, nil
}

// baseInfo is what every node says of itself.
func (d *daemon) baseInfo() *api.Info {
	return &api.Info{
		NodeID: d.state.NodeID, Role: string(d.role), Version: version.Version, DataDir: d.cfg.DataDir,
		Endpoint: d.cfg.Host, Runtime: d.cfg.Plugins.Runtime, StartedAt: d.started, PID: os.Getpid(),
		// The cluster is named by its root CA, which join tokens carry.
		ClusterID: d.id.Root().Digest()[:25],
		DockerAPI: d.dockerAPI, DockerAPITCP: d.dockerAPITCP,
		MetricsURL: d.metricsURL,
	}
}

// ListNodes adds each manager's Raft status.
func (b *managerBackend) ListNodes(ctx context.Context) ([]*types.Node, error) {
	nodes, err := b.Server.ListNodes(ctx)
	members := b.d.store.Members()
	for _, n := range nodes {
		managerStatus(n, members)
	}
	return nodes, err
}

// GetNode adds the manager's Raft status.
func (b *managerBackend) GetNode(ctx context.Context, ref string) (*types.Node, error) {
	n, err := b.Server.GetNode(ctx, ref)
	if err == nil {
		managerStatus(n, b.d.store.Members())
	}
	return n, err
}

// managerStatus fills a manager's place in the Raft group: leader, and
// reachable when it is a member whose node is up.
func managerStatus(n *types.Node, members []store.Member) {
	if n.Spec.Role != types.RoleManager {
		return
	}
	i := slices.IndexFunc(members, func(m store.Member) bool { return m.ID == n.ID })
	ms := &types.ManagerStatus{Reachability: "unreachable", Addr: n.Status.Addr}
	if i >= 0 {
		ms.Leader = members[i].Leader
		ms.Addr = members[i].Addr
		if members[i].Leader || n.Status.State == types.NodeStateReady {
			ms.Reachability = "reachable"
		}
	}
	n.ManagerStatus = ms
}

// Plugins reports the plugin processes of this node.
func (b *managerBackend) Plugins(ctx context.Context) ([]api.PluginStatus, error) {
	return b.d.pluginStatus(), nil
}

func (d *daemon) pluginStatus() []api.PluginStatus {
	var out []api.PluginStatus
	for _, s := range d.plugins.List() {
		out = append(out, api.PluginStatus{
			Name: s.Name, Kind: string(s.Kind), Version: s.Version, Source: s.Source, State: s.State,
			PID: s.PID, Restarts: s.Restarts, Error: s.Error, Capabilities: s.Capabilities,
		})
	}
	return out
}

// runtimeTrouble says what is wrong with the runtime plugin, in the words
// of plugin ls and hive up (api.PluginStatus.Trouble), "" when nothing is.
func (d *daemon) runtimeTrouble() string {
	for _, p := range d.pluginStatus() {
		if p.Kind == api.PluginKindRuntime {
			if msg := p.Trouble(); msg != "" {
				return msg
			}
		}
	}
	return ""
}

// reportPluginTrouble warns, once the node's plugins have started, of each plugin that is unhealthy, restarting or failed,
// in the words `hive up -d` prints: the foreground `hive up` shows it on
// its terminal.
func (d *daemon) reportPluginTrouble(ctx context.Context) error {
	_ = d.runtime.WaitReady(ctx)
	_ = d.network.WaitReady(ctx)
	if d.scheduler != nil {
		_ = d.scheduler.WaitReady(ctx)
	}
	if ctx.Err() != nil {
		return nil
	}
	for _, p := range d.pluginStatus() {
		if msg := p.Trouble(); msg != "" {
			d.logger.Warn(msg, "plugin", p.Name)
		}
	}
	return nil
}

// Shutdown stops the daemon.
func (b *managerBackend) Shutdown(ctx context.Context) error {
	b.d.logger.Info("shutdown requested through the API")
	go b.d.shutdown()
	return nil
}

// TaskLogs reads a task's output from the runtime of the node it ran on:
// this node's, or another's through its Agent RPC service.
func (d *daemon) TaskLogs(ctx context.Context, t *types.Task, opts runtime.LogOptions, sink func(runtime.LogEntry) error) error {
	if t.NodeID == d.state.NodeID {
		return d.localTaskLogs(ctx, t, opts, sink)
	}
	agent, err := d.agentOf(t.NodeID, "logs of task "+t.Name())
	if err != nil {
		return err
	}
	return agent.TaskLogs(ctx, t, opts, sink)
}

// TaskStats samples tasks of node nodeID: on this node's runtime, or on
// another's through its Agent RPC service.
func (d *daemon) TaskStats(ctx context.Context, nodeID string, req taskstats.Request, sink func(taskstats.Sample) error) error {
	if nodeID == d.state.NodeID {
		return d.localTaskStats(ctx, req, sink)
	}
	agent, err := d.agentOf(nodeID, "task stats")
	if err != nil {
		return err
	}
	return agent.TaskStats(ctx, req, sink)
}

// localTaskStats samples tasks of this node on its runtime.
func (d *daemon) localTaskStats(ctx context.Context, req taskstats.Request, sink func(taskstats.Sample) error) error {
	return taskstats.Collect(ctx, d.clock, d.runtime.Stats, req, sink)
}

// agentOf returns a client of node nodeID's Agent service, for what (the
// call's words in an error).
func (d *daemon) agentOf(nodeID, what string) (*rpc.AgentClient, error) {
	var addr string
	d.store.View(func(tx store.ReadTx) {
		if n := tx.Node(nodeID); n != nil {
			addr = n.Status.Addr
		}
	})
	if addr == "" {
		return nil, fmt.Errorf("%w: %s: node %s is no longer in the cluster", errdefs.ErrUnavailable, what, nodeID)
	}
	cc, err := d.pool.Conn(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: node %s at %s: %w", errdefs.ErrUnavailable, what, nodeID, addr, err)
	}
	return rpc.NewAgentClient(cc), nil
}

// localTaskLogs reads a task's output from this node's runtime.
func (d *daemon) localTaskLogs(ctx context.Context, t *types.Task, opts runtime.LogOptions, sink func(runtime.LogEntry) error) error {
	if t.Status.ContainerID == "" {
		return fmt.Errorf("%w: task %s has no container", errdefs.ErrNotFound, t.Name())
	}
	return d.runtime.Logs(ctx, t.Status.ContainerID, opts, sink)
}
