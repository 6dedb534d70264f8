package store

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/logadapt"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/testutil"
)

// fastTimeout keeps elections short in tests.
const fastTimeout = 50 * time.Millisecond

func raftConfigFor(t *testing.T, dir, id string, bootstrap bool, trans raft.Transport) Config {
	return Config{
		DataDir: dir, NodeID: id, Transport: trans, Bootstrap: bootstrap,
		HeartbeatTimeout: fastTimeout, ElectionTimeout: fastTimeout,
		Clock: clock.NewFake(t0), Logger: testutil.LoggerAt(t, logadapt.LevelTrace).With("node", id),
	}
}

// openRaft opens a store and closes it at cleanup.
func openRaft(t *testing.T, cfg Config) *Store {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("open %s: %v", cfg.NodeID, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close %s: %v", cfg.NodeID, err)
		}
	})
	return s
}

// waitLeading waits until ch says this node leads.
func waitLeading(t *testing.T, ch <-chan bool) {
	t.Helper()
	ctx := testCtx(t)
	for {
		select {
		case v, ok := <-ch:
			if !ok {
				t.Fatal("LeaderCh closed")
			}
			if v {
				return
			}
		case <-ctx.Done():
			t.Fatal("no leadership before the deadline")
		}
	}
}

// waitFor waits until cond holds on s's state.
func waitFor(t *testing.T, s *Store, what string, cond func(ReadTx) bool) {
	t.Helper()
	testutil.Eventually(t, testWait, what, func() (ok bool) {
		s.View(func(tx ReadTx) { ok = cond(tx) })
		return ok
	})
}

// TestRaftBootstrapReopenAndSnapshot proves the on-disk life of a store:
// a bootstrapped manager leads and writes; reopened with Bootstrap still
// set it keeps its state and is not bootstrapped again; after a forced
// snapshot, a reopen restores the snapshot at once and the later log
// entries once it leads.
func TestRaftBootstrapReopenAndSnapshot(t *testing.T) {
	dir := t.TempDir()
	open := func(cfg Config) *Store {
		_, trans := raft.NewInmemTransport("n1")
		cfg.Transport = trans
		return openRaft(t, cfg)
	}
	cfg := raftConfigFor(t, dir, "n1", true, nil)

	s := open(cfg)
	waitLeading(t, s.LeaderCh())
	if !s.IsLeader() {
		t.Fatal("IsLeader false after LeaderCh said true")
	}
	if id, addr := s.Leader(); id != "n1" || addr != "n1" {
		t.Fatalf("leader = %s at %s, want n1 at n1", id, addr)
	}
	fill(t, s)
	first := stateJSON(t, view(s))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(cfg)
	conf := s.Raft().GetConfiguration()
	if err := conf.Error(); err != nil {
		t.Fatal(err)
	}
	if servers := conf.Configuration().Servers; len(servers) != 1 || servers[0].ID != "n1" {
		t.Fatalf("configuration after reopen = %+v, want n1 alone", servers)
	}
	waitLeading(t, s.LeaderCh())
	if got := stateJSON(t, view(s)); got != first {
		t.Fatalf("state after reopen differs:\n got %s\nwant %s", got, first)
	}
	mustUpdate(t, s, func(tx Tx) error { return tx.CreateNode(newNode("in-snapshot")) })
	if err := s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if err := s.Snapshot(); err != nil {
		t.Fatalf("a second snapshot with nothing new: %v", err)
	}
	snapIndex := view(s).Index()
	mustUpdate(t, s, func(tx Tx) error { return tx.CreateNode(newNode("in-log")) })
	second := stateJSON(t, view(s))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	snaps, err := raft.NewFileSnapshotStore(filepath.Join(dir, "raft"), 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if list, err := snaps.List(); err != nil || len(list) == 0 {
		t.Fatalf("snapshots on disk: %v, %v", list, err)
	}

	// Slow elections, so that the state right after Open is the snapshot's
	// alone.
	slow := cfg
	slow.HeartbeatTimeout, slow.ElectionTimeout = time.Second, time.Second
	s = open(slow)
	tx := view(s)
	if tx.Index() != snapIndex || tx.Node("in-snapshot") == nil || tx.Node("in-log") != nil {
		t.Fatalf("right after open: index %d (want %d), in-snapshot %v, in-log %v",
			tx.Index(), snapIndex, tx.Node("in-snapshot") != nil, tx.Node("in-log") != nil)
	}
	waitLeading(t, s.LeaderCh())
	if got := stateJSON(t, view(s)); got != second {
		t.Fatalf("state after snapshot and log replay differs:\n got %s\nwant %s", got, second)
	}
}

// TestRaftWithoutBootstrapNeverLeads proves a fresh manager that was not
// bootstrapped waits to join: it refuses writes and knows no leader.
func TestRaftWithoutBootstrapNeverLeads(t *testing.T) {
	_, trans := raft.NewInmemTransport("")
	s := openRaft(t, raftConfigFor(t, t.TempDir(), "n1", false, trans))
	err := s.Update(testCtx(t), func(tx Tx) error {
		t.Error("fn ran on a follower")
		return nil
	})
	if !errors.Is(err, ErrNotLeader) || !strings.Contains(err.Error(), "no leader") {
		t.Fatalf("err = %v, want ErrNotLeader saying no leader is known", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.WaitLeader(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitLeader = %v, want DeadlineExceeded", err)
	}
	if s.IsLeader() {
		t.Fatal("IsLeader true")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitLeader(testCtx(t)); !errors.Is(err, ErrClosed) {
		t.Fatalf("WaitLeader after Close = %v, want ErrClosed", err)
	}
	if err := s.Snapshot(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Snapshot after Close = %v, want ErrClosed", err)
	}
}

func TestOpenRejectsIncompleteConfig(t *testing.T) {
	_, trans := raft.NewInmemTransport("")
	good := Config{DataDir: t.TempDir(), NodeID: "n1", Transport: trans}
	cases := map[string]func(*Config){
		"no data dir":  func(c *Config) { c.DataDir = "" },
		"no node id":   func(c *Config) { c.NodeID = "" },
		"no transport": func(c *Config) { c.Transport = nil },
		"election shorter than heartbeat": func(c *Config) {
			c.HeartbeatTimeout, c.ElectionTimeout = time.Second, 100*time.Millisecond
		},
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := good
			change(&cfg)
			s, err := Open(cfg)
			if err == nil {
				_ = s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("err = %v, want ErrInvalidArgument", err)
			}
		})
	}
}

// TestOpenLockedDataDir proves a second store on a data directory in use
// fails with an error that says so, instead of hanging.
func TestOpenLockedDataDir(t *testing.T) {
	dir := t.TempDir()
	_, t1 := raft.NewInmemTransport("")
	openRaft(t, raftConfigFor(t, dir, "n1", true, t1))
	_, t2 := raft.NewInmemTransport("")
	s, err := Open(raftConfigFor(t, dir, "n1", true, t2))
	if err == nil {
		_ = s.Close()
		t.Fatal("second Open on one data dir succeeded")
	}
	if !strings.Contains(err.Error(), "locked") {
		t.Fatalf("err = %v, want it to say the database is locked", err)
	}
}

// TestRaftThreeManagers proves replication and failover: followers apply
// the leader's writes and refuse their own naming the leader; when the
// leader goes, another takes over with the state intact.
func TestRaftThreeManagers(t *testing.T) {
	ids := []string{"m1", "m2", "m3"}
	trans := map[string]*raft.InmemTransport{}
	for _, id := range ids {
		_, trans[id] = raft.NewInmemTransport(raft.ServerAddress(id))
	}
	for _, a := range ids {
		for _, b := range ids {
			if a != b {
				trans[a].Connect(raft.ServerAddress(b), trans[b])
			}
		}
	}
	stores := map[string]*Store{}
	for _, id := range ids {
		cfg := raftConfigFor(t, t.TempDir(), id, id == "m1", trans[id])
		// Production timeouts: the test checks who leads, which must not
		// change on a loaded machine.
		cfg.HeartbeatTimeout, cfg.ElectionTimeout = DefaultHeartbeatTimeout, DefaultElectionTimeout
		stores[id] = openRaft(t, cfg)
	}
	leader := stores["m1"]
	waitLeading(t, leader.LeaderCh())
	for _, id := range ids[1:] {
		if err := leader.Raft().AddVoter(raft.ServerID(id), raft.ServerAddress(id), 0, 0).Error(); err != nil {
			t.Fatalf("add voter %s: %v", id, err)
		}
	}
	mustUpdate(t, leader, func(tx Tx) error { return tx.CreateService(newService("s1", "web")) })

	for _, id := range ids[1:] {
		f := stores[id]
		waitFor(t, f, id+" has the service", func(tx ReadTx) bool { return tx.ServiceByName("web") != nil })
		if err := f.WaitLeader(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if lid, addr := f.Leader(); lid != "m1" || addr != "m1" {
			t.Fatalf("%s sees leader %s at %s", id, lid, addr)
		}
		err := f.Update(testCtx(t), func(tx Tx) error { return tx.CreateNode(newNode("x")) })
		if !errors.Is(err, ErrNotLeader) || !strings.Contains(err.Error(), "m1") {
			t.Fatalf("write on follower %s: %v, want ErrNotLeader naming m1", id, err)
		}
	}

	// The leader goes away.
	m2ch, m3ch := stores["m2"].LeaderCh(), stores["m3"].LeaderCh()
	for _, id := range ids[1:] {
		trans[id].Disconnect("m1")
	}
	if err := leader.Close(); err != nil {
		t.Fatal(err)
	}
	var next *Store
	ctx := testCtx(t)
	for next == nil {
		select {
		case v := <-m2ch:
			if v {
				next = stores["m2"]
			}
		case v := <-m3ch:
			if v {
				next = stores["m3"]
			}
		case <-ctx.Done():
			t.Fatal("no new leader")
		}
	}
	mustUpdate(t, next, func(tx Tx) error {
		svc := tx.ServiceByName("web").Copy()
		svc.Spec.Replicas = 4
		return tx.UpdateService(svc)
	})
	for _, id := range ids[1:] {
		waitFor(t, stores[id], id+" has the update", func(tx ReadTx) bool {
			svc := tx.ServiceByName("web")
			return svc != nil && svc.Spec.Replicas == 4
		})
	}
}

// TestRaftConcurrentUpdates proves updates from many goroutines all apply,
// each reading the state the previous left (no sequence conflicts).
func TestRaftConcurrentUpdates(t *testing.T) {
	_, trans := raft.NewInmemTransport("")
	s := openRaft(t, raftConfigFor(t, t.TempDir(), "n1", true, trans))
	waitLeading(t, s.LeaderCh())
	mustUpdate(t, s, func(tx Tx) error { return tx.CreateService(newService("s1", "web")) })
	const workers, each = 4, 10
	errs := make(chan error, workers)
	for range workers {
		go func() {
			for range each {
				err := s.Update(testCtx(t), func(tx Tx) error {
					svc := tx.Service("s1").Copy()
					svc.Spec.Replicas++
					return tx.UpdateService(svc)
				})
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := view(s).Service("s1").Spec.Replicas; got != 2+workers*each {
		t.Fatalf("replicas = %d, want %d", got, 2+workers*each)
	}
}

func TestAwaitLeadershipRidesOutTheFirstElection(t *testing.T) {
	_, trans := raft.NewInmemTransport("")
	s := openRaft(t, raftConfigFor(t, t.TempDir(), "n1", true, trans))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !s.AwaitLeadership(ctx) {
		t.Fatal("a bootstrapped single manager never became a leader ready to write")
	}
	if err := s.Update(ctx, func(tx Tx) error { return tx.CreateCluster(&types.Cluster{ID: types.ClusterID}) }); err != nil {
		t.Fatalf("write after AwaitLeadership: %v", err)
	}
}
