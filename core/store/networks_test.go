package store

import (
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/logadapt"
	"github.com/hiveorch/hive/internal/testutil"
)

func TestNetworksAreStoredByIDAndName(t *testing.T) {
	s, _ := newMemory(t)
	events, cancel := s.ViewAndWatch(nil, nil)
	defer cancel()
	mustUpdate(t, s, func(tx Tx) error { return tx.CreateNetwork(newNetwork("n1", "backend", "10.0.0.0/24", 4096)) })
	tx := view(s)
	if n := tx.NetworkByName("backend"); n == nil || n.ID != "n1" || tx.Network("n1") == nil || len(tx.Networks()) != 1 {
		t.Fatalf("NetworkByName(backend) = %+v, %d networks", n, len(tx.Networks()))
	}
	if ev := <-events; ev.Network == nil || ev.Action != ActionCreate {
		t.Fatalf("event = %+v, want a network created", ev)
	}

	err := s.Update(testCtx(t), func(tx Tx) error { return tx.CreateNetwork(newNetwork("n2", "backend", "10.0.1.0/24", 4097)) })
	if !errors.Is(err, ErrNameConflict) {
		t.Fatalf("second network named backend: %v, want ErrNameConflict", err)
	}
	// A service and a network may share a name.
	mustUpdate(t, s, func(tx Tx) error { return tx.CreateService(newService("s1", "backend")) })

	mustUpdate(t, s, func(tx Tx) error {
		n := tx.Network("n1").Copy()
		n.Spec.Labels = map[string]string{"tier": "db"}
		return tx.UpdateNetwork(n)
	})
	<-events // the service
	if ev := <-events; ev.Action != ActionUpdate || ev.OldNetwork == nil || ev.OldNetwork.Spec.Labels != nil || ev.Network.Spec.Labels["tier"] != "db" {
		t.Fatalf("update event = %+v", ev)
	}
	mustUpdate(t, s, func(tx Tx) error { return tx.DeleteNetwork("n1") })
	if ev := <-events; ev.Action != ActionDelete || ev.Network == nil || ev.Network.ID != "n1" {
		t.Fatalf("delete event = %+v", ev)
	}
	if view(s).Network("n1") != nil || view(s).NetworkByName("backend") != nil {
		t.Fatal("network n1 is still stored after its deletion")
	}
}

// TestNetworkAllocationsCannotOverlap proves the store refuses a network
// whose subnet overlaps another's or whose VXLAN ID another has, both at
// the call and when the command applies: two creates computed from the
// same state (as two managers' could be) cannot both apply.
func TestNetworkAllocationsCannotOverlap(t *testing.T) {
	tests := []struct {
		name   string
		subnet string
		vni    uint32
		want   string
	}{
		{"same subnet", "10.0.0.0/24", 4097, "network b: subnet 10.0.0.0/24 overlaps subnet 10.0.0.0/24 of network a"},
		{"inside", "10.0.0.128/25", 4097, "subnet 10.0.0.128/25 overlaps subnet 10.0.0.0/24 of network a"},
		{"around", "10.0.0.0/16", 4097, "subnet 10.0.0.0/16 overlaps"},
		{"same VNI", "10.0.1.0/24", 4096, "network b: VXLAN ID 4096 is used by network a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newMemory(t)
			mustUpdate(t, s, func(tx Tx) error { return tx.CreateNetwork(newNetwork("a", "a", "10.0.0.0/24", 4096)) })
			err := s.Update(testCtx(t), func(tx Tx) error { return tx.CreateNetwork(newNetwork("b", "b", tt.subnet, tt.vni)) })
			if !errors.Is(err, errdefs.ErrConflict) || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("create: %v, want an ErrConflict containing %q", err, tt.want)
			}

			// The same two creates straight into the FSM, as two
			// proposals made from one state.
			f := newFSM(testutil.LoggerAt(t, logadapt.LevelTrace))
			mustApply(t, f, 1, changeOf(t, opCreate, "network", "a", newNetwork("a", "a", "10.0.0.0/24", 4096)))
			resp := f.Apply(&raft.Log{Index: 2, Type: raft.LogCommand, Data: command(t, CommandChanges, 1, false,
				changesBody{Changes: []change{changeOf(t, opCreate, "network", "b", newNetwork("b", "b", tt.subnet, tt.vni))}})})
			if err, _ := resp.(error); !errors.Is(err, errdefs.ErrConflict) {
				t.Fatalf("apply: %v, want ErrConflict", resp)
			}
			if f.read().Network("b") != nil {
				t.Fatal("the conflicting network was stored")
			}
		})
	}

	// A network's own update does not conflict with itself.
	s, _ := newMemory(t)
	mustUpdate(t, s, func(tx Tx) error { return tx.CreateNetwork(newNetwork("a", "a", "10.0.0.0/24", 4096)) })
	mustUpdate(t, s, func(tx Tx) error {
		n := tx.Network("a").Copy()
		n.Spec.Labels = map[string]string{"x": "y"}
		return tx.UpdateNetwork(n)
	})
}
