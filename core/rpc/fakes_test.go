package rpc

import (
	"context"
	"sync"
	"time"

	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/dispatcher"
	"github.com/hiveorch/hive/core/mesh"
	"github.com/hiveorch/hive/core/session"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/taskstats"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// fakeCluster decides which fake manager leads. Its managers answer as
// the leader's dispatcher does: a non-leader refuses naming the leader,
// and the leader ends its sessions when leadership moves.
type fakeCluster struct {
	mu       sync.Mutex
	leader   string // address
	managers []dispatcher.ManagerInfo
	changed  chan struct{}
	// err, when set, is what every call fails with.
	err error
}

func newFakeCluster() *fakeCluster { return &fakeCluster{changed: make(chan struct{})} }

// add records a manager at addr.
func (c *fakeCluster) add(id, addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.managers = append(c.managers, dispatcher.ManagerInfo{ID: id, Addr: addr})
}

// lead makes the manager at addr the leader ("" for none).
func (c *fakeCluster) lead(addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.leader = addr
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *fakeCluster) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
}

// check returns nil when addr leads, else a not-leader error naming the
// leader.
func (c *fakeCluster) check(addr string) (<-chan struct{}, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.changed, c.err
	}
	if c.leader == addr {
		return c.changed, nil
	}
	for _, m := range c.managers {
		if m.Addr == c.leader {
			return c.changed, &store.NotLeaderError{LeaderID: m.ID, LeaderAddr: m.Addr}
		}
	}
	return c.changed, &store.NotLeaderError{}
}

func (c *fakeCluster) list() []dispatcher.ManagerInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]dispatcher.ManagerInfo, len(c.managers))
	for i, m := range c.managers {
		m.Leader = m.Addr == c.leader
		out[i] = m
	}
	return out
}

// fakeDispatcher is one manager's DispatcherBackend.
type fakeDispatcher struct {
	addr    string
	cluster *fakeCluster
	routes  map[mesh.PortKey]mesh.Route

	mu         sync.Mutex
	attempts   int
	sessions   int
	heartbeats map[string]int
	statuses   []session.StatusUpdate
	// push, when set, receives the session's send function.
	push chan func(*dispatcher.SessionMessage) error
}

func newFakeDispatcher(addr string, c *fakeCluster) *fakeDispatcher {
	return &fakeDispatcher{addr: addr, cluster: c, heartbeats: map[string]int{}}
}

func (f *fakeDispatcher) Session(ctx context.Context, reg session.Registration, send func(*dispatcher.SessionMessage) error) error {
	f.mu.Lock()
	f.attempts++
	f.mu.Unlock()
	changed, err := f.cluster.check(f.addr)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.sessions++
	push := f.push
	f.mu.Unlock()
	err = send(&dispatcher.SessionMessage{
		Assignments:     &dispatcher.Assignments{Tasks: []*types.Task{{ID: "task-from-" + f.addr, NodeID: reg.NodeID}}},
		Routes:          &dispatcher.RouteTable{Routes: f.routes},
		Managers:        f.cluster.list(),
		HeartbeatPeriod: time.Second,
	})
	if err != nil {
		return err
	}
	if push != nil {
		select {
		case push <- send:
		case <-ctx.Done():
			return nil
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
			if changed, err = f.cluster.check(f.addr); err != nil {
				return err
			}
		}
	}
}

func (f *fakeDispatcher) Heartbeat(ctx context.Context, nodeID string) (time.Duration, error) {
	if _, err := f.cluster.check(f.addr); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.heartbeats[nodeID]++
	return 1500 * time.Millisecond, nil
}

func (f *fakeDispatcher) UpdateTaskStatus(ctx context.Context, nodeID string, updates []session.StatusUpdate) error {
	if _, err := f.cluster.check(f.addr); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statuses = append(f.statuses, updates...)
	return nil
}

// counts returns how many sessions were asked for and how many opened.
func (f *fakeDispatcher) counts() (attempts, sessions int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts, f.sessions
}

// fakeManager is a ManagerBackend that records calls.
type fakeManager struct {
	mu       sync.Mutex
	commands [][]byte
	added    []string
	removed  []string
	err      error
}

func (f *fakeManager) ApplyCommand(ctx context.Context, cmd []byte) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return 0, f.err
	}
	f.commands = append(f.commands, cmd)
	return uint64(40 + len(f.commands)), nil
}

func (f *fakeManager) AddVoter(ctx context.Context, id, addr string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.added = append(f.added, id+"@"+addr)
	return f.err
}

func (f *fakeManager) RemoveServer(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, id)
	return f.err
}

func (f *fakeManager) Status() store.Status {
	return store.Status{ID: "m1", State: "leader", Term: 3, LastIndex: 9, CommitIndex: 9, AppliedIndex: 8, LeaderID: "m1",
		Members: []store.Member{{ID: "m1", Addr: "a1", Voter: true, Leader: true}}}
}

func (f *fakeManager) calls() (commands [][]byte, added, removed []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.commands, f.added, f.removed
}

// fakeRenew issues a "certificate" naming the caller; with the public
// key "LEAK" it wrongly hands over the CA key.
func fakeRenew(_ context.Context, p ca.Peer, pub []byte) (*Renewal, error) {
	r := &Renewal{Role: types.RoleWorker, CertPEM: []byte("cert for " + p.ID + " (" + p.Role + ") of " + string(pub))}
	if string(pub) == "LEAK" {
		r.CAKeyPEM = []byte("CA KEY")
	}
	return r, nil
}

// fakeLogs streams three lines of any task.
func fakeLogs(ctx context.Context, t *types.Task, opts runtime.LogOptions, sink func(runtime.LogEntry) error) error {
	for i := range 3 {
		if err := sink(runtime.LogEntry{Stream: runtime.StreamStdout, Line: []byte(t.ID + " line " + string(rune('1'+i)))}); err != nil {
			return err
		}
	}
	return nil
}

// fakeStats sends req.Count samples (one when 0) of each task, with the
// round number as its CPU time.
func fakeStats(ctx context.Context, req taskstats.Request, sink func(taskstats.Sample) error) error {
	for i := range max(req.Count, 1) {
		for _, t := range req.Tasks {
			if err := sink(taskstats.Sample{TaskID: t.ID, Stats: &runtime.Stats{Known: runtime.StatsCPU, CPUNanos: uint64(i + 1)}}); err != nil {
				return err
			}
		}
	}
	return nil
}
