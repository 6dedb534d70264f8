package rpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/dispatcher"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/mesh"
	"github.com/hiveorch/hive/core/networks"
	"github.com/hiveorch/hive/core/session"
	"github.com/hiveorch/hive/core/types"
)

// Timing of the agent's side of a session.
const (
	// SessionOpenTimeout bounds opening a session with one manager: the
	// connection, the registration and the first message.
	SessionOpenTimeout = 4 * time.Second
	// NodeCallTimeout bounds a heartbeat or a status report whose context
	// has no deadline, so that a manager that vanished is noticed well
	// within the heartbeat grace period.
	NodeCallTimeout = 2 * time.Second
	// Register waits between rounds over the managers that all failed:
	// sessionMinBackoff doubling up to sessionMaxBackoff.
	sessionMinBackoff = 200 * time.Millisecond
	sessionMaxBackoff = 5 * time.Second
	// minSessionLife: a session that ends sooner counts as a failed round,
	// so that sessions lost as soon as opened back off too.
	minSessionLife = time.Second
)

// SessionConfig configures a SessionClient.
type SessionConfig struct {
	// Managers are the cluster addresses of the managers known at start
	// (the manager joined, or the list persisted from an earlier run).
	// Sessions keep the list up to date.
	Managers []string
	// TLS is the node's client TLS configuration (ca.ClientTLS); unused
	// when Pool is set.
	TLS *tls.Config
	// Pool supplies connections; nil makes one the client closes.
	Pool *Pool
	// Clock paces retries; nil is the wall clock.
	Clock clock.Clock
	// Logger receives the client's logs; nil discards them.
	Logger *slog.Logger
}

// SessionClient is a node's session with the managers over the cluster
// port: a session.Manager for core/agent that finds the leader and
// follows it.
//
// Register tries the manager it last knew as leader first, then the
// others; a manager that is not the leader answers with the leader's
// address, which is tried next. When no manager accepts, Register fails
// with an error wrapping errdefs.ErrUnavailable, and the next Register
// waits a growing delay first (200ms doubling to 5s; reset by a session
// that lasted), so that no caller can make it busy-loop. A session ends
// when the leader steps down (it names the new leader), dies, or stops
// answering heartbeats; the assignment channel then closes and the agent
// registers again. Heartbeats and status reports go to the session's
// manager.
//
// The client also keeps what sessions report: the cluster's routing table
// (Routes, WatchRoutes: feed it to the mesh) and the managers
// (Managers, WatchManagers: persist them for the next start). Its methods
// are safe for concurrent use.
type SessionClient struct {
	pool    *Pool
	ownPool bool
	clock   clock.Clock
	logger  *slog.Logger

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	mu sync.Mutex
	// addrs are the managers' addresses in the order to try them; hint is
	// the leader's address when known.
	addrs    []string
	hint     string
	sess     *clientSession
	failures int
	// retryAt is when the next round may start, after failures.
	retryAt time.Time

	routes   *latest[map[mesh.PortKey]mesh.Route]
	managers *latest[[]dispatcher.ManagerInfo]
	role     *latest[types.NodeRole]
}

var _ session.Manager = (*SessionClient)(nil)

// clientSession is one open session.
type clientSession struct {
	addr    string
	nodeID  string
	cc      *grpc.ClientConn
	stream  *SessionStream
	cancel  context.CancelFunc
	started time.Time
	// out is the assignment channel: it holds the latest assignment and
	// is closed when the session ends. claimed is set by Assignments.
	out     chan *session.Assignment
	claimed bool
	done    chan struct{}
	// tasks, secrets and configs are the node's assignment as the
	// session's messages built it; the values live in memory only.
	tasks   []*types.Task
	secrets map[string]session.SecretData
	configs map[string]session.ConfigData
	// secretErrors say why the managers cannot get a secret, by ID.
	secretErrors map[string]string
	// networks is the node's latest view of its tasks' networks.
	networks *networks.NodeView
}

// NewSessionClient returns a client; it connects on Register.
func NewSessionClient(cfg SessionConfig) *SessionClient {
	c := &SessionClient{
		pool: cfg.Pool, clock: cfg.Clock, logger: cfg.Logger,
		addrs:    dedupe(cfg.Managers),
		routes:   newLatest[map[mesh.PortKey]mesh.Route](),
		role:     newLatest[types.NodeRole](),
		managers: newLatest[[]dispatcher.ManagerInfo](),
	}
	if c.pool == nil {
		c.pool, c.ownPool = NewPool(cfg.TLS), true
	}
	if c.clock == nil {
		c.clock = clock.Real{}
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// Register opens the node's session with the leader, ending the previous
// one; see SessionClient for how it finds the leader.
func (c *SessionClient) Register(ctx context.Context, reg session.Registration) error {
	c.endSession()
	if err := c.pace(ctx); err != nil {
		return fmt.Errorf("register node %s: %w", reg.NodeID, err)
	}
	candidates := c.candidates()
	if len(candidates) == 0 {
		c.failed()
		return fmt.Errorf("register node %s: no manager address is known: join the cluster again: %w", reg.NodeID, errdefs.ErrUnavailable)
	}
	tried := map[string]bool{}
	var failures []string
	for len(candidates) > 0 {
		addr := candidates[0]
		candidates = candidates[1:]
		if tried[addr] {
			continue
		}
		tried[addr] = true
		s, first, err := c.open(ctx, addr, reg)
		if err == nil {
			c.install(s, first)
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("register node %s: %w", reg.NodeID, ctx.Err())
		}
		if errors.Is(err, errdefs.ErrPermissionDenied) || errors.Is(err, errdefs.ErrInvalidArgument) {
			// Refused for what the node is, not for where it asked.
			c.failed()
			return fmt.Errorf("register node %s with manager %s: %w", reg.NodeID, addr, err)
		}
		failures = append(failures, fmt.Sprintf("%s: %v", addr, err))
		if leader := LeaderAddr(err); leader != "" && !tried[leader] {
			c.logger.Debug("manager is not the leader; moving to the leader", "manager", addr, "leader", leader)
			candidates = append([]string{leader}, candidates...)
			continue
		}
		if unreachable(err) {
			c.demote(addr)
		}
	}
	c.failed()
	return fmt.Errorf("register node %s: no manager accepted the session (%s): %w",
		reg.NodeID, strings.Join(failures, "; "), errdefs.ErrUnavailable)
}

// pace waits until the next round may start.
func (c *SessionClient) pace(ctx context.Context) error {
	c.mu.Lock()
	wait := c.retryAt.Sub(c.clock.Now())
	c.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	select {
	case <-c.clock.After(wait):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.ctx.Done():
		return fmt.Errorf("session client closed: %w", errdefs.ErrUnavailable)
	}
}

// failed counts a failed round and sets when the next may start.
func (c *SessionClient) failed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failLocked()
}

func (c *SessionClient) failLocked() {
	delay := sessionMinBackoff << min(c.failures, 10)
	c.failures++
	c.retryAt = c.clock.Now().Add(min(delay, sessionMaxBackoff))
}

// candidates returns the addresses to try: the leader first when known.
func (c *SessionClient) candidates() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.addrs)+1)
	if c.hint != "" {
		out = append(out, c.hint)
	}
	return append(out, c.addrs...)
}

// demote moves an address that did not answer to the end of the list.
func (c *SessionClient) demote(addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i := slices.Index(c.addrs, addr); i >= 0 {
		c.addrs = append(slices.Delete(c.addrs, i, i+1), addr)
	}
	if c.hint == addr {
		c.hint = ""
	}
}

// open opens a session with one manager and reads its first message,
// within SessionOpenTimeout.
func (c *SessionClient) open(ctx context.Context, addr string, reg session.Registration) (*clientSession, *dispatcher.SessionMessage, error) {
	cc, err := c.pool.Conn(addr)
	if err != nil {
		return nil, nil, err
	}
	sctx, cancel := context.WithCancel(c.ctx)
	opened, watcher := make(chan struct{}), make(chan struct{})
	timedOut := false
	go func() {
		defer close(watcher)
		select {
		case <-opened:
		case <-ctx.Done():
			cancel()
		case <-c.clock.After(SessionOpenTimeout):
			timedOut = true
			cancel()
		}
	}()
	var first *dispatcher.SessionMessage
	stream, err := NewDispatcherClient(cc).Session(sctx, reg)
	if err == nil {
		first, err = stream.Recv()
	}
	close(opened)
	<-watcher
	if timedOut {
		err = fmt.Errorf("no answer within %s: %w", SessionOpenTimeout, errdefs.ErrUnavailable)
	}
	if err == nil && sctx.Err() != nil {
		err = sctx.Err()
	}
	if err != nil {
		cancel()
		return nil, nil, err
	}
	return &clientSession{
		addr: addr, nodeID: reg.NodeID, cc: cc, stream: stream, cancel: cancel, started: c.clock.Now(),
		out: make(chan *session.Assignment, 1), done: make(chan struct{}),
		secrets: map[string]session.SecretData{}, configs: map[string]session.ConfigData{}, secretErrors: map[string]string{},
	}, first, nil
}

// install makes s the current session and starts reading it.
func (c *SessionClient) install(s *clientSession, first *dispatcher.SessionMessage) {
	c.mu.Lock()
	c.sess = s
	c.hint = s.addr
	c.mu.Unlock()
	c.logger.Info("session with the leader opened", "manager", s.addr, "node_id", s.nodeID)
	c.apply(s, first)
	go c.receive(s)
}

// receive reads the session until it ends.
func (c *SessionClient) receive(s *clientSession) {
	defer close(s.done)
	defer close(s.out)
	for {
		msg, err := s.stream.Recv()
		if err != nil {
			c.ended(s, err)
			return
		}
		c.apply(s, msg)
	}
}

// apply takes in one session message.
func (c *SessionClient) apply(s *clientSession, msg *dispatcher.SessionMessage) {
	if msg.Assignments != nil || msg.Values != nil || msg.Networks != nil {
		if msg.Assignments != nil {
			s.tasks = msg.Assignments.Tasks
		}
		if msg.Networks != nil {
			s.networks = msg.Networks.View
		}
		if msg.Values != nil {
			msg.Values.Apply(s.secrets, s.configs, s.secretErrors)
		}
		a := &session.Assignment{Tasks: s.tasks, Secrets: maps.Clone(s.secrets), Configs: maps.Clone(s.configs), Networks: s.networks}
		if len(s.secretErrors) > 0 {
			a.SecretErrors = maps.Clone(s.secretErrors)
		}
		select {
		case <-s.out: // replace a set the agent has not taken yet
		default:
		}
		s.out <- a
	}
	if msg.Routes != nil {
		c.routes.set(msg.Routes.Routes)
	}
	if msg.Role != "" {
		c.role.set(msg.Role)
	}
	if msg.Managers != nil {
		var addrs []string
		leader := ""
		for _, m := range msg.Managers {
			if m.Addr == "" {
				continue
			}
			addrs = append(addrs, m.Addr)
			if m.Leader {
				leader = m.Addr
			}
		}
		if len(addrs) > 0 {
			c.mu.Lock()
			c.addrs = dedupe(addrs)
			if leader != "" {
				c.hint = leader
			}
			c.mu.Unlock()
		}
		c.managers.set(slices.Clone(msg.Managers))
	}
}

// ended records why a session ended and where to go next.
func (c *SessionClient) ended(s *clientSession, err error) {
	s.cancel()
	c.mu.Lock()
	current := c.sess == s
	if current {
		c.sess = nil
	}
	leader := LeaderAddr(err)
	switch {
	case leader != "":
		c.hint = leader
	case unreachable(err) || errors.Is(err, errdefs.ErrUnavailable):
		if c.hint == s.addr {
			c.hint = ""
		}
	}
	short := c.clock.Now().Sub(s.started) < minSessionLife
	if current && short {
		c.failLocked()
	} else if current {
		c.failures, c.retryAt = 0, time.Time{}
	}
	c.mu.Unlock()
	if unreachable(err) {
		c.demote(s.addr)
	}
	if current && c.ctx.Err() == nil && !errors.Is(err, context.Canceled) {
		c.logger.Warn("session with the leader ended", "manager", s.addr, "node_id", s.nodeID, "error", err)
	}
}

// endSession ends the current session, if any.
func (c *SessionClient) endSession() {
	c.mu.Lock()
	s := c.sess
	c.sess = nil
	c.mu.Unlock()
	if s != nil {
		s.cancel()
		<-s.done
	}
}

// Assignments returns the assignment channel of the session Register
// opened for nodeID; it is closed when the session ends or ctx ends (which
// ends the session).
func (c *SessionClient) Assignments(ctx context.Context, nodeID string) (<-chan *session.Assignment, error) {
	c.mu.Lock()
	s := c.sess
	ok := s != nil && s.nodeID == nodeID && !s.claimed
	if ok {
		s.claimed = true
	}
	c.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("assignments of node %s: no session is open for it: register first: %w", nodeID, errdefs.ErrUnavailable)
	}
	go func() {
		select {
		case <-ctx.Done():
			s.cancel()
		case <-s.done:
		}
	}()
	return s.out, nil
}

// Heartbeat sends a heartbeat to the session's manager.
func (c *SessionClient) Heartbeat(ctx context.Context, nodeID string) (time.Duration, error) {
	var period time.Duration
	err := c.call(ctx, "heartbeat", func(ctx context.Context, d *DispatcherClient) error {
		p, err := d.Heartbeat(ctx, nodeID)
		period = p
		return err
	})
	return period, err
}

// UpdateTaskStatus reports task statuses to the session's manager.
func (c *SessionClient) UpdateTaskStatus(ctx context.Context, nodeID string, updates []session.StatusUpdate) error {
	return c.call(ctx, "report task status", func(ctx context.Context, d *DispatcherClient) error {
		return d.UpdateTaskStatus(ctx, nodeID, updates)
	})
}

// call makes a unary call to the session's manager, bounded by
// NodeCallTimeout when ctx has no deadline. An answer that the manager is
// not the leader, or no answer at all, ends the session, so that the agent
// registers again with the leader.
func (c *SessionClient) call(ctx context.Context, what string, fn func(context.Context, *DispatcherClient) error) error {
	c.mu.Lock()
	s := c.sess
	c.mu.Unlock()
	if s == nil {
		return fmt.Errorf("%s: no session with the managers: register first: %w", what, errdefs.ErrUnavailable)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = clock.WithTimeout(ctx, c.clock, NodeCallTimeout)
		defer cancel()
	}
	err := fn(ctx, NewDispatcherClient(s.cc))
	if err == nil {
		return nil
	}
	switch leader := LeaderAddr(err); {
	case leader != "":
		c.mu.Lock()
		c.hint = leader
		c.mu.Unlock()
		s.cancel()
	case unreachable(err):
		c.demote(s.addr)
		s.cancel()
	}
	return fmt.Errorf("%s to manager %s: %w", what, s.addr, err)
}

// Leader returns the address of the manager the session is with, or ""
// when there is no session.
func (c *SessionClient) Leader() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return ""
	}
	return c.sess.addr
}

// Routes returns the latest routing table sessions reported (nil before
// the first session).
func (c *SessionClient) Routes() map[mesh.PortKey]mesh.Route { return c.routes.get() }

// WatchRoutes returns a channel holding the latest routing table, starting
// with the current one when known; a reader that falls behind gets the
// latest. It is closed when ctx ends or the client closes. The tables are
// shared: do not change them.
func (c *SessionClient) WatchRoutes(ctx context.Context) <-chan map[mesh.PortKey]mesh.Route {
	return c.routes.watch(ctx, c.ctx)
}

// Managers returns the latest list of managers sessions reported.
func (c *SessionClient) Managers() []dispatcher.ManagerInfo { return slices.Clone(c.managers.get()) }

// WatchRole is WatchRoutes for the node's role as the cluster has it.
func (c *SessionClient) WatchRole(ctx context.Context) <-chan types.NodeRole {
	return c.role.watch(ctx, c.ctx)
}

// WatchManagers is WatchRoutes for the list of managers.
func (c *SessionClient) WatchManagers(ctx context.Context) <-chan []dispatcher.ManagerInfo {
	return c.managers.watch(ctx, c.ctx)
}

// Close ends the session and the watches, and closes the connections the
// client made.
func (c *SessionClient) Close() error {
	c.endSession()
	c.cancel()
	if c.ownPool {
		return c.pool.Close()
	}
	return nil
}

func dedupe(addrs []string) []string {
	var out []string
	for _, a := range addrs {
		if a != "" && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}
