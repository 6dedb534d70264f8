package sim

import (
	"context"
	"fmt"
	"log/slog"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/agent"
	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/controlapi"
	"github.com/hiveorch/hive/core/dispatcher"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/identity"
	"github.com/hiveorch/hive/core/leader"
	"github.com/hiveorch/hive/core/session"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/scheduler-spread/spread"
	"github.com/hiveorch/hive/plugins/sdk/network"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
	sdksched "github.com/hiveorch/hive/plugins/sdk/scheduler"
)

// Epoch is the fake time a Cluster starts at.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// DefaultStep is how far Settle moves the fake clock at a time.
const DefaultStep = 10 * time.Millisecond

// Option configures a Cluster.
type Option func(*options)

type options struct {
	step         time.Duration
	historyLimit int
	logger       *slog.Logger
	logLevel     slog.Level
	scheduler    sdksched.Scheduler
	stepChecks   bool
	seed         uint64
}

// WithStep sets how far Settle moves the fake clock at a time.
func WithStep(d time.Duration) Option { return func(o *options) { o.step = d } }

// WithTaskHistoryLimit sets the cluster's task history limit (the daemon
// takes it from its configuration; the default is
// types.DefaultTaskHistoryLimit).
func WithTaskHistoryLimit(n int) Option { return func(o *options) { o.historyLimit = n } }

// WithLogger sends the cluster's logs to l instead of t.Log.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithLogLevel sets the level of the default t.Log logger (Info unless
// set).
func WithLogLevel(level slog.Level) Option { return func(o *options) { o.logLevel = level } }

// WithScheduler replaces the spread scheduler.
func WithScheduler(s sdksched.Scheduler) Option { return func(o *options) { o.scheduler = s } }

// WithSeed sets the seed of every ID the cluster mints (1 unless set).
func WithSeed(seed uint64) Option { return func(o *options) { o.seed = seed } }

// WithoutStepChecks stops Settle from checking the safety invariants at
// every step (benchmarks use it: the checks read the whole state).
func WithoutStepChecks() Option { return func(o *options) { o.stepChecks = false } }

// Cluster is one manager and N nodes in one process on one fake clock. See
// the package documentation. Its methods are meant to be called from the
// test's goroutine.
type Cluster struct {
	t          testing.TB
	opts       options
	clock      *clock.Fake
	store      *store.Store
	dispatcher *dispatcher.Dispatcher
	control    *controlapi.Server
	logger     *slog.Logger
	nodes      []*Node
	tracker    *StateTracker
	// ids are the ID generators by minter, kept across leader terms.
	ids map[string]identity.Generator

	// events counts the store events published, for quiescence.
	events  atomic.Uint64
	unwatch func()

	// procs is GOMAXPROCS before Start set it to 1.
	procs int

	ctx         context.Context
	cancel      context.CancelFunc
	ctrlCancel  context.CancelFunc // ends the current leader's controllers
	controllers sync.WaitGroup
	ctrlErrs    chan error
	started     bool
	stopped     bool
}

// Node is one simulated node: an agent over its own fake runtime.
type Node struct {
	// ID is the node's ID ("node-1", "node-2", …; node-1 is the manager).
	ID string
	// Runtime is the node's fake container runtime. It outlives the agent:
	// StopNode leaves its containers running and StartNode adopts them.
	Runtime *runtime.Fake
	// Network is the node's fake network plugin, and Dataplane what the
	// agent programs in its tasks' namespaces: both outlive the agent, as
	// the kernel's objects do.
	Network   *network.Fake
	Dataplane *agent.MemoryDataplane

	link   *link
	cancel context.CancelFunc
	done   chan struct{}
	starts int
}

// New builds a cluster of nodes nodes (at least 1). Call Start to run it;
// t.Cleanup stops it.
func New(t testing.TB, nodes int, opts ...Option) *Cluster {
	t.Helper()
	if nodes < 1 {
		t.Fatalf("sim.New: a cluster needs at least one node, got %d", nodes)
	}
	o := options{step: DefaultStep, logLevel: slog.LevelInfo, stepChecks: true, seed: 1}
	for _, opt := range opts {
		opt(&o)
	}
	clk := clock.NewFake(Epoch)
	logger := o.logger
	if logger == nil {
		logger = TestLogger(t, o.logLevel, clk, Epoch)
	}
	if o.scheduler == nil {
		o.scheduler = spread.New(logger.With("component", "scheduler-spread"))
	}
	st := store.NewMemory(clk)
	c := &Cluster{
		t: t, opts: o, clock: clk, store: st, logger: logger,
		dispatcher: dispatcher.New(st, clk, logger.With("component", "dispatcher")),
		tracker:    NewStateTracker(),
		ctrlErrs:   make(chan error, 16),
		ids:        map[string]identity.Generator{},
	}
	c.control = controlapi.New(st, clk, nodeID(0), nil, fakeLogs{c}, logger.With("component", "api"))
	c.control.IDs = c.idsOf("controlapi")
	c.ctx, c.cancel = context.WithCancel(context.Background())
	for range nodes {
		c.addNode()
	}
	// Count every event and follow task states; deliver none, so the
	// subscription never fills.
	_, c.unwatch = st.ViewAndWatch(nil, func(ev store.Event) bool {
		c.events.Add(1)
		c.tracker.Observe(ev)
		return false
	})
	t.Cleanup(c.stop)
	return c
}

func nodeID(i int) string { return fmt.Sprintf("node-%d", i+1) }

// addNode adds a node, not yet started.
func (c *Cluster) addNode() *Node {
	rt := runtime.NewFake()
	rt.AllowAnyImage(true)
	rt.SetClock(c.clock.Now)
	n := &Node{ID: nodeID(len(c.nodes)), Runtime: rt, Network: network.NewFake(), Dataplane: agent.NewMemoryDataplane(),
		link: newLink(c.dispatcher)}
	c.nodes = append(c.nodes, n)
	return n
}

// AddNode adds a node and starts its agent, as `hive join` does; it
// returns the node's index.
func (c *Cluster) AddNode() int {
	c.addNode()
	c.StartNode(len(c.nodes) - 1)
	return len(c.nodes) - 1
}

// idsOf returns the ID generator of one minter, seeded from the cluster's
// seed: each minter draws from its own sequence, so its IDs do not depend
// on how the goroutines interleave.
func (c *Cluster) idsOf(minter string) identity.Generator {
	g := c.ids[minter]
	if g == nil {
		g = identity.Seeded(c.opts.seed, minter)
		c.ids[minter] = g
	}
	return g
}

// Start creates the cluster record and the manager's node record, starts
// the leader's controllers and every node's agent, and settles until every
// node is ready. It fails the test if they do not become ready.
//
// Start sets GOMAXPROCS to 1 until the cluster stops: Quiesce needs it,
// and one processor also makes the goroutines' interleaving far more
// repeatable. Tests that use a Cluster must not run in parallel.
func (c *Cluster) Start() {
	c.t.Helper()
	if c.started {
		c.t.Fatalf("sim: Start called twice")
	}
	c.started = true
	c.procs = goruntime.GOMAXPROCS(1)
	err := c.store.Update(c.ctx, func(tx store.Tx) error {
		if err := tx.CreateCluster(&types.Cluster{ID: types.ClusterID, CreatedBy: nodeID(0),
			Spec: types.ClusterSpec{TaskHistoryLimit: c.opts.historyLimit}}); err != nil {
			return err
		}
		return tx.CreateNode(&types.Node{
			ID:     nodeID(0),
			Spec:   types.NodeSpec{Role: types.RoleManager, Availability: types.AvailabilityActive},
			Status: types.NodeStatus{State: types.NodeStateUnknown},
		})
	})
	if err != nil {
		c.t.Fatalf("sim: create the cluster records: %v", err)
	}
	c.startControllers()
	for i := range c.nodes {
		c.StartNode(i)
	}
	if err := c.Settle(c.nodesReady, time.Second); err != nil {
		c.t.Fatalf("sim: nodes did not become ready: %v", err)
	}
}

// startControllers starts what the daemon's leader runs (core/leader),
// each controller new, with nothing in memory.
func (c *Cluster) startControllers() {
	ctx, cancel := context.WithCancel(c.ctx)
	c.ctrlCancel = cancel
	for _, ctl := range leader.Controllers(leader.Deps{Store: c.store, Clock: c.clock, Logger: c.logger,
		Scheduler: c.opts.scheduler, Heartbeats: c.dispatcher, IDs: c.idsOf}) {
		c.runController(ctx, ctl.Name, ctl.Run)
	}
}

// StopLeader stops the leader's controllers and waits for them, as when
// the manager loses leadership or hive is killed: whatever they held in
// memory is gone. Agents, the dispatcher and the store keep running.
func (c *Cluster) StopLeader() {
	if c.ctrlCancel == nil {
		return
	}
	c.ctrlCancel()
	c.ctrlCancel = nil
	c.controllers.Wait()
}

// StartLeader starts new leader controllers after StopLeader, as a new
// leader does: they know only what the store holds.
func (c *Cluster) StartLeader() {
	if c.ctrlCancel != nil {
		c.t.Fatalf("sim: StartLeader while the leader's controllers run")
	}
	c.startControllers()
}

func (c *Cluster) runController(ctx context.Context, name string, run func(context.Context) error) {
	c.controllers.Add(1)
	go func() {
		defer c.controllers.Done()
		if err := run(ctx); err != nil {
			c.ctrlErrs <- fmt.Errorf("controller %s: %w", name, err)
		}
	}()
}

func (c *Cluster) nodesReady() bool {
	ready := 0
	c.store.View(func(tx store.ReadTx) {
		for _, n := range c.nodes {
			if sn := tx.Node(n.ID); sn != nil && sn.Status.State == types.NodeStateReady {
				ready++
			}
		}
	})
	return ready == len(c.nodes)
}

// Stop ends everything the cluster runs (agents, controllers, the store)
// and waits for it. It is idempotent; t.Cleanup calls it too. Benchmarks
// call it to free a cluster before building the next.
func (c *Cluster) Stop() { c.stop() }

// stop ends everything the cluster runs and waits for it.
func (c *Cluster) stop() {
	if c.stopped {
		return
	}
	c.stopped = true
	c.cancel()
	for _, n := range c.nodes {
		if n.done != nil {
			<-n.done
		}
	}
	c.controllers.Wait()
	close(c.ctrlErrs)
	for err := range c.ctrlErrs {
		c.t.Errorf("sim: %v", err)
	}
	c.unwatch()
	if err := c.store.Close(); err != nil {
		c.t.Errorf("sim: close the store: %v", err)
	}
	if c.procs > 0 {
		goruntime.GOMAXPROCS(c.procs)
	}
}

// Control returns the control API, as the HTTP API's backend uses it.
func (c *Cluster) Control() *controlapi.Server { return c.control }

// Store returns the manager's store.
func (c *Cluster) Store() *store.Store { return c.store }

// Clock returns the fake clock.
func (c *Cluster) Clock() *clock.Fake { return c.clock }

// Dispatcher returns the dispatcher the agents talk to.
func (c *Cluster) Dispatcher() *dispatcher.Dispatcher { return c.dispatcher }

// Context returns a context that ends when the cluster stops.
func (c *Cluster) Context() context.Context { return c.ctx }

// Logger returns the cluster's logger.
func (c *Cluster) Logger() *slog.Logger { return c.logger }

// Elapsed returns the fake time since the cluster was built.
func (c *Cluster) Elapsed() time.Duration { return c.clock.Now().Sub(Epoch) }

// Nodes returns how many nodes the cluster has.
func (c *Cluster) Nodes() int { return len(c.nodes) }

// Node returns node i (0-based; node 0 is the manager's).
func (c *Cluster) Node(i int) *Node { return c.nodes[i] }

// NodeIndex returns the index of the node with that ID, or -1.
func (c *Cluster) NodeIndex(id string) int {
	for i, n := range c.nodes {
		if n.ID == id {
			return i
		}
	}
	return -1
}

// StartNode starts an agent on node i, over the node's existing fake
// runtime: a node started again adopts the containers its previous agent
// left running.
func (c *Cluster) StartNode(i int) {
	n := c.nodes[i]
	if n.done != nil {
		c.t.Fatalf("sim: node %s is already running", n.ID)
	}
	n.starts++
	ctx, cancel := context.WithCancel(c.ctx)
	n.cancel, n.done = cancel, make(chan struct{})
	log := c.logger.With("component", "agent", "node_id", n.ID)
	a := agent.New(agent.Config{
		NodeID:  n.ID,
		Addr:    fmt.Sprintf("10.1.%d.%d:4242", (i+1)/256, (i+1)%256),
		Runtime: n.Runtime,
		Manager: n.link,
		Describe: func(context.Context) types.NodeDescription {
			return types.NodeDescription{
				Hostname:  fmt.Sprintf("host-%d", i+1),
				Platform:  types.Platform{OS: "linux", Architecture: "amd64"},
				Resources: types.Resources{NanoCPUs: 4e9, MemoryBytes: 8 << 30},
				Runtime:   types.Plugin{Name: "runtime-fake", Version: runtime.FakeVersion},
				Version:   "sim",
			}
		},
		Network:   n.Network,
		Dataplane: n.Dataplane,
		Clock:     c.clock,
		Logger:    log,
	})
	done := n.done
	go func() {
		defer close(done)
		if err := a.Run(ctx); err != nil {
			log.Error("agent stopped with an error", "error", err)
		}
	}()
}

// StopNode stops node i's agent, as when its daemon stops: its containers
// keep running. It waits for the agent to return.
func (c *Cluster) StopNode(i int) {
	n := c.nodes[i]
	if n.done == nil {
		return
	}
	n.cancel()
	<-n.done
	n.cancel, n.done = nil, nil
}

// Partition cuts node i off from the managers, or, with cut false, heals
// it: while cut, its agent keeps its containers but every call it makes
// to the dispatcher fails as unreachable and its assignment stream ends,
// so it sends no heartbeat and node health marks it down after the grace
// period. Once healed, the agent registers again.
func (c *Cluster) Partition(i int, cut bool) { c.nodes[i].link.set(cut) }

// RestartNode stops node i's agent and starts a new one on the same fake
// runtime.
func (c *Cluster) RestartNode(i int) {
	c.StopNode(i)
	c.StartNode(i)
}

// SetAvailability changes node i's availability (active, pause, drain) in
// the store, as `hive node update --availability` will.
func (c *Cluster) SetAvailability(i int, a types.Availability) error {
	id := c.nodes[i].ID
	err := c.store.Update(c.ctx, func(tx store.Tx) error {
		cur := tx.Node(id)
		if cur == nil {
			return fmt.Errorf("node %s: %w", id, store.ErrNotFound)
		}
		n := cur.Copy()
		n.Spec.Availability = a
		return tx.UpdateNode(n)
	})
	if err != nil {
		return fmt.Errorf("set availability of node %s: %w", id, err)
	}
	return nil
}

// KillContainer makes the container of a task on node i exit with code,
// as if its process ended.
func (c *Cluster) KillContainer(node int, taskID string, code int) error {
	n := c.nodes[node]
	cs, err := n.Runtime.List(c.ctx, runtime.ListFilter{Labels: map[string]string{agent.LabelTask: taskID}})
	if err != nil {
		return fmt.Errorf("kill container of task %s on %s: %w", taskID, n.ID, err)
	}
	for _, ct := range cs {
		if ct.Running() {
			return n.Runtime.Exit(ct.ID, code)
		}
	}
	return fmt.Errorf("kill container of task %s on %s: no running container", taskID, n.ID)
}

// Containers returns every container of every node, by node ID.
func (c *Cluster) Containers() map[string][]*runtime.Container {
	out := make(map[string][]*runtime.Container, len(c.nodes))
	for _, n := range c.nodes {
		out[n.ID] = n.Runtime.Containers()
	}
	return out
}

// fakeLogs reads task logs from the fake runtime of the task's node.
type fakeLogs struct{ c *Cluster }

func (f fakeLogs) TaskLogs(ctx context.Context, t *types.Task, opts runtime.LogOptions, sink func(runtime.LogEntry) error) error {
	i := f.c.NodeIndex(t.NodeID)
	if i < 0 || t.Status.ContainerID == "" {
		return fmt.Errorf("logs of task %s: it has no container on a known node", t.Name())
	}
	return f.c.nodes[i].Runtime.Logs(ctx, t.Status.ContainerID, opts, sink)
}

// link is a node's path to the dispatcher, which Partition can cut.
type link struct {
	session.Manager
	mu  sync.Mutex
	cut bool
	// severed is closed when the link is cut; healing makes a new one.
	severed chan struct{}
}

func newLink(m session.Manager) *link { return &link{Manager: m, severed: make(chan struct{})} }

func (l *link) set(cut bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cut == l.cut {
		return
	}
	l.cut = cut
	if cut {
		close(l.severed)
	} else {
		l.severed = make(chan struct{})
	}
}

// check fails while the link is cut, and otherwise returns the channel
// closed when it is cut.
func (l *link) check() (<-chan struct{}, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cut {
		return nil, fmt.Errorf("sim: the node is cut off from the managers: %w", errdefs.ErrUnavailable)
	}
	return l.severed, nil
}

func (l *link) Register(ctx context.Context, reg session.Registration) error {
	if _, err := l.check(); err != nil {
		return err
	}
	return l.Manager.Register(ctx, reg)
}

func (l *link) UpdateTaskStatus(ctx context.Context, nodeID string, updates []session.StatusUpdate) error {
	if _, err := l.check(); err != nil {
		return err
	}
	return l.Manager.UpdateTaskStatus(ctx, nodeID, updates)
}

func (l *link) Heartbeat(ctx context.Context, nodeID string) (time.Duration, error) {
	if _, err := l.check(); err != nil {
		return 0, err
	}
	return l.Manager.Heartbeat(ctx, nodeID)
}

// Assignments passes the dispatcher's stream on until the link is cut.
func (l *link) Assignments(ctx context.Context, nodeID string) (<-chan *session.Assignment, error) {
	severed, err := l.check()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	in, err := l.Manager.Assignments(ctx, nodeID)
	if err != nil {
		cancel()
		return nil, err
	}
	out := make(chan *session.Assignment)
	go func() {
		defer close(out)
		defer cancel()
		for {
			select {
			case a, ok := <-in:
				if !ok {
					return
				}
				select {
				case out <- a:
				case <-severed:
					return
				case <-ctx.Done():
					return
				}
			case <-severed:
				return
			}
		}
	}()
	return out, nil
}
