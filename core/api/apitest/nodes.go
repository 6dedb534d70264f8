package apitest

import (
	"context"
	"fmt"
	"sort"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

// UpdateNode replaces a stored node's spec, checking its version.
func (b *Backend) UpdateNode(ctx context.Context, ref string, version uint64, spec types.NodeSpec) (*types.Node, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("UpdateNode"); err != nil {
		return nil, err
	}
	n, err := b.findNode(ref)
	if err != nil {
		return nil, err
	}
	if n.Version != version {
		return nil, fmt.Errorf("%w: node %s changed since it was read (version %d, now %d)", errdefs.ErrConflict, n.ID, version, n.Version)
	}
	b.version++
	c := n.Copy()
	c.Spec = spec
	c.Version = b.version
	b.nodes[c.ID] = c
	return c.Copy(), nil
}

// RemoveNode deletes a stored node; a ready one needs force.
func (b *Backend) RemoveNode(ctx context.Context, ref string, force bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("RemoveNode"); err != nil {
		return err
	}
	n, err := b.findNode(ref)
	if err != nil {
		return err
	}
	if n.Status.State == types.NodeStateReady && !force {
		return fmt.Errorf("%w: node %s is up: use --force", errdefs.ErrInvalidArgument, n.ID)
	}
	delete(b.nodes, n.ID)
	return nil
}

// ClusterStatus lists the stored managers as the Raft group, the first
// (by ID) leading.
func (b *Backend) ClusterStatus(ctx context.Context) (*api.ClusterStatus, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("ClusterStatus"); err != nil {
		return nil, err
	}
	st := &api.ClusterStatus{NodeID: b.InfoValue.NodeID, State: "leader", Term: 1}
	var ids []string
	for id, n := range b.nodes {
		if n.Spec.Role == types.RoleManager {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for i, id := range ids {
		n := b.nodes[id]
		m := api.ClusterMember{ID: id, Hostname: n.Description.Hostname, Addr: n.Status.Addr, Voter: true,
			Leader: i == 0, Reachable: n.Status.State == types.NodeStateReady}
		if m.Leader {
			st.LeaderID, st.LeaderAddr = id, n.Status.Addr
		}
		st.Members = append(st.Members, m)
	}
	return st, nil
}

// Leave records the call.
func (b *Backend) Leave(ctx context.Context, force bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.enter("Leave")
}
