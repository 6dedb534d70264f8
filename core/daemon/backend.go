package daemon

import (
	"context"
	"fmt"
	"os"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/controlapi"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/core/version"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// backend is the API's view of the daemon: the store-backed control
// logic, plus what only the daemon knows.
type backend struct {
	*controlapi.Server
	d *daemon
}

var _ api.Backend = (*backend)(nil)

// Info describes this node and the cluster.
func (b *backend) Info(ctx context.Context) (*api.Info, error) {
	d := b.d
	leaderID, _ := d.store.Leader()
	info := &api.Info{
		NodeID: d.state.NodeID, Role: string(d.state.Role), Version: version.Version, DataDir: d.cfg.DataDir,
		Endpoint: d.cfg.Host, Runtime: d.cfg.Plugins.Runtime, Scheduler: d.cfg.Plugins.Scheduler,
		Leader: d.store.IsLeader(), LeaderID: leaderID, StartedAt: d.started, PID: os.Getpid(),
		// The cluster is named by its root CA, which join tokens carry.
		ClusterID: d.root.Digest()[:25],
	}
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
		for _, t := range tx.Tasks() {
			info.Tasks++
			if t.Status.State == types.TaskStateRunning && t.DesiredState == types.TaskStateRunning {
				info.TasksRunning++
			}
		}
	})
	return info, nil
}

// ListNodes adds each manager's Raft status.
func (b *backend) ListNodes(ctx context.Context) ([]*types.Node, error) {
	nodes, err := b.Server.ListNodes(ctx)
	for _, n := range nodes {
		b.managerStatus(n)
	}
	return nodes, err
}

// GetNode adds the manager's Raft status.
func (b *backend) GetNode(ctx context.Context, ref string) (*types.Node, error) {
	n, err := b.Server.GetNode(ctx, ref)
	if err == nil {
		b.managerStatus(n)
	}
	return n, err
}

func (b *backend) managerStatus(n *types.Node) {
	if n.Spec.Role != types.RoleManager {
		return
	}
	leaderID, _ := b.d.store.Leader()
	reach := "unreachable"
	if n.ID == b.d.state.NodeID || n.ID == leaderID {
		reach = "reachable"
	}
	n.ManagerStatus = &types.ManagerStatus{Leader: n.ID == leaderID, Reachability: reach, Addr: n.Status.Addr}
}

// Plugins reports the plugin processes of this node.
func (b *backend) Plugins(ctx context.Context) ([]api.PluginStatus, error) {
	var out []api.PluginStatus
	for _, s := range b.d.plugins.List() {
		out = append(out, api.PluginStatus{
			Name: s.Name, Kind: string(s.Kind), Version: s.Version, Source: s.Source, State: s.State,
			PID: s.PID, Restarts: s.Restarts, Error: s.Error, Capabilities: s.Capabilities,
		})
	}
	return out, nil
}

// Shutdown stops the daemon.
func (b *backend) Shutdown(ctx context.Context) error {
	b.d.logger.Info("shutdown requested through the API")
	go b.d.shutdown()
	return nil
}

// TaskLogs reads a task's output from the runtime of the node it ran on.
func (d *daemon) TaskLogs(ctx context.Context, t *types.Task, opts runtime.LogOptions, sink func(runtime.LogEntry) error) error {
	if t.NodeID != d.state.NodeID {
		return fmt.Errorf("%w: task %s ran on node %s, whose logs this node cannot read", errdefs.ErrUnavailable, t.Name(), t.NodeID)
	}
	return d.runtime.Logs(ctx, t.Status.ContainerID, opts, sink)
}
