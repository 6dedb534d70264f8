package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/hiveorch/hive/core/errdefs"
)

// Member is one manager of the Raft group.
type Member struct {
	ID   string `json:"id"`
	Addr string `json:"addr"`
	// Voter is false for a manager that receives the log without voting.
	Voter  bool `json:"voter"`
	Leader bool `json:"leader"`
}

// Status is this manager's view of the Raft group, for `hive cluster
// status`.
type Status struct {
	// ID is this manager's node ID ("local" for a NewMemory store).
	ID string `json:"id"`
	// State is "leader", "follower", "candidate" or "shutdown".
	State        string   `json:"state"`
	Term         uint64   `json:"term"`
	LastIndex    uint64   `json:"last_index"`
	CommitIndex  uint64   `json:"commit_index"`
	AppliedIndex uint64   `json:"applied_index"`
	LeaderID     string   `json:"leader_id,omitempty"`
	LeaderAddr   string   `json:"leader_addr,omitempty"`
	Members      []Member `json:"members"`
}

// Members returns the managers of the latest Raft configuration this
// manager knows, sorted by ID. On a follower it may lag behind the
// leader's. A NewMemory store has one member, itself, with no address.
func (s *Store) Members() []Member {
	if s.raft == nil {
		return []Member{{ID: memoryLeaderID, Voter: true, Leader: true}}
	}
	f := s.raft.GetConfiguration()
	if f.Error() != nil {
		return nil
	}
	leaderID, _ := s.Leader()
	var out []Member
	for _, srv := range f.Configuration().Servers {
		out = append(out, Member{
			ID: string(srv.ID), Addr: string(srv.Address),
			Voter: srv.Suffrage == raft.Voter, Leader: string(srv.ID) == leaderID,
		})
	}
	slices.SortFunc(out, func(a, b Member) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Status returns this manager's Raft state, indexes, leader and members.
func (s *Store) Status() Status {
	if s.raft == nil {
		st := Status{ID: memoryLeaderID, State: "leader", LeaderID: memoryLeaderID, Members: s.Members()}
		st.LastIndex = s.AppliedIndex()
		st.CommitIndex, st.AppliedIndex = st.LastIndex, st.LastIndex
		if s.isClosed() {
			st.State = "shutdown"
		}
		return st
	}
	id, addr := s.Leader()
	return Status{
		ID:           s.nodeID,
		State:        strings.ToLower(s.raft.State().String()),
		Term:         s.raft.CurrentTerm(),
		LastIndex:    s.raft.LastIndex(),
		CommitIndex:  s.raft.CommitIndex(),
		AppliedIndex: s.AppliedIndex(),
		LeaderID:     id,
		LeaderAddr:   addr,
		Members:      s.Members(),
	}
}

// AddVoter makes the manager id, reachable at addr (its cluster port), a
// voting member; it is a no-op for a voter already there at that address.
// Leader only (a *NotLeaderError otherwise). It returns once the new
// configuration has committed or ctx ends: the configuration needs a
// majority of the new group, so the new manager should be up when it is
// added (with one manager, the cluster cannot write until the second
// answers).
func (s *Store) AddVoter(ctx context.Context, id, addr string) error {
	if id == "" || addr == "" {
		return fmt.Errorf("add manager: give both a node ID and an address (got %q at %q): %w", id, addr, errdefs.ErrInvalidArgument)
	}
	if err := s.membershipLeader("add manager " + id); err != nil {
		return err
	}
	for _, m := range s.Members() {
		if m.ID == id && m.Addr == addr && m.Voter {
			return nil
		}
	}
	if err := s.waitFuture(ctx, s.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, 0)); err != nil {
		return fmt.Errorf("add manager %s at %s: %w", id, addr, err)
	}
	s.logger.Info("manager added to the raft group", "node_id", id, "addr", addr)
	return nil
}

// RemoveServer removes the manager id from the Raft group. Leader only (a
// *NotLeaderError otherwise); ErrNotFound when id is not a member. A leader
// that removes itself steps down once the change commits.
func (s *Store) RemoveServer(ctx context.Context, id string) error {
	if err := s.membershipLeader("remove manager " + id); err != nil {
		return err
	}
	if !slices.ContainsFunc(s.Members(), func(m Member) bool { return m.ID == id }) {
		return fmt.Errorf("remove manager %s: it is not a member of the raft group: %w", id, ErrNotFound)
	}
	if err := s.waitFuture(ctx, s.raft.RemoveServer(raft.ServerID(id), 0, 0)); err != nil {
		return fmt.Errorf("remove manager %s: %w", id, err)
	}
	s.logger.Info("manager removed from the raft group", "node_id", id)
	return nil
}

// membershipLeader checks a membership change may be made here.
func (s *Store) membershipLeader(what string) error {
	switch {
	case s.isClosed():
		return ErrClosed
	case s.raft == nil:
		return fmt.Errorf("%s: a store without raft has no other members: %w", what, errdefs.ErrInvalidArgument)
	case !s.IsLeader():
		return fmt.Errorf("%s: %w", what, s.notLeader())
	}
	return nil
}

// waitFuture waits for a Raft future, at most until ctx ends.
func (s *Store) waitFuture(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		if err != nil {
			return s.raftError(err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for the change to commit (it may still apply): %w", ctx.Err())
	}
}

// peerHealth follows, on the leader, which peers answer its heartbeats, so
// that a no-quorum error can say how many managers are reachable. It is
// reset when this manager becomes the leader.
type peerHealth struct {
	mu      sync.Mutex
	failing map[string]bool
}

func newPeerHealth() *peerHealth { return &peerHealth{failing: map[string]bool{}} }

func (p *peerHealth) set(id string, failing bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failing[id] = failing
}

func (p *peerHealth) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.failing)
}

// reachable counts self and the voters whose heartbeats do not fail.
func (p *peerHealth) reachable(self string, voters []string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, id := range voters {
		if id == self || !p.failing[id] {
			n++
		}
	}
	return n
}

// peerObserveBuf is the observer channel's capacity: Raft drops
// observations rather than block, and heartbeat failures repeat.
const peerObserveBuf = 16

// watchPeers feeds peerHealth from Raft's observations.
func (s *Store) watchPeers() {
	defer s.wg.Done()
	ch := make(chan raft.Observation, peerObserveBuf)
	obs := raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.FailedHeartbeatObservation, raft.ResumedHeartbeatObservation, raft.LeaderObservation:
			return true
		}
		return false
	})
	s.raft.RegisterObserver(obs)
	defer s.raft.DeregisterObserver(obs)
	for {
		select {
		case <-s.done:
			return
		case o := <-ch:
			switch d := o.Data.(type) {
			case raft.FailedHeartbeatObservation:
				s.peers.set(string(d.PeerID), true)
			case raft.ResumedHeartbeatObservation:
				s.peers.set(string(d.PeerID), false)
			case raft.LeaderObservation:
				if string(d.LeaderID) == s.nodeID {
					s.peers.reset()
				}
			}
		}
	}
}
