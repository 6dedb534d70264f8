package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hiveorch/hive/core/agent"
	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// ClusterStatus describes the Raft group as this manager sees it.
func (b *managerBackend) ClusterStatus(ctx context.Context) (*api.ClusterStatus, error) {
	d := b.d
	st := d.store.Status()
	out := &api.ClusterStatus{
		ClusterID: d.id.Root().Digest()[:25], NodeID: d.state.NodeID, State: st.State,
		LeaderID: st.LeaderID, LeaderAddr: st.LeaderAddr, Term: st.Term, LastIndex: st.LastIndex,
		CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex,
	}
	d.store.View(func(tx store.ReadTx) {
		for _, m := range st.Members {
			cm := api.ClusterMember{ID: m.ID, Addr: m.Addr, Voter: m.Voter, Leader: m.Leader, Reachable: m.Leader || m.ID == d.state.NodeID}
			if n := tx.Node(m.ID); n != nil {
				cm.Hostname = n.Description.Hostname
				cm.Reachable = cm.Reachable || n.Status.State == types.NodeStateReady
			}
			out.Members = append(out.Members, cm)
		}
	})
	return out, nil
}

// Leave makes this manager leave the cluster. Without force it refuses:
// a manager leaving takes a member out of the Raft group. With force, and
// other managers left, its node record becomes a worker's so the leader
// takes it out of the group; the last manager just forgets the cluster.
func (b *managerBackend) Leave(ctx context.Context, force bool) error {
	d := b.d
	if !force {
		return fmt.Errorf("%w: this node is a manager: leaving removes it from the Raft group; demote it first ('hive node demote %s' on a manager), or leave anyway with --force", errdefs.ErrInvalidArgument, shortID(d.state.NodeID))
	}
	others := 0
	d.store.View(func(tx store.ReadTx) {
		for _, n := range tx.Nodes() {
			if n.Spec.Role == types.RoleManager && n.ID != d.state.NodeID {
				others++
			}
		}
	})
	if others > 0 {
		err := d.control.Write(ctx, func(tx store.Tx) error {
			cur := tx.Node(d.state.NodeID)
			if cur == nil {
				return nil
			}
			n := cur.Copy()
			n.Spec.Role = types.RoleWorker
			n.Spec.Availability = types.AvailabilityDrain
			return tx.UpdateNode(n)
		})
		if err != nil {
			return fmt.Errorf("leave the cluster: %w", err)
		}
	}
	return d.leave(ctx)
}

// Leave makes this worker leave the cluster.
func (b *workerBackend) Leave(ctx context.Context, force bool) error { return b.d.leave(ctx) }

// leave removes this node's task containers and its cluster state, then
// stops the daemon. The managers see the node go down; 'hive node rm'
// forgets it.
func (d *daemon) leave(ctx context.Context) error {
	cs, err := d.runtime.List(ctx, runtime.ListFilter{Labels: map[string]string{agent.LabelNode: d.state.NodeID}})
	if err != nil {
		return fmt.Errorf("%w: leave the cluster: list this node's containers: %w", errdefs.ErrUnavailable, err)
	}
	for _, c := range cs {
		if err := d.runtime.Remove(ctx, c.ID, runtime.RemoveOptions{Force: true}); err != nil {
			d.logger.Warn("remove a task container while leaving", "container_id", c.ID, "error", err)
		}
	}
	for _, p := range []string{StatePath(d.cfg.DataDir), CertDir(d.cfg.DataDir), filepath.Join(d.cfg.DataDir, "raft")} {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("leave the cluster: %w", err)
		}
	}
	d.logger.Info("this node left the cluster; stopping")
	go d.shutdown()
	return nil
}

// UpdateNode is refused on a worker.
func (b *workerBackend) UpdateNode(context.Context, string, uint64, types.NodeSpec) (*types.Node, error) {
	return nil, b.notManager()
}

// RemoveNode is refused on a worker.
func (b *workerBackend) RemoveNode(context.Context, string, bool) error { return b.notManager() }

// ClusterStatus is refused on a worker.
func (b *workerBackend) ClusterStatus(context.Context) (*api.ClusterStatus, error) {
	return nil, b.notManager()
}
