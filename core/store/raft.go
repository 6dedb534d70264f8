package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/logadapt"
)

// Defaults of Config.
const (
	DefaultHeartbeatTimeout  = 500 * time.Millisecond
	DefaultElectionTimeout   = 500 * time.Millisecond
	DefaultSnapshotThreshold = 8192
	DefaultSnapshotInterval  = 2 * time.Minute
	DefaultCommitTimeout     = 2 * time.Second
)

const (
	raftDirName      = "raft"
	raftDBName       = "raft.db"
	logCacheSize     = 512
	snapshotsRetain  = 2
	boltOpenTimeout  = time.Second
	raftDirMode      = 0o700
	leaderObserveBuf = 1
)

// Config configures a Raft-backed store.
type Config struct {
	// DataDir holds the Raft files, under DataDir/raft.
	DataDir string
	// NodeID is this manager's Raft server ID.
	NodeID string
	// Addr is this manager's Raft address as peers reach it, written into
	// the configuration when bootstrapping; empty means the transport's
	// local address.
	Addr string
	// Transport carries Raft traffic: in-memory in tests, TLS TCP in the
	// daemon. Raft closes it on shutdown when it has a Close method.
	Transport raft.Transport
	// Bootstrap makes a one-voter cluster of this manager when the data
	// directory holds no Raft state yet; with state it does nothing.
	Bootstrap bool
	// HeartbeatTimeout and ElectionTimeout default to 500ms; the leader
	// lease is half the heartbeat timeout.
	HeartbeatTimeout time.Duration
	ElectionTimeout  time.Duration
	// SnapshotThreshold is how many new log entries trigger a snapshot
	// (default 8192); SnapshotInterval how often that is checked (default 2m).
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	// Clock stamps CreatedAt and UpdatedAt; nil means the wall clock.
	Clock clock.Clock
	// Logger receives the store's and Raft's logs; nil discards them.
	Logger *slog.Logger
	// Forward, when set, sends an encoded command to the leader and
	// returns the index it committed at (the daemon wires it to the
	// leader's Manager.Propose RPC, served by ApplyCommand). With it, Update
	// works on every manager; without it, Update on a follower fails with
	// ErrNotLeader. It is called with no lock held and must honour ctx.
	Forward func(ctx context.Context, cmd []byte) (index uint64, err error)
	// CommitTimeout bounds how long the leader waits for a change to
	// commit before it answers ErrNoQuorum (default 2s).
	CommitTimeout time.Duration
}

// Open opens (creating when needed) the Raft state under cfg.DataDir and
// starts Raft: a raft-boltdb log and stable store in DataDir/raft/raft.db
// behind a 512-entry log cache, file snapshots in DataDir/raft (the last
// two kept). It bootstraps a one-voter cluster only when cfg.Bootstrap is
// set and there is no Raft state yet. The latest snapshot is restored
// before Open returns; the log entries after it apply once a leader has
// committed them. Close the store when done.
func Open(cfg Config) (*Store, error) {
	switch {
	case cfg.DataDir == "":
		return nil, fmt.Errorf("open store: no data directory given: %w", errdefs.ErrInvalidArgument)
	case cfg.NodeID == "":
		return nil, fmt.Errorf("open store: no node ID given: %w", errdefs.ErrInvalidArgument)
	case cfg.Transport == nil:
		return nil, fmt.Errorf("open store: no raft transport given: %w", errdefs.ErrInvalidArgument)
	}
	s := newStore(cfg.Clock, cfg.Logger)
	s.nodeID = cfg.NodeID
	s.forward = cfg.Forward
	s.commitTimeout = orDefault(cfg.CommitTimeout, DefaultCommitTimeout)
	rc := raftConfig(cfg, s.logger)
	if err := raft.ValidateConfig(rc); err != nil {
		return nil, fmt.Errorf("open store: raft settings: %v: %w", err, errdefs.ErrInvalidArgument)
	}

	dir := filepath.Join(cfg.DataDir, raftDirName)
	if err := os.MkdirAll(dir, raftDirMode); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	dbPath := filepath.Join(dir, raftDBName)
	db, err := raftboltdb.New(raftboltdb.Options{
		Path:        dbPath,
		BoltOptions: &bolt.Options{Timeout: boltOpenTimeout},
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open store: %s is locked by another process; is another hive daemon using data directory %s?",
			dbPath, cfg.DataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("open store: open %s: %w", dbPath, err)
	}
	r, err := startRaft(cfg, rc, s.fsm, db, dir)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open store: %w", err), db.Close())
	}
	s.raft, s.bolt = r, db
	s.wg.Add(2)
	go s.watchLeadership()
	go s.watchPeers()
	return s, nil
}

func raftConfig(cfg Config, logger *slog.Logger) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.HeartbeatTimeout = orDefault(cfg.HeartbeatTimeout, DefaultHeartbeatTimeout)
	rc.ElectionTimeout = orDefault(cfg.ElectionTimeout, DefaultElectionTimeout)
	rc.LeaderLeaseTimeout = rc.HeartbeatTimeout / 2
	rc.SnapshotThreshold = orDefault(cfg.SnapshotThreshold, DefaultSnapshotThreshold)
	rc.SnapshotInterval = orDefault(cfg.SnapshotInterval, DefaultSnapshotInterval)
	rc.Logger = logadapt.HCLogWith(logger, "raft", raftLevel)
	return rc
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// startRaft opens the snapshot store, bootstraps when asked and there is no
// state, and starts Raft, which restores the latest snapshot into f.
func startRaft(cfg Config, rc *raft.Config, f *fsm, db *raftboltdb.BoltStore, dir string) (*raft.Raft, error) {
	logs, err := raft.NewLogCache(logCacheSize, db)
	if err != nil {
		return nil, fmt.Errorf("make log cache: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, snapshotsRetain, rc.Logger)
	if err != nil {
		return nil, fmt.Errorf("open snapshot store: %w", err)
	}
	existing, err := raft.HasExistingState(logs, db, snaps)
	if err != nil {
		return nil, fmt.Errorf("read raft state: %w", err)
	}
	if !existing && cfg.Bootstrap {
		addr := raft.ServerAddress(cfg.Addr)
		if addr == "" {
			addr = cfg.Transport.LocalAddr()
		}
		conf := raft.Configuration{Servers: []raft.Server{{
			Suffrage: raft.Voter, ID: rc.LocalID, Address: addr,
		}}}
		if err := raft.BootstrapCluster(rc, logs, db, snaps, cfg.Transport, conf); err != nil {
			return nil, fmt.Errorf("bootstrap raft cluster: %w", err)
		}
	}
	r, err := raft.NewRaft(rc, f, logs, db, snaps, cfg.Transport)
	if err != nil {
		return nil, fmt.Errorf("start raft: %w", err)
	}
	return r, nil
}

// watchLeadership forwards Raft's leadership transitions to s.lead. Before
// announcing a gain it waits on a barrier, so that every entry committed by
// earlier leaders has applied when the new leader's controllers read.
func (s *Store) watchLeadership() {
	defer s.wg.Done()
	for {
		select {
		case <-s.done:
			return
		case leader := <-s.raft.LeaderCh():
			if leader {
				if err := s.raft.Barrier(0).Error(); err != nil {
					s.logger.Warn("became raft leader but could not catch up; waiting for the next election",
						"error", err)
					continue
				}
				s.logger.Info("this manager is the raft leader")
			} else {
				s.logger.Info("this manager is no longer the raft leader")
			}
			s.lead.set(leader)
		}
	}
}

// waitLeaderRaft waits for a leader with a Raft observer, which wakes it on
// every leader change.
func (s *Store) waitLeaderRaft(ctx context.Context) error {
	ch := make(chan raft.Observation, leaderObserveBuf)
	obs := raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	s.raft.RegisterObserver(obs)
	defer s.raft.DeregisterObserver(obs)
	for {
		if _, id := s.raft.LeaderWithID(); id != "" {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for a raft leader: %w", ctx.Err())
		case <-s.done:
			return ErrClosed
		}
	}
}

// proposeRaft applies a command through Raft and waits for the FSM's
// response, for ctx, or at most the commit timeout: a leader that cannot
// reach a majority answers ErrNoQuorum instead of hanging. It returns the
// command's index.
func (s *Store) proposeRaft(ctx context.Context, data []byte) (uint64, error) {
	type result struct {
		err   error
		index uint64
		resp  any
	}
	done := make(chan result, 1)
	go func() {
		f := s.raft.Apply(data, 0)
		err := f.Error()
		var r result
		if r.err = err; err == nil {
			r.index, r.resp = f.Index(), f.Response()
		}
		done <- r
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return 0, s.raftError(r.err)
		}
		if err, ok := r.resp.(error); ok && err != nil {
			return r.index, fmt.Errorf("commit changes: %w", err)
		}
		return r.index, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("wait for the change to commit (it may still apply): %w", ctx.Err())
	case <-s.clock.After(s.commitTimeout):
		return 0, fmt.Errorf("the change did not commit within %s and may still apply: %w", s.commitTimeout, s.noQuorum())
	}
}

// raftError maps an error of a Raft future to the store's errors.
func (s *Store) raftError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("propose change: %w", s.notLeader())
	case errors.Is(err, raft.ErrLeadershipLost):
		cause := s.noQuorum()
		if id, _ := s.Leader(); id != "" && id != s.nodeID {
			// Another manager took over: this one was not cut off.
			cause = s.notLeader()
		}
		return fmt.Errorf("propose change: leadership was lost before the change committed, so it may or may not apply: %w", cause)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("propose change: %w", ErrClosed)
	}
	return fmt.Errorf("propose change: %w", err)
}
