package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/hiveorch/hive/core/errdefs"
)

// ErrNoQuorum: this manager cannot reach a majority of the managers, so
// nothing can be written; reads are still served from the local state.
// Errors wrapping it say how many managers are reachable.
var ErrNoQuorum = errors.New("no quorum")

// noQuorumAdvice ends every no-quorum error: what still works.
const noQuorumAdvice = "reads are served from local state, writes need a majority"

// NotLeaderError is the error of a write, or of a leader-only call, made on
// a manager that is not the leader. errors.Is(err, ErrNotLeader) holds; the
// leader's ID and address are set when one is known, so that a caller can
// go there.
type NotLeaderError struct {
	LeaderID   string
	LeaderAddr string
}

func (e *NotLeaderError) Error() string {
	if e.LeaderID == "" {
		return ErrNotLeader.Error() + ": no leader is elected yet; retry shortly"
	}
	return fmt.Sprintf("%s: the leader is %s at %s", ErrNotLeader, e.LeaderID, e.LeaderAddr)
}

// Is makes errors.Is(err, ErrNotLeader) hold.
func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }

// noQuorum returns an error wrapping ErrNoQuorum that says what is wrong
// and what still works.
func (s *Store) noQuorum() error {
	voters := s.voters()
	if id, _ := s.Leader(); id == "" || s.raft.State() != raft.Leader {
		if len(voters) == 0 {
			return fmt.Errorf("%w: this manager is not part of a cluster yet (no managers are configured); %s",
				ErrNoQuorum, noQuorumAdvice)
		}
		return fmt.Errorf("%w: no leader is elected and this manager cannot reach a majority of the %d managers; %s",
			ErrNoQuorum, len(voters), noQuorumAdvice)
	}
	reachable := s.peers.reachable(s.nodeID, voters)
	return fmt.Errorf("%w: this manager cannot reach a majority of the managers (%d of %d reachable); %s",
		ErrNoQuorum, reachable, len(voters), noQuorumAdvice)
}

// voters returns the IDs of the voting members of the latest configuration.
func (s *Store) voters() []string {
	f := s.raft.GetConfiguration()
	if f.Error() != nil {
		return nil
	}
	var ids []string
	for _, srv := range f.Configuration().Servers {
		if srv.Suffrage == raft.Voter {
			ids = append(ids, string(srv.ID))
		}
	}
	return ids
}

// updateForwarded is Update on a follower with Config.Forward: fn runs on
// the local state, the leader applies the changes, and the local state
// catches up with them before it returns. s.updateSem is held.
func (s *Store) updateForwarded(ctx context.Context, fn func(Tx) error) error {
	id, addr := s.Leader()
	if id == "" || id == s.nodeID {
		return s.noQuorum()
	}
	// Read what this follower knows is committed, so fn does not build on
	// a state the leader has moved past (the leader would refuse the
	// changes as out of sequence). A follower cut off from the leader gives
	// up after the commit timeout and lets the leader judge.
	if err := s.waitReflects(ctx, s.raft.CommitIndex(), s.clock.After(s.commitTimeout)); err != nil && !errors.Is(err, errBound) {
		return fmt.Errorf("wait for this manager to catch up with the leader: %w", err)
	}
	data, err := s.record(fn)
	if err != nil || data == nil {
		return err
	}
	index, err := s.forward(ctx, data)
	if err != nil {
		return fmt.Errorf("forward the change to the leader %s at %s: %w", id, addr, err)
	}
	err = s.waitIndex(ctx, index, s.clock.After(s.commitTimeout))
	if errors.Is(err, errBound) {
		return fmt.Errorf("the leader committed the change at index %d but this manager has not received it within %s "+
			"(it lost contact with the leader), so reads here do not show it yet: %w", index, s.commitTimeout, errdefs.ErrUnavailable)
	}
	if err != nil {
		return fmt.Errorf("the leader committed the change at index %d; wait for this manager to apply it: %w", index, err)
	}
	return nil
}

// errBound is waitIndex's error when its bound fires.
var errBound = errors.New("bound reached")

// reflectsPoll is how often waitReflects looks at Raft's progress, which
// has no notification of its own.
const reflectsPoll = 10 * time.Millisecond

// reflects reports whether the local state reflects every log entry up to
// index. Entries that are not commands (a new leader's no-op, membership
// changes) never reach the FSM, so the FSM's index alone can stay below the
// commit index: the state also reflects index once Raft has handed the FSM
// every entry up to it and the FSM has nothing queued.
func (s *Store) reflects(index uint64) bool {
	if s.AppliedIndex() >= index {
		return true
	}
	if s.raft == nil || s.raft.AppliedIndex() < index {
		return false
	}
	return s.raft.Stats()["fsm_pending"] == "0"
}

// waitReflects waits until reflects(index), like waitIndex.
func (s *Store) waitReflects(ctx context.Context, index uint64, bound <-chan time.Time) error {
	tick := s.clock.NewTicker(reflectsPoll)
	defer tick.Stop()
	for {
		_, next := s.fsm.appliedIndex()
		if s.reflects(index) {
			return nil
		}
		select {
		case <-next:
		case <-tick.C():
		case <-ctx.Done():
			return fmt.Errorf("index %d not applied yet (applied %d): %w", index, s.AppliedIndex(), ctx.Err())
		case <-bound:
			return errBound
		case <-s.done:
			return ErrClosed
		}
	}
}

// waitIndex waits until the local state has applied index. It returns ctx's
// error, ErrClosed, or errBound when bound (which may be nil) fires first.
func (s *Store) waitIndex(ctx context.Context, index uint64, bound <-chan time.Time) error {
	for {
		applied, next := s.fsm.appliedIndex()
		if applied >= index {
			return nil
		}
		select {
		case <-next:
		case <-ctx.Done():
			return fmt.Errorf("index %d not applied yet (applied %d): %w", index, applied, ctx.Err())
		case <-bound:
			return errBound
		case <-s.done:
			return ErrClosed
		}
	}
}

// ApplyCommand proposes a command made by another manager's Update (see
// Config.Forward): the leader's side of forwarding. It checks the command
// is one Update makes (errdefs.ErrInvalidArgument otherwise), refuses with
// a *NotLeaderError when this manager is not the leader, and returns the
// index the command committed at, with the error it failed with when it
// applied (a conflict) or an error wrapping ErrNoQuorum as Update does.
func (s *Store) ApplyCommand(ctx context.Context, cmd []byte) (uint64, error) {
	if s.isClosed() {
		return 0, ErrClosed
	}
	if err := validateCommand(cmd); err != nil {
		return 0, fmt.Errorf("apply forwarded command: %w", err)
	}
	if !s.IsLeader() {
		return 0, s.notLeader()
	}
	if s.raft == nil {
		index, err := s.fsm.applyNext(cmd)
		if err != nil {
			return index, fmt.Errorf("commit changes: %w", err)
		}
		return index, nil
	}
	return s.proposeRaft(ctx, cmd)
}

// AppliedIndex is the Raft index the local state reflects.
func (s *Store) AppliedIndex() uint64 {
	index, _ := s.fsm.appliedIndex()
	return index
}

// WaitApplied waits until the local state has applied index (the index
// of a command: ApplyCommand's, or an Event's), or ctx ends (its error,
// wrapped), or the store closes (ErrClosed).
func (s *Store) WaitApplied(ctx context.Context, index uint64) error {
	return s.waitIndex(ctx, index, nil)
}

// CaughtUp reports whether local reads are current: true on a leader that
// has passed its barrier (every entry of earlier terms applied), and on a
// follower that knows a leader and has applied the commit index it learnt
// from it. A NewMemory store is always caught up.
func (s *Store) CaughtUp() bool {
	if s.isClosed() {
		return false
	}
	if s.raft == nil {
		return true
	}
	if s.raft.State() == raft.Leader {
		return s.lead.current()
	}
	id, _ := s.Leader()
	if id == "" || id == s.nodeID {
		return false
	}
	commit := s.raft.CommitIndex()
	return commit > 0 && s.reflects(commit)
}

// LeaderWatch is LeaderCh with an end: cancel stops the subscription and
// closes the channel. For consumers that come and go (one per session);
// cancel is idempotent.
func (s *Store) LeaderWatch() (<-chan bool, func()) {
	ch := s.lead.subscribe()
	return ch, func() { s.lead.cancel(ch) }
}
