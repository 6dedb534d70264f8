package nodehealth

import (
	"fmt"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/types"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type beats map[string]time.Time

func (b beats) LastSeen(id string) time.Time { return b[id] }

func nodes(ids ...string) []*types.Node {
	var out []*types.Node
	for _, id := range ids {
		out = append(out, &types.Node{ID: id, Status: types.NodeStatus{State: types.NodeStateReady}})
	}
	return out
}

func TestPeriodGrowsWithTheCluster(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want time.Duration
	}{{1, time.Second}, {50, time.Second}, {100, 2 * time.Second}, {1000, 20 * time.Second}} {
		if got := Period(tt.n); got != tt.want {
			t.Errorf("Period(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}

func TestASilentNodeIsDownAfterTheGracePeriodOnly(t *testing.T) {
	ns := nodes("a", "b")
	b := beats{"a": t0, "b": t0}
	if down, wake := Reconcile(ns, b, t0, t0.Add(2900*time.Millisecond)); len(down) != 0 || !wake.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("a blip shorter than the grace period: down %v wake %v", down, wake)
	}
	b["b"] = t0.Add(2 * time.Second)
	down, wake := Reconcile(ns, b, t0, t0.Add(3*time.Second))
	if fmt.Sprint(down) != "[a]" || !wake.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("down %v wake %v, want [a] and the next deadline of b", down, wake)
	}
}

func TestANewLeaderGivesEveryNodeAFullGracePeriod(t *testing.T) {
	ns := nodes("a")
	since := t0.Add(time.Hour)
	if down, _ := Reconcile(ns, beats{}, since, since.Add(time.Second)); len(down) != 0 {
		t.Fatalf("a node not heard from before this term was marked down at once: %v", down)
	}
	if down, _ := Reconcile(ns, beats{}, since, since.Add(3*time.Second)); fmt.Sprint(down) != "[a]" {
		t.Fatalf("down %v, want [a] after a full grace period", down)
	}
}

func TestOnlyReadyNodesAreChecked(t *testing.T) {
	ns := nodes("a")
	ns[0].Status.State = types.NodeStateDown
	if down, wake := Reconcile(ns, beats{}, t0, t0.Add(time.Hour)); len(down) != 0 || !wake.IsZero() {
		t.Fatalf("down %v wake %v for a node already down", down, wake)
	}
}
