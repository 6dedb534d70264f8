package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/testutil"
)

// testCluster is n managers on connected in-memory transports, m1
// bootstrapped and the others added as voters. Each store forwards its
// writes to whichever store is the leader, as the daemon does over RPC;
// forwarding can be intercepted with beforeForward.
type testCluster struct {
	t      *testing.T
	ids    []string
	stores map[string]*Store
	trans  map[string]*raft.InmemTransport

	mu            sync.Mutex
	beforeForward func()
}

func newTestCluster(t *testing.T, n int, tweak func(*Config)) *testCluster {
	t.Helper()
	c := &testCluster{t: t, stores: map[string]*Store{}, trans: map[string]*raft.InmemTransport{}}
	for i := range n {
		id := "m" + string(rune('1'+i))
		c.ids = append(c.ids, id)
		_, c.trans[id] = raft.NewInmemTransport(raft.ServerAddress(id))
	}
	for _, a := range c.ids {
		for _, b := range c.ids {
			if a != b {
				c.trans[a].Connect(raft.ServerAddress(b), c.trans[b])
			}
		}
	}
	for _, id := range c.ids {
		cfg := raftConfigFor(t, t.TempDir(), id, id == "m1", c.trans[id])
		// Production timeouts: these tests need a leader that stays, even
		// on a loaded machine under the race detector.
		cfg.HeartbeatTimeout, cfg.ElectionTimeout = DefaultHeartbeatTimeout, DefaultElectionTimeout
		cfg.Forward = c.forward
		if tweak != nil {
			tweak(&cfg)
		}
		c.stores[id] = openRaft(t, cfg)
	}
	leader := c.stores["m1"]
	waitLeading(t, leader.LeaderCh())
	for _, id := range c.ids[1:] {
		if err := leader.AddVoter(testCtx(t), id, id); err != nil {
			t.Fatalf("add voter %s: %v", id, err)
		}
	}
	return c
}

// forward is every store's Config.Forward: the leader's ApplyCommand.
func (c *testCluster) forward(ctx context.Context, cmd []byte) (uint64, error) {
	c.mu.Lock()
	before := c.beforeForward
	c.mu.Unlock()
	if before != nil {
		before()
	}
	for _, s := range c.stores {
		if s.IsLeader() {
			return s.ApplyCommand(ctx, cmd)
		}
	}
	// As the RPC does when the leader cannot be reached.
	return 0, fmt.Errorf("no store leads: %w", errdefs.ErrUnavailable)
}

// cut disconnects id from every other manager, both ways.
func (c *testCluster) cut(id string) {
	for _, other := range c.ids {
		if other != id {
			c.trans[id].Disconnect(raft.ServerAddress(other))
			c.trans[other].Disconnect(raft.ServerAddress(id))
		}
	}
}

// TestWriteThroughAFollower proves a follower with Forward accepts a
// write, the leader applies it, and the follower reads its own write as
// soon as Update returns.
func TestWriteThroughAFollower(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	f := c.stores["m2"]
	if err := f.WaitLeader(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		mustUpdate(t, f, func(tx Tx) error {
			if i == 0 {
				return tx.CreateService(newService("s1", "web"))
			}
			svc := tx.Service("s1").Copy()
			svc.Spec.Replicas++
			return tx.UpdateService(svc)
		})
		if got := view(f).Service("s1"); got == nil || got.Spec.Replicas != uint64(2+i) {
			t.Fatalf("write %d: the follower does not read its own write: %+v", i, got)
		}
	}
	waitFor(t, c.stores["m1"], "the leader has the writes", func(tx ReadTx) bool {
		s := tx.Service("s1")
		return s != nil && s.Spec.Replicas == 6
	})
	if !f.CaughtUp() {
		t.Error("CaughtUp is false on a follower that just applied its own write")
	}
}

// TestForwardedConflictDetectedAtApply proves a forwarded change built on
// a state another write moved past is refused by the leader's FSM, and the
// follower's Update says so with the store's sentinel.
func TestForwardedConflictDetectedAtApply(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	leader, f := c.stores["m1"], c.stores["m2"]
	mustUpdate(t, leader, func(tx Tx) error { return tx.CreateService(newService("s1", "web")) })
	waitFor(t, f, "follower has the service", func(tx ReadTx) bool { return tx.Service("s1") != nil })

	// A write on the leader lands after the follower read the service and
	// before its change reaches the leader.
	c.mu.Lock()
	c.beforeForward = func() {
		mustUpdate(t, leader, func(tx Tx) error {
			svc := tx.Service("s1").Copy()
			svc.Spec.Replicas = 10
			return tx.UpdateService(svc)
		})
	}
	c.mu.Unlock()
	err := f.Update(testCtx(t), func(tx Tx) error {
		svc := tx.Service("s1").Copy()
		svc.Spec.Replicas = 3
		return tx.UpdateService(svc)
	})
	if !errors.Is(err, ErrSequenceConflict) {
		t.Fatalf("forwarded stale update: %v, want ErrSequenceConflict", err)
	}
	if got := view(leader).Service("s1").Spec.Replicas; got != 10 {
		t.Fatalf("replicas on the leader = %d, want 10 (the stale write must not apply)", got)
	}
}

func TestApplyCommandChecksTheCommand(t *testing.T) {
	c := newTestCluster(t, 2, nil)
	leader, f := c.stores["m1"], c.stores["m2"]
	good := command(t, CommandChanges, 1, false, changesBody{Changes: []change{changeOf(t, opCreate, "node", "n1", newNode("n1"))}})
	cases := []struct {
		name string
		cmd  []byte
	}{
		{"not json", []byte("{")},
		{"unknown type", command(t, "other", 1, false, struct{}{})},
		{"optional unknown type", command(t, "other", 1, true, struct{}{})},
		{"newer version", command(t, CommandChanges, changesVersion+1, false, changesBody{})},
		{"unknown kind", command(t, CommandChanges, 1, false, changesBody{Changes: []change{{Op: opCreate, Kind: "volume", ID: "v", Object: []byte(`{}`)}}})},
		{"unknown op", command(t, CommandChanges, 1, false, changesBody{Changes: []change{changeOf(t, "merge", "node", "n1", newNode("n1"))}})},
		{"create without object", command(t, CommandChanges, 1, false, changesBody{Changes: []change{{Op: opCreate, Kind: "node", ID: "n1"}}})},
		{"id mismatch", command(t, CommandChanges, 1, false, changesBody{Changes: []change{changeOf(t, opCreate, "node", "n2", newNode("n1"))}})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			index, err := leader.ApplyCommand(testCtx(t), tc.cmd)
			if !errors.Is(err, errdefs.ErrInvalidArgument) || index != 0 {
				t.Fatalf("ApplyCommand = %d, %v; want ErrInvalidArgument", index, err)
			}
		})
	}

	index, err := leader.ApplyCommand(testCtx(t), good)
	if err != nil || index == 0 {
		t.Fatalf("ApplyCommand(good) = %d, %v", index, err)
	}
	if err := f.WaitApplied(testCtx(t), index); err != nil {
		t.Fatal(err)
	}
	if view(f).Node("n1") == nil {
		t.Fatal("the follower applied the index but has no node n1")
	}
	if _, err := leader.ApplyCommand(testCtx(t), good); !errors.Is(err, ErrExist) {
		t.Fatalf("applying the create again: %v, want ErrExist from the FSM", err)
	}

	_, err = f.ApplyCommand(testCtx(t), good)
	var nl *NotLeaderError
	if !errors.Is(err, ErrNotLeader) || !errors.As(err, &nl) || nl.LeaderID != "m1" || nl.LeaderAddr != "m1" {
		t.Fatalf("ApplyCommand on a follower: %v, want a NotLeaderError naming m1 at m1", err)
	}
}

// TestNoQuorum proves that once two of three managers are gone, writes on
// the last one fail within the commit bound with ErrNoQuorum and a message
// that says what still works, and reads still answer.
func TestNoQuorum(t *testing.T) {
	const bound = 300 * time.Millisecond
	c := newTestCluster(t, 3, func(cfg *Config) {
		cfg.Clock = clock.Real{}
		cfg.CommitTimeout = bound
	})
	leader := c.stores["m1"]
	mustUpdate(t, leader, func(tx Tx) error { return tx.CreateService(newService("s1", "web")) })

	c.cut("m2")
	c.cut("m3")
	want := regexp.MustCompile(`^(propose change: .*)?no quorum: (this manager cannot reach a majority of the managers \(\d of 3 reachable\)|no leader is elected and this manager cannot reach a majority of the 3 managers); reads are served from local state, writes need a majority$`)
	for i := range 4 {
		start := time.Now()
		err := leader.Update(testCtx(t), func(tx Tx) error {
			svc := tx.Service("s1").Copy()
			svc.Spec.Replicas = uint64(10 + i)
			return tx.UpdateService(svc)
		})
		elapsed := time.Since(start)
		if !errors.Is(err, ErrNoQuorum) {
			t.Fatalf("write %d without quorum: %v, want ErrNoQuorum", i, err)
		}
		if elapsed > bound+time.Second {
			t.Fatalf("write %d took %s, want at most the commit bound %s", i, elapsed, bound)
		}
		msg := err.Error()
		if j := strings.Index(msg, "no quorum"); j > 0 {
			// Drop what says the change may still apply.
			msg = msg[j:]
		}
		if !want.MatchString(msg) {
			t.Fatalf("write %d: message %q does not say what is wrong and what works", i, err)
		}
	}
	if svc := view(leader).Service("s1"); svc == nil || svc.Spec.Replicas != 2 {
		t.Fatalf("read without quorum = %+v, want the service as last committed", svc)
	}

	// A cut-off follower with Forward refuses at once too.
	start := time.Now()
	err := c.stores["m2"].Update(testCtx(t), func(tx Tx) error { return tx.CreateNode(newNode("x")) })
	if !errors.Is(err, ErrNoQuorum) && !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("write on a cut-off follower: %v, want ErrNoQuorum, or unavailable while it still names the old leader", err)
	}
	if elapsed := time.Since(start); elapsed > bound+time.Second {
		t.Fatalf("write on a cut-off follower took %s", elapsed)
	}
}

// TestCommitTimeout proves a leader that still believes it leads but
// cannot commit answers ErrNoQuorum after CommitTimeout, not after its
// lease runs out.
func TestCommitTimeout(t *testing.T) {
	c := newTestCluster(t, 2, func(cfg *Config) {
		cfg.Clock = clock.Real{}
		cfg.CommitTimeout = 100 * time.Millisecond
		// A long lease: the leader keeps believing it leads for a while.
		cfg.HeartbeatTimeout, cfg.ElectionTimeout = 2*time.Second, 2*time.Second
	})
	leader := c.stores["m1"]
	mustUpdate(t, leader, func(tx Tx) error { return tx.CreateNode(newNode("n1")) })
	c.cut("m2")
	start := time.Now()
	err := leader.Update(testCtx(t), func(tx Tx) error { return tx.CreateNode(newNode("n2")) })
	if !errors.Is(err, ErrNoQuorum) || !strings.Contains(err.Error(), "did not commit within 100ms") {
		t.Fatalf("write without a majority: %v, want ErrNoQuorum after the commit timeout", err)
	}
	if elapsed := time.Since(start); elapsed > 900*time.Millisecond {
		t.Fatalf("write took %s, want about the commit timeout (100ms)", elapsed)
	}
}

func TestWithoutForwardFollowersRefuseWrites(t *testing.T) {
	c := newTestCluster(t, 2, func(cfg *Config) { cfg.Forward = nil })
	f := c.stores["m2"]
	if err := f.WaitLeader(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	err := f.Update(testCtx(t), func(tx Tx) error {
		t.Error("fn ran on a follower without Forward")
		return nil
	})
	var nl *NotLeaderError
	if !errors.As(err, &nl) || nl.LeaderAddr != "m1" {
		t.Fatalf("write on a follower without Forward: %v, want a NotLeaderError naming m1", err)
	}
	if err := f.CheckLeader(); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("CheckLeader on a follower = %v", err)
	}
	if err := c.stores["m1"].CheckLeader(); err != nil {
		t.Fatalf("CheckLeader on the leader = %v", err)
	}
}

func TestMembershipAndStatus(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	leader, f := c.stores["m1"], c.stores["m2"]
	mustUpdate(t, leader, func(tx Tx) error { return tx.CreateNode(newNode("n1")) })

	want := []Member{{ID: "m1", Addr: "m1", Voter: true, Leader: true}, {ID: "m2", Addr: "m2", Voter: true}, {ID: "m3", Addr: "m3", Voter: true}}
	if got := leader.Members(); !equalMembers(got, want) {
		t.Fatalf("Members = %+v, want %+v", got, want)
	}
	st := leader.Status()
	if st.ID != "m1" || st.State != "leader" || st.Term == 0 || st.LeaderID != "m1" || st.LeaderAddr != "m1" ||
		st.AppliedIndex == 0 || st.CommitIndex < st.AppliedIndex || st.LastIndex < st.CommitIndex || !equalMembers(st.Members, want) {
		t.Fatalf("leader Status = %+v", st)
	}
	if err := f.WaitApplied(testCtx(t), st.AppliedIndex); err != nil {
		t.Fatal(err)
	}
	if fs := f.Status(); fs.State != "follower" || fs.LeaderID != "m1" || fs.Term != st.Term {
		t.Fatalf("follower Status = %+v", fs)
	}

	t.Run("leader only", func(t *testing.T) {
		for name, call := range map[string]func() error{
			"add":    func() error { return f.AddVoter(testCtx(t), "m4", "m4") },
			"remove": func() error { return f.RemoveServer(testCtx(t), "m3") },
		} {
			var nl *NotLeaderError
			if err := call(); !errors.As(err, &nl) || nl.LeaderID != "m1" {
				t.Errorf("%s on a follower: %v, want a NotLeaderError naming m1", name, err)
			}
		}
	})
	t.Run("bad arguments", func(t *testing.T) {
		if err := leader.AddVoter(testCtx(t), "", "x"); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("AddVoter without an ID: %v", err)
		}
		if err := leader.RemoveServer(testCtx(t), "nobody"); !errors.Is(err, ErrNotFound) {
			t.Errorf("RemoveServer of a stranger: %v", err)
		}
	})
	t.Run("add again is a no-op", func(t *testing.T) {
		if err := leader.AddVoter(testCtx(t), "m2", "m2"); err != nil {
			t.Fatal(err)
		}
		if got := leader.Members(); !equalMembers(got, want) {
			t.Fatalf("Members = %+v", got)
		}
	})
	t.Run("remove", func(t *testing.T) {
		if err := leader.RemoveServer(testCtx(t), "m3"); err != nil {
			t.Fatal(err)
		}
		if got := leader.Members(); !equalMembers(got, want[:2]) {
			t.Fatalf("Members after removing m3 = %+v", got)
		}
		// Two managers left, both up: writes still commit.
		mustUpdate(t, f, func(tx Tx) error { return tx.CreateNode(newNode("n2")) })
	})
}

func equalMembers(a, b []Member) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCaughtUpAndWaitApplied(t *testing.T) {
	_, trans := raft.NewInmemTransport("")
	lone := openRaft(t, raftConfigFor(t, t.TempDir(), "n1", false, trans))
	if lone.CaughtUp() {
		t.Fatal("a manager that knows no leader says it is caught up")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := lone.WaitApplied(ctx, 100); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitApplied for an index that never comes = %v", err)
	}

	c := newTestCluster(t, 2, nil)
	if !c.stores["m1"].CaughtUp() {
		t.Fatal("a leader past its barrier is not caught up")
	}
	mustUpdate(t, c.stores["m1"], func(tx Tx) error { return tx.CreateCluster(&types.Cluster{ID: types.ClusterID}) })
	index := c.stores["m1"].AppliedIndex()
	if err := c.stores["m2"].WaitApplied(testCtx(t), index); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, testWait, "the follower catches up", c.stores["m2"].CaughtUp)

	done := make(chan error, 1)
	go func() { done <- c.stores["m2"].WaitApplied(context.Background(), index+1000) }()
	if err := c.stores["m2"].Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("WaitApplied across Close = %v, want ErrClosed", err)
	}
}

func TestLeaderWatchEnds(t *testing.T) {
	s, _ := newMemory(t)
	ch, cancel := s.LeaderWatch()
	if v := <-ch; !v {
		t.Fatal("a memory store's LeaderWatch does not start with true")
	}
	cancel()
	cancel()
	if _, ok := <-ch; ok {
		t.Fatal("the channel is open after cancel")
	}
}

func TestMemoryStoreMembershipAndApplyCommand(t *testing.T) {
	s, _ := newMemory(t)
	if got := s.Members(); len(got) != 1 || !got[0].Leader {
		t.Fatalf("Members = %+v", got)
	}
	if err := s.AddVoter(testCtx(t), "m2", "m2"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("AddVoter on a memory store = %v", err)
	}
	cmd := command(t, CommandChanges, 1, false, changesBody{Changes: []change{changeOf(t, opCreate, "node", "n1", newNode("n1"))}})
	index, err := s.ApplyCommand(testCtx(t), cmd)
	if err != nil || index != s.AppliedIndex() || view(s).Node("n1") == nil {
		t.Fatalf("ApplyCommand = %d, %v (applied %d)", index, err, s.AppliedIndex())
	}
	if st := s.Status(); st.State != "leader" || st.AppliedIndex != index {
		t.Fatalf("Status = %+v", st)
	}
}
