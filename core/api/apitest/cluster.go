package apitest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/hiveorch/hive/core/agent"
	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/controlapi"
	"github.com/hiveorch/hive/core/dispatcher"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/leader"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/taskstats"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/scheduler-spread/spread"
	"github.com/hiveorch/hive/plugins/sdk/network"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// JoinTokens is controlapi's, signed by CA.
func (b *Backend) JoinTokens(ctx context.Context) (*api.JoinTokens, error) {
	return call(b, "JoinTokens", func(s *controlapi.Server) (*api.JoinTokens, error) { return b.withCA(s).JoinTokens(ctx) })
}

// RotateJoinToken is controlapi's, signed by CA.
func (b *Backend) RotateJoinToken(ctx context.Context, role types.NodeRole) (*api.JoinTokens, error) {
	return call(b, "RotateJoinToken", func(s *controlapi.Server) (*api.JoinTokens, error) { return b.withCA(s).RotateJoinToken(ctx, role) })
}

// IssueClientCert records the request and is controlapi's, signed by CA.
func (b *Backend) IssueClientCert(ctx context.Context, req api.ClientCertRequest) (*api.ClientCert, error) {
	return call(b, "IssueClientCert", func(s *controlapi.Server) (*api.ClientCert, error) {
		b.mu.Lock()
		b.certReqs = append(b.certReqs, req)
		b.mu.Unlock()
		return b.withCA(s).IssueClientCert(ctx, req)
	})
}

// withCA gives s the CA and the cluster address the test set.
func (b *Backend) withCA(s *controlapi.Server) *controlapi.Server {
	if b.CA != nil {
		s.SetCA(b.CA, b.ClusterAddr)
	}
	return s
}

// Generations returns the join token generations in the cluster record.
func (b *Backend) Generations() types.JoinTokens {
	var g types.JoinTokens
	b.store.View(func(tx store.ReadTx) { g = tx.Cluster().JoinTokens })
	return g
}

// ClientCertRequests returns the client certificate requests received.
func (b *Backend) ClientCertRequests() []api.ClientCertRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.certReqs)
}

// ClusterStatus lists the stored managers as the Raft group, the first by
// ID leading, as the daemon reads it from Raft.
func (b *Backend) ClusterStatus(ctx context.Context) (*api.ClusterStatus, error) {
	return call(b, "ClusterStatus", func(*controlapi.Server) (*api.ClusterStatus, error) {
		st := &api.ClusterStatus{NodeID: b.InfoValue.NodeID, State: "leader", Term: 1}
		var managers []*types.Node
		b.store.View(func(tx store.ReadTx) {
			for _, n := range tx.Nodes() {
				if n.Spec.Role == types.RoleManager {
					managers = append(managers, n)
				}
			}
		})
		sort.Slice(managers, func(i, j int) bool { return managers[i].ID < managers[j].ID })
		for i, n := range managers {
			m := api.ClusterMember{ID: n.ID, Hostname: n.Description.Hostname, Addr: n.Status.Addr, Voter: true,
				Leader: i == 0, Reachable: n.Status.State == types.NodeStateReady}
			if m.Leader {
				st.LeaderID, st.LeaderAddr = n.ID, n.Status.Addr
			}
			st.Members = append(st.Members, m)
		}
		return st, nil
	})
}

// Leave records the call.
func (b *Backend) Leave(ctx context.Context, force bool) error {
	return b.do("Leave", func(*controlapi.Server) error { return nil })
}

// cluster is what AutoRun runs: the leader's controllers (core/leader, but
// node health), the dispatcher and an agent over a fake runtime on each
// node that was not down when it started, as core/sim assembles them, on
// the Backend's sped-up clock.
type cluster struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// runtimes are the nodes' fake runtimes, by node ID.
	runtimes map[string]*runtime.Fake
}

// converge starts the cluster when on and none runs, and stops it when
// off and one runs. b.mu is held.
func (b *Backend) converge(on bool) {
	switch {
	case on && b.cluster == nil:
		b.cluster = b.startCluster()
	case !on && b.cluster != nil:
		b.cluster.cancel()
		b.cluster.wg.Wait()
		b.cluster = nil
	}
}

func (b *Backend) startCluster() *cluster {
	b.server()
	ctx, cancel := context.WithCancel(context.Background())
	c := &cluster{cancel: cancel, runtimes: map[string]*runtime.Fake{}}
	run := func(name string, fn func(context.Context) error) {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				b.Logger.Error("apitest: stopped", "component", name, "error", err)
			}
		}()
	}
	clk, log := b.clock, b.Logger
	disp := dispatcher.New(b.store, clk, log)
	for _, ctl := range leader.Controllers(leader.Deps{Store: b.store, Clock: clk, Logger: log,
		Scheduler: spread.New(log), Heartbeats: disp}) {
		// On the sped-up clock a node's grace period is 150ms of real
		// time, which a loaded test machine can miss: no node goes down.
		if ctl.Name != "nodehealth" {
			run(ctl.Name, ctl.Run)
		}
	}
	var nodes []*types.Node
	b.store.View(func(tx store.ReadTx) { nodes = tx.Nodes() })
	for i, n := range nodes {
		if n.Status.State == types.NodeStateDown {
			continue
		}
		rt := runtime.NewFake()
		c.runtimes[n.ID] = rt
		rt.SetClock(clk.Now)
		rt.AllowAnyImage(b.Images == nil)
		rt.AddImage(b.Images...)
		desc := n.Description
		run("agent", agent.New(agent.Config{
			NodeID: n.ID, Addr: fmt.Sprintf("10.0.0.%d:4242", i+1), Runtime: rt, Manager: disp,
			Describe: func(context.Context) types.NodeDescription { return desc },
			Network:  network.NewFake(), Dataplane: agent.NewMemoryDataplane(),
			Clock: clk, Logger: log.With("node_id", n.ID),
		}).Run)
	}
	return c
}

// speedup is how much faster than the wall clock the Backend's clock
// runs: an update's monitor period of 5s passes in a quarter of a second.
const speedup = 20

// fastClock is the wall clock sped up, from the time it was made.
type fastClock struct {
	real  clock.Real
	start time.Time
}

func newFastClock() *fastClock { return &fastClock{start: clock.Real{}.Now()} }

func (c *fastClock) Now() time.Time {
	return c.start.Add(c.real.Now().Sub(c.start) * speedup)
}

func (c *fastClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.AfterFunc(d, func() { ch <- c.Now() })
	return ch
}

func (c *fastClock) NewTicker(d time.Duration) clock.Ticker {
	return c.real.NewTicker(max(d/speedup, time.Millisecond))
}

func (c *fastClock) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	return c.real.AfterFunc(d/speedup, f)
}

// TaskStats samples tasks on the fake runtime of node nodeID, as a node's
// agent does (controlapi.StatsSource); a node AutoRun does not run cannot
// be reached.
func (b *Backend) TaskStats(ctx context.Context, nodeID string, req taskstats.Request, sink func(taskstats.Sample) error) error {
	b.mu.Lock()
	var rt *runtime.Fake
	if b.cluster != nil {
		rt = b.cluster.runtimes[nodeID]
	}
	b.mu.Unlock()
	if rt == nil {
		return errdefs.Newf(errdefs.ErrUnavailable, "node %s does not answer", nodeID)
	}
	return taskstats.Collect(ctx, b.clock, rt.Stats, req, sink)
}
