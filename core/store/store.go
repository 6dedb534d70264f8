package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/hiveorch/hive/core/clock"
)

// memoryLeaderID is what Leader reports for a store made by NewMemory.
const memoryLeaderID = "local"

// Store is hive's replicated state. Make one with Open (Raft) or NewMemory
// (no Raft, for tests). All methods are safe for concurrent use.
type Store struct {
	fsm    *fsm
	clock  clock.Clock
	logger *slog.Logger
	lead   *leadership

	// updateSem serializes Update (a channel rather than a mutex so that
	// waiting for it honours ctx).
	updateSem chan struct{}

	// Set by Open only.
	nodeID        string
	raft          *raft.Raft
	bolt          *raftboltdb.BoltStore
	forward       func(ctx context.Context, cmd []byte) (uint64, error)
	commitTimeout time.Duration
	peers         *peerHealth

	done      chan struct{} // closed by Close
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

func newStore(clk clock.Clock, logger *slog.Logger) *Store {
	if clk == nil {
		clk = clock.Real{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Store{
		fsm:           newFSM(logger),
		clock:         clk,
		logger:        logger,
		lead:          &leadership{},
		updateSem:     make(chan struct{}, 1),
		done:          make(chan struct{}),
		commitTimeout: DefaultCommitTimeout,
		peers:         newPeerHealth(),
	}
}

// NewMemory returns a store without Raft: Update applies each command
// straight through the FSM, at the next index, before it returns. It is
// always the leader, and LeaderCh sends true once on every channel. For
// deterministic tests of the code built on the store.
func NewMemory(clk clock.Clock) *Store {
	s := newStore(clk, nil)
	s.lead.set(true)
	return s
}

// View runs fn on a consistent snapshot of the state. fn may take as long
// as it likes: it blocks no writer.
func (s *Store) View(fn func(ReadTx)) {
	fn(s.fsm.read())
}

// Update runs fn on a read-write transaction and, when fn returns nil
// having changed something, proposes the changes as one command and waits
// until it has applied (or ctx is done). It returns fn's error, the error
// the command failed with when it applied (ErrSequenceConflict,
// ErrNameConflict, ErrExist, ErrNotFound, wrapped), an error wrapping
// ErrNotLeader when this manager is not the leader and has no
// Config.Forward (fn does not run then), an error wrapping ErrNoQuorum
// when no leader is known or the change cannot commit within
// Config.CommitTimeout, or ErrClosed.
//
// On a follower with Config.Forward, fn runs on the local state (once it
// has caught up with what the follower knows is committed), the changes are
// forwarded to the leader, which checks and applies them, and Update waits
// until the local state has applied them too, so that the caller reads its
// own write.
//
// Updates are serialized: fn reads the state every earlier Update of this
// store left. The Tx must not be used after fn returns. When ctx ends while
// the command is in flight, Update returns ctx's error and the command may
// still apply.
func (s *Store) Update(ctx context.Context, fn func(Tx) error) error {
	select {
	case s.updateSem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("wait for earlier updates: %w", ctx.Err())
	case <-s.done:
		return ErrClosed
	}
	defer func() { <-s.updateSem }()
	if s.isClosed() {
		return ErrClosed
	}
	if !s.IsLeader() {
		if s.forward == nil {
			return s.notLeader()
		}
		return s.updateForwarded(ctx, fn)
	}
	data, err := s.record(fn)
	if err != nil || data == nil {
		return err
	}
	if s.raft == nil {
		if err := s.fsm.applyLocal(data); err != nil {
			return fmt.Errorf("commit changes: %w", err)
		}
		return nil
	}
	_, err = s.proposeRaft(ctx, data)
	return err
}

// record runs fn on a scratch write transaction and returns its changes as
// an encoded command, or nil when fn changed nothing.
func (s *Store) record(fn func(Tx) error) ([]byte, error) {
	tx := &writeTx{readTx: s.fsm.scratch(), clock: s.clock}
	err := func() error {
		defer tx.txn.Abort()
		return fn(tx)
	}()
	if err != nil {
		return nil, err
	}
	if len(tx.changes) == 0 {
		return nil, nil
	}
	return encodeChanges(tx.changes)
}

// ViewAndWatch runs fn on the current state and returns a channel of every
// event applied after that state, with a func that ends the subscription
// and closes the channel (idempotent). Taking the state and subscribing
// happen atomically with respect to Apply; fn runs after, on that state,
// while later events queue.
//
// filter, when not nil, picks the events to deliver; it runs on the
// goroutine that applies commands, so it must be quick and must not call
// the store. ActionReset events are always delivered.
//
// Overflow: the channel buffers 1024 events and applying never waits for
// a receiver. A receiver that falls 1023 events behind is dropped: it reads
// the events queued so far, then one ActionReset, then finds the channel
// closed, so it always learns that it missed events. An ActionReset on a
// channel that stays open means a snapshot replaced the state: re-read it
// with View. A closed channel means the subscription ended (cancelled,
// overflowed, or the store closed): call ViewAndWatch again to re-read and
// resume.
func (s *Store) ViewAndWatch(fn func(ReadTx), filter func(Event) bool) (<-chan Event, func()) {
	tx, sub := s.fsm.watch(filter)
	if fn != nil {
		fn(tx)
	}
	return sub.ch, func() { s.fsm.unwatch(sub) }
}

// IsLeader reports whether this manager is the Raft leader now.
func (s *Store) IsLeader() bool {
	if s.raft == nil {
		return !s.isClosed()
	}
	return s.raft.State() == raft.Leader
}

// LeaderCh returns a new channel that receives true when this manager
// becomes the leader and false when it stops being it. When the manager
// leads already, the channel starts with true. Each channel holds one
// value, the latest: a receiver that reads the same value twice missed a
// short spell of the opposite. True is sent only once every entry
// committed before the leadership began has applied, so a snapshot taken
// then is up to date. The channel is closed by Close. Call LeaderCh once
// per consumer; do not read Raft().LeaderCh(), which this store consumes.
func (s *Store) LeaderCh() <-chan bool {
	return s.lead.subscribe()
}

// AwaitLeadership waits, at most until ctx ends, for this node to be the
// leader ready to write (true), or for another node to be known as leader
// (false). A node that has just started uses it to ride out its first
// election instead of refusing writes.
func (s *Store) AwaitLeadership(ctx context.Context) bool {
	if s.IsLeader() {
		return true
	}
	ch := s.lead.subscribe()
	defer s.lead.unsubscribe(ch)
	tick := s.clock.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if id, _ := s.Leader(); id != "" && id != s.nodeID {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case leader, ok := <-ch:
			if !ok {
				return false
			}
			if leader {
				return true
			}
		case <-tick.C():
		}
	}
}

// WaitLeader blocks until some manager, this one or another, is known to
// be the leader, or ctx ends, or the store closes.
func (s *Store) WaitLeader(ctx context.Context) error {
	if s.isClosed() {
		return ErrClosed
	}
	if s.raft == nil {
		return nil
	}
	return s.waitLeaderRaft(ctx)
}

// Leader returns the ID and address of the current leader, or empty strings
// when none is known. A NewMemory store reports itself as "local".
func (s *Store) Leader() (id, addr string) {
	if s.raft == nil {
		return memoryLeaderID, ""
	}
	a, i := s.raft.LeaderWithID()
	return string(i), string(a)
}

// Raft returns the Raft instance, for membership changes and stats; nil for
// a NewMemory store.
func (s *Store) Raft() *raft.Raft { return s.raft }

// Snapshot makes Raft take a snapshot now. It is not an error when there is
// nothing new to snapshot. A NewMemory store has nothing to do.
func (s *Store) Snapshot() error {
	if s.isClosed() {
		return ErrClosed
	}
	if s.raft == nil {
		return nil
	}
	err := s.raft.Snapshot().Error()
	switch {
	case err == nil, errors.Is(err, raft.ErrNothingNewToSnapshot):
		return nil
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrClosed
	}
	return fmt.Errorf("take snapshot: %w", err)
}

// Close shuts Raft down, ends every watch and LeaderCh channel and closes
// the Raft database. It is idempotent: later calls return the first one's
// result. Update fails with ErrClosed afterwards; View still reads the last
// state.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		var errs []error
		if s.raft != nil {
			if err := s.raft.Shutdown().Error(); err != nil {
				errs = append(errs, fmt.Errorf("shut down raft: %w", err))
			}
		}
		s.wg.Wait()
		s.fsm.closeWatches()
		s.lead.close()
		if s.bolt != nil {
			if err := s.bolt.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close raft database: %w", err))
			}
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

func (s *Store) isClosed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Done returns a channel closed when the store closes.
func (s *Store) Done() <-chan struct{} { return s.done }

// CheckLeader returns nil when this manager is the leader now, and
// otherwise a *NotLeaderError (wrapping ErrNotLeader) naming the leader
// when one is known, so that a caller can be sent there.
func (s *Store) CheckLeader() error {
	switch {
	case s.isClosed():
		return ErrClosed
	case s.IsLeader():
		return nil
	}
	return s.notLeader()
}

// notLeader returns a *NotLeaderError with what is known of the leader.
func (s *Store) notLeader() error {
	id, addr := s.Leader()
	if id == s.nodeID {
		// Raft still names this manager while it steps down.
		id, addr = "", ""
	}
	return &NotLeaderError{LeaderID: id, LeaderAddr: addr}
}
