package controlapi

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

func addNodes(t *testing.T, st *store.Store, nodes ...*types.Node) {
	t.Helper()
	err := st.Update(context.Background(), func(tx store.Tx) error {
		for _, n := range nodes {
			if err := tx.CreateNode(n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func node(id string, role types.NodeRole, state types.NodeState) *types.Node {
	return &types.Node{ID: id, Spec: types.NodeSpec{Role: role, Availability: types.AvailabilityActive},
		Description: types.NodeDescription{Hostname: "host-" + id}, Status: types.NodeStatus{State: state}}
}

func TestUpdateNodeSetsAvailabilityAndLabels(t *testing.T) {
	s, st := newServer(t)
	addNodes(t, st, node("n1", types.RoleWorker, types.NodeStateReady))
	n, _ := s.GetNode(context.Background(), "host-n1")
	sp := n.Spec
	sp.Availability = types.AvailabilityDrain
	sp.Labels = map[string]string{"zone": "east"}
	got, err := s.UpdateNode(context.Background(), "n1", n.Version, sp)
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.Availability != types.AvailabilityDrain || got.Spec.Labels["zone"] != "east" {
		t.Fatalf("spec after update: %+v", got.Spec)
	}
	sp.Availability = "sleep"
	if _, err := s.UpdateNode(context.Background(), "n1", got.Version, sp); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("bad availability: %v", err)
	}
	if _, err := s.UpdateNode(context.Background(), "n1", n.Version, got.Spec); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("stale version: %v", err)
	}
}

func TestDemotionNeverLosesTheLastManagerOrQuorum(t *testing.T) {
	tests := []struct {
		name    string
		nodes   []*types.Node
		victim  string
		wantErr string
	}{
		{"last manager", []*types.Node{node("m1", types.RoleManager, types.NodeStateReady)}, "m1", "last manager"},
		{"quorum lost", []*types.Node{node("m1", types.RoleManager, types.NodeStateReady), node("m2", types.RoleManager, types.NodeStateDown),
			node("m3", types.RoleManager, types.NodeStateReady)}, "m1", "lose quorum"},
		{"fine with three healthy", []*types.Node{node("m1", types.RoleManager, types.NodeStateReady), node("m2", types.RoleManager, types.NodeStateReady),
			node("m3", types.RoleManager, types.NodeStateReady)}, "m1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, st := newServer(t)
			addNodes(t, st, tt.nodes...)
			n, _ := s.GetNode(context.Background(), tt.victim)
			sp := n.Spec
			sp.Role = types.RoleWorker
			_, err := s.UpdateNode(context.Background(), tt.victim, n.Version, sp)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("demote: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("demote: %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestRemoveNodeRefusesManagersAndLiveNodesWithoutForce(t *testing.T) {
	s, st := newServer(t)
	addNodes(t, st, node("m1", types.RoleManager, types.NodeStateDown), node("w1", types.RoleWorker, types.NodeStateReady),
		node("w2", types.RoleWorker, types.NodeStateDown))
	ctx := context.Background()
	if err := s.RemoveNode(ctx, "m1", true); err == nil || !strings.Contains(err.Error(), "demote it first") {
		t.Fatalf("rm manager: %v", err)
	}
	if err := s.RemoveNode(ctx, "w1", false); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("rm live worker: %v", err)
	}
	if err := s.RemoveNode(ctx, "w2", false); err != nil {
		t.Fatalf("rm down worker: %v", err)
	}
	if err := s.RemoveNode(ctx, "w1", true); err != nil {
		t.Fatalf("rm live worker with force: %v", err)
	}
	if nodes, _ := s.ListNodes(ctx); len(nodes) != 1 {
		t.Fatalf("%d nodes left, want the manager only", len(nodes))
	}
}
