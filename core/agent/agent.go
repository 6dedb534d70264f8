// Package agent runs on every node. It keeps a session with the managers
// (session.Manager), receives the node's assigned tasks, drives each
// through the runtime plugin with a small per-task state machine (runner),
// and reports statuses back in batches. The values of a task's secrets and
// configs come with the assignments and reach its container through a
// tmpfs of the task's own, never a disk.
//
// A task whose container has a health check stays "starting" until the
// runtime reports it healthy, and fails ("task: unhealthy container") with
// its container stopped when it turns unhealthy, so that only healthy
// tasks count as running for the routing mesh and for rolling updates. A
// running task published through the routing mesh that is told to stop
// waits DrainDelay first, for the meshes to stop sending it connections.
//
// After a restart the agent adopts what already runs: it lists the
// containers labelled with its node ID and hands each task its container,
// so a running task is waited on, never restarted or duplicated. Containers
// of this node that belong to no assigned task are removed. Containers of
// other nodes sharing the engine are never touched.
package agent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/session"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/network"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// Config configures an agent.
type Config struct {
	NodeID string
	// Addr is the node's advertised cluster address.
	Addr    string
	Runtime runtime.Runtime
	Manager session.Manager
	// Describe returns what the node reports of itself at registration.
	Describe func(ctx context.Context) types.NodeDescription
	// HostIP is the address host-mode published ports bind on ("" = all).
	HostIP string
	// SweepInterval is how often orphaned containers are looked for.
	SweepInterval time.Duration
	// DrainDelay is how long a running task with a port published through
	// the routing mesh, or on a network, waits, once told to stop, before
	// its container is stopped: the time for the meshes and the virtual
	// IP rules of every node to stop sending it connections.
	// Zero means DefaultDrainDelay.
	DrainDelay time.Duration
	// SecretsDir is where the agent mounts a tmpfs per task for the
	// files of its secrets and configs: under the node's runtime
	// directory (/run/hive/<node-id>/secrets), never the data directory.
	// Empty rejects tasks that reference secrets or configs.
	SecretsDir string
	// Network is the node's network plugin; nil rejects tasks on
	// networks.
	Network network.Driver
	// Dataplane programs the tasks' namespaces; nil is KernelDataplane.
	Dataplane Dataplane
	// Resolvers are where the tasks' resolvers forward the names that are
	// not hive's: the node's nameservers (NodeResolvers).
	Resolvers []string
	// RuntimeTrouble says what is wrong with the runtime plugin (unhealthy,
	// with its health check's error), "" when nothing is known to be; nil
	// knows nothing. A node whose runtime does not answer registers with
	// it as the reason, in preference to the failed call's error.
	RuntimeTrouble func() string
	Clock          clock.Clock
	Logger         *slog.Logger
}

// DefaultDrainDelay is the DrainDelay of an agent configured with none.
const DefaultDrainDelay = 500 * time.Millisecond

// Agent is a node's task executor.
type Agent struct {
	nodeID   string
	addr     string
	rt       runtime.Runtime
	mgr      session.Manager
	describe func(ctx context.Context) types.NodeDescription
	trouble  func() string
	hostIP   string
	sweep    time.Duration
	drain    time.Duration
	clock    clock.Clock
	logger   *slog.Logger
	reporter *reporter
	// values are the secrets' and configs' values the managers sent, in
	// memory only; files writes them to each task's tmpfs.
	values values
	files  *taskFiles
	// nets keeps the tasks' networks, resolvers and virtual IPs.
	nets *netAgent

	// started is when Run began.
	started time.Time

	mu      sync.Mutex
	runners map[string]*runner
	// hostname is the node's, as it registered; container hostname
	// templates may name it.
	hostname string
	wg       sync.WaitGroup
}

// New returns an agent.
func New(cfg Config) *Agent {
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = time.Minute
	}
	if cfg.DrainDelay == 0 {
		cfg.DrainDelay = DefaultDrainDelay
	}
	logger := cfg.Logger
	a := &Agent{
		nodeID: cfg.NodeID, addr: cfg.Addr, rt: cfg.Runtime, mgr: cfg.Manager, describe: cfg.Describe, trouble: cfg.RuntimeTrouble,
		hostIP: cfg.HostIP, sweep: cfg.SweepInterval, drain: cfg.DrainDelay, clock: cfg.Clock, logger: logger,
		reporter: newReporter(cfg.NodeID, cfg.Manager, cfg.Clock, logger),
		runners:  map[string]*runner{},
		files:    &taskFiles{root: cfg.SecretsDir},
	}
	dp := cfg.Dataplane
	if dp == nil {
		dp = KernelDataplane{}
	}
	a.nets = newNetAgent(a, cfg.Network, dp, cfg.Resolvers)
	return a
}

// host is what a task's container spec needs of this node.
func (a *Agent) host() Host {
	a.mu.Lock()
	defer a.mu.Unlock()
	return Host{IP: a.hostIP, Hostname: a.hostname}
}

// startupGrace is how long after start the agent's waits (the runtime
// plugin starting, the first election) are expected and logged at debug.
const startupGrace = 10 * time.Second

// startupLevel is the level of a wait that is normal while the node
// starts and worth a warning afterwards.
func (a *Agent) startupLevel() slog.Level {
	if a.clock.Now().Sub(a.started) < startupGrace {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

// Run runs the agent until ctx is done. Task containers are left as they
// are when it returns: the next agent on this node adopts them.
func (a *Agent) Run(ctx context.Context) error {
	a.started = a.clock.Now()
	defer a.wg.Wait()
	existing, err := a.listOwn(ctx)
	if err != nil {
		return nil // ctx done
	}
	a.logger.Info("agent started", "adoptable_containers", len(existing))
	a.wg.Add(2)
	go func() {
		defer a.wg.Done()
		a.reporter.run(ctx)
	}()
	go func() {
		defer a.wg.Done()
		a.nets.run(ctx)
	}()
	backoff := minBackoff
	for ctx.Err() == nil {
		if err := a.session(ctx, existing); err != nil && ctx.Err() == nil {
			a.logger.Log(ctx, a.startupLevel(), "session with the managers ended; reconnecting", "error", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
			case <-a.clock.After(backoff):
			}
			backoff = min(backoff*2, maxBackoff)
			continue
		}
		backoff = minBackoff
		existing = nil
	}
	return nil
}

// unavailableAfter is how long the runtime may fail to answer at start
// before the node registers as unable to run tasks (a plugin that starts
// answers well within it).
const unavailableAfter = 2 * time.Second

// listOwn lists this node's containers, retrying until the runtime answers.
// While it does not, past unavailableAfter, the node registers as unable
// to run tasks with the runtime's error, once per distinct error, so that
// node ls and the reasons of pending tasks say why.
func (a *Agent) listOwn(ctx context.Context) (map[string]*runtime.Container, error) {
	backoff := minBackoff
	reported := ""
	for {
		cs, err := a.rt.List(ctx, runtime.ListFilter{Labels: map[string]string{LabelNode: a.nodeID}})
		if err == nil {
			out := map[string]*runtime.Container{}
			for _, c := range cs {
				if id := c.Labels[LabelTask]; id != "" {
					out[id] = c
				}
			}
			return out, nil
		}
		a.logger.Log(ctx, a.startupLevel(), "cannot list containers yet; waiting for the runtime plugin", "error", err)
		if reason := a.unavailable(err); reason != reported && a.clock.Now().Sub(a.started) >= unavailableAfter {
			if a.registerUnavailable(ctx, reason) {
				reported = reason
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-a.clock.After(backoff):
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// unavailable is why the node cannot run tasks when a runtime call failed
// with err: what is known to be wrong with the runtime plugin, else the
// error.
func (a *Agent) unavailable(err error) string {
	if a.trouble != nil {
		if msg := a.trouble(); msg != "" {
			return msg
		}
	}
	return "the runtime does not answer: " + err.Error()
}

// registerUnavailable registers the node as unable to run tasks for
// reason, and reports whether the managers took it (they may not yet have
// a leader: the caller tries again later).
func (a *Agent) registerUnavailable(ctx context.Context, reason string) bool {
	err := a.mgr.Register(ctx, session.Registration{NodeID: a.nodeID, Addr: a.addr, Description: a.describe(ctx), Unavailable: reason})
	if err != nil {
		a.logger.Debug("cannot register the node as unable to run tasks yet", "error", err)
		return false
	}
	return true
}

// session registers the node and follows its assignments until the
// session ends.
func (a *Agent) session(ctx context.Context, existing map[string]*runtime.Container) error {
	desc := a.describe(ctx)
	if err := a.mgr.Register(ctx, session.Registration{NodeID: a.nodeID, Addr: a.addr, Description: desc}); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	a.mu.Lock()
	a.hostname = desc.Hostname
	a.mu.Unlock()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sets, err := a.mgr.Assignments(sctx, a.nodeID)
	if err != nil {
		return fmt.Errorf("subscribe to assignments: %w", err)
	}
	hbErr := make(chan error, 1)
	go func() { hbErr <- a.heartbeats(sctx) }()
	sweep := a.clock.NewTicker(a.sweep)
	defer sweep.Stop()
	first := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-hbErr:
			return err
		case as, ok := <-sets:
			if !ok {
				return fmt.Errorf("assignment stream closed")
			}
			a.values.set(as)
			a.nets.setView(as.Networks)
			a.apply(ctx, as.Tasks, existing)
			if first {
				first = false
				a.sweepOrphans(ctx)
			}
			existing = nil
		case <-sweep.C():
			a.sweepOrphans(ctx)
		}
	}
}

func (a *Agent) heartbeats(ctx context.Context) error {
	for {
		period, err := a.mgr.Heartbeat(ctx, a.nodeID)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("heartbeat: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-a.clock.After(period):
		}
	}
}

// apply starts runners for new tasks, updates the others, and stops the
// runners of tasks no longer assigned.
func (a *Agent) apply(ctx context.Context, set []*types.Task, existing map[string]*runtime.Container) {
	a.mu.Lock()
	defer a.mu.Unlock()
	seen := make(map[string]bool, len(set))
	for _, t := range set {
		seen[t.ID] = true
		if r, ok := a.runners[t.ID]; ok {
			r.update(t)
			continue
		}
		r := newRunner(a, t, existing[t.ID])
		a.runners[t.ID] = r
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			r.run(ctx, t)
			a.mu.Lock()
			if a.runners[t.ID] == r {
				delete(a.runners, t.ID)
			}
			a.mu.Unlock()
		}()
	}
	for id, r := range a.runners {
		if !seen[id] {
			r.remove()
		}
	}
}

// sweepOrphans removes this node's containers, and the tmpfs of secrets
// and configs, that belong to no task the agent runs.
func (a *Agent) sweepOrphans(ctx context.Context) {
	a.sweepFiles()
	cs, err := a.rt.List(ctx, runtime.ListFilter{Labels: map[string]string{LabelNode: a.nodeID}})
	if err != nil {
		a.logger.Debug("orphan sweep skipped", "error", err)
		return
	}
	a.mu.Lock()
	var orphans []*runtime.Container
	for _, c := range cs {
		if _, ok := a.runners[c.Labels[LabelTask]]; !ok {
			orphans = append(orphans, c)
		}
	}
	a.mu.Unlock()
	for _, c := range orphans {
		a.logger.Info("removing orphaned container", "container_id", c.ID, "task_id", c.Labels[LabelTask])
		if err := a.rt.Remove(ctx, c.ID, runtime.RemoveOptions{Force: true}); err != nil {
			a.logger.Warn("remove orphaned container failed", "container_id", c.ID, "error", err)
		}
	}
}

// sweepFiles unmounts the secrets' and configs' tmpfs of tasks that have
// no runner: left by tasks that ended while the agent was down.
func (a *Agent) sweepFiles() {
	ids, err := a.files.tasks()
	if err != nil {
		a.logger.Warn("cannot list the tasks' secret directories", "error", err)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, id := range ids {
		if _, ok := a.runners[id]; ok {
			continue
		}
		if err := a.files.release(id); err != nil {
			a.logger.Warn("cannot remove the secrets of a task that is gone", "task_id", id, "error", err)
			continue
		}
		a.logger.Info("removed the secrets and configs of a task that is gone", "task_id", id)
	}
}

// hasRunner reports whether the agent runs the task.
func (a *Agent) hasRunner(taskID string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.runners[taskID]
	return ok
}

// findContainer returns the container of a task, or nil.
func (a *Agent) findContainer(ctx context.Context, taskID string) (*runtime.Container, error) {
	cs, err := a.rt.List(ctx, runtime.ListFilter{Labels: map[string]string{LabelNode: a.nodeID, LabelTask: taskID}})
	if err != nil || len(cs) == 0 {
		return nil, err
	}
	return cs[0], nil
}

// hasFiles reports whether a task has a directory for its secrets and
// configs (mounted by an earlier run of the agent, say).
func (a *Agent) hasFiles(taskID string) bool {
	if a.files.root == "" {
		return false
	}
	_, err := os.Stat(a.files.dir(taskID))
	return err == nil
}
