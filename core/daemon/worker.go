package daemon

import (
	"context"
	"fmt"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

// workerBackend is the local API of a worker: it describes the node and
// its plugins, and stops the daemon; cluster operations belong to the
// managers, and say so.
type workerBackend struct {
	d *daemon
}

var _ api.Backend = (*workerBackend)(nil)

func (b *workerBackend) notManager() error {
	leader := b.d.session.Leader()
	if leader == "" {
		leader = "MANAGER_ADDR:PORT"
	}
	return fmt.Errorf("%w: this node is a worker: run cluster commands on a manager, or from here with -H tcp://%s and a client certificate ('hive cluster client-cert' on a manager)", errdefs.ErrUnavailable, leader)
}

// Info describes this worker and the manager it follows.
func (b *workerBackend) Info(ctx context.Context) (*api.Info, error) {
	info := b.d.baseInfo()
	info.Hostname = b.d.describe(ctx).Hostname
	for _, m := range b.d.session.Managers() {
		info.Managers++
		if m.Leader {
			info.LeaderID = m.ID
		}
	}
	return info, nil
}

// ListNodes is refused: the nodes are the managers' business.
func (b *workerBackend) ListNodes(context.Context) ([]*types.Node, error) { return nil, b.notManager() }

// GetNode describes this node ("self" or its ID); other nodes are the
// managers' business.
func (b *workerBackend) GetNode(ctx context.Context, ref string) (*types.Node, error) {
	if ref != "self" && ref != b.d.state.NodeID {
		return nil, b.notManager()
	}
	return &types.Node{
		ID:          b.d.state.NodeID,
		Spec:        types.NodeSpec{Role: types.RoleWorker},
		Description: b.d.describe(ctx),
		Status:      types.NodeStatus{State: types.NodeStateReady, Addr: b.d.addr},
	}, nil
}

// Plugins reports this node's plugin processes.
func (b *workerBackend) Plugins(context.Context) ([]api.PluginStatus, error) {
	return b.d.pluginStatus(), nil
}

// Shutdown stops the daemon.
func (b *workerBackend) Shutdown(context.Context) error {
	b.d.logger.Info("shutdown requested through the API")
	go b.d.shutdown()
	return nil
}

// The rest are cluster operations, for managers only.

func (b *workerBackend) ListServices(context.Context) ([]api.ServiceSummary, error) {
	return nil, b.notManager()
}
func (b *workerBackend) GetService(context.Context, string) (*types.Service, error) {
	return nil, b.notManager()
}
func (b *workerBackend) CreateService(context.Context, types.ServiceSpec) (*types.Service, error) {
	return nil, b.notManager()
}
func (b *workerBackend) UpdateService(context.Context, string, uint64, types.ServiceSpec) (*types.Service, error) {
	return nil, b.notManager()
}
func (b *workerBackend) RollbackService(context.Context, string) (*types.Service, error) {
	return nil, b.notManager()
}
func (b *workerBackend) RemoveService(context.Context, string) error { return b.notManager() }
func (b *workerBackend) ListTasks(context.Context, api.TaskFilter) ([]*types.Task, error) {
	return nil, b.notManager()
}
func (b *workerBackend) ServiceLogs(context.Context, string, api.LogOptions, func(api.LogLine) error) error {
	return b.notManager()
}
func (b *workerBackend) Stats(context.Context, api.StatsOptions, func(api.StatsFrame) error) error {
	return b.notManager()
}
func (b *workerBackend) JoinTokens(context.Context) (*api.JoinTokens, error) {
	return nil, b.notManager()
}
func (b *workerBackend) RotateJoinToken(context.Context, types.NodeRole) (*api.JoinTokens, error) {
	return nil, b.notManager()
}
func (b *workerBackend) CreateSecret(context.Context, types.SecretSpec, types.SecretValue) (*types.Secret, error) {
	return nil, b.notManager()
}
func (b *workerBackend) ListSecrets(context.Context) ([]*types.Secret, error) {
	return nil, b.notManager()
}
func (b *workerBackend) GetSecret(context.Context, string) (*types.Secret, error) {
	return nil, b.notManager()
}
func (b *workerBackend) RemoveSecret(context.Context, string) error { return b.notManager() }
func (b *workerBackend) UpdateSecret(context.Context, string, types.SecretValue) (*types.Secret, error) {
	return nil, b.notManager()
}
func (b *workerBackend) CreateConfig(context.Context, types.ConfigSpec, []byte) (*types.Config, error) {
	return nil, b.notManager()
}
func (b *workerBackend) ListConfigs(context.Context) ([]*types.Config, error) {
	return nil, b.notManager()
}
func (b *workerBackend) GetConfig(context.Context, string) (*types.Config, error) {
	return nil, b.notManager()
}
func (b *workerBackend) RemoveConfig(context.Context, string) error { return b.notManager() }
func (b *workerBackend) UpdateConfig(context.Context, string, []byte) (*types.Config, error) {
	return nil, b.notManager()
}
func (b *workerBackend) CreateNetwork(context.Context, types.NetworkSpec) (*types.Network, error) {
	return nil, b.notManager()
}
func (b *workerBackend) ListNetworks(context.Context) ([]*types.Network, error) {
	return nil, b.notManager()
}
func (b *workerBackend) GetNetwork(context.Context, string) (*types.Network, error) {
	return nil, b.notManager()
}
func (b *workerBackend) RemoveNetwork(context.Context, string) error { return b.notManager() }
func (b *workerBackend) PruneNetworks(context.Context) ([]string, error) {
	return nil, b.notManager()
}
func (b *workerBackend) SetAutolock(context.Context, bool) (*api.UnlockKey, error) {
	return nil, b.notManager()
}
func (b *workerBackend) UnlockKey(context.Context) (*api.UnlockKey, error) {
	return nil, b.notManager()
}
func (b *workerBackend) RotateUnlockKey(context.Context) (*api.UnlockKey, error) {
	return nil, b.notManager()
}
func (b *workerBackend) Unlock(context.Context, string) error {
	return fmt.Errorf("%w: this node is a worker: only managers are locked and unlocked", errdefs.ErrInvalidArgument)
}
func (b *workerBackend) IssueClientCert(context.Context, api.ClientCertRequest) (*api.ClientCert, error) {
	return nil, b.notManager()
}
