package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hiveorch/hive/core/networks"
	"github.com/hiveorch/hive/core/networks/dns"
	"github.com/hiveorch/hive/core/networks/vip"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/network"
)

// netAgent is the node's side of the overlay networks. From the view the
// managers stream (networks.NodeView) it keeps the network plugin in line
// (the networks of the node's tasks and their peers on other nodes), and
// for each running task on a network it keeps an attachment, a resolver
// at 127.0.0.11:53 and the virtual IP rules in the task's namespace.
//
// The runners call attach once a task's container runs and before the
// task is reported running, and release once it no longer runs; the
// reconcile loop does the rest whenever the view changes, and repairs
// what the plugin lost every resyncNetworks.
type netAgent struct {
	a        *Agent
	drv      network.Driver
	dp       Dataplane
	upstream []string
	log      *slog.Logger

	// drvMu serialises the calls to the driver: hive never calls it
	// concurrently for one network.
	drvMu sync.Mutex

	mu    sync.Mutex
	view  *networks.NodeView
	table *dns.Table
	// got is closed once the first view has arrived.
	got      chan struct{}
	gotOnce  sync.Once
	attached map[string]*taskNet
	kick     chan struct{}
}

// taskNet is what the agent keeps up for one running task on networks.
type taskNet struct {
	task  *types.Task
	netns string
	// stop ends the task's resolver; done is closed once it stopped.
	stop  context.CancelFunc
	done  chan struct{}
	rules vip.Rules
}

// resyncNetworks is how often the reconcile loop runs without a change,
// to repair what the plugin or the kernel lost.
const resyncNetworks = 30 * time.Second

func newNetAgent(a *Agent, drv network.Driver, dp Dataplane, upstream []string) *netAgent {
	return &netAgent{
		a: a, drv: drv, dp: dp, upstream: upstream, log: a.logger,
		got: make(chan struct{}), attached: map[string]*taskNet{}, kick: make(chan struct{}, 1),
	}
}

// NodeResolvers returns the nameservers of the node's /etc/resolv.conf:
// where the tasks' resolvers forward the names that are not hive's.
func NodeResolvers() []string {
	b, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			out = append(out, f[1])
		}
	}
	return out
}

// setView takes in the managers' latest view.
func (n *netAgent) setView(v *networks.NodeView) {
	if v == nil {
		v = &networks.NodeView{}
	}
	table := dns.Build(v.Services, v.Tasks, v.Networks)
	n.mu.Lock()
	n.view, n.table = v, table
	n.mu.Unlock()
	n.gotOnce.Do(func() { close(n.got) })
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

func (n *netAgent) current() (*networks.NodeView, *dns.Table) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.view, n.table
}

// errNoView: the managers' view of the task's networks has not arrived,
// or does not hold a network of the task yet. The caller tries again.
var errNoView = fmt.Errorf("the managers have not sent this node the task's networks yet: %w", sdk.ErrUnavailable)

// driverNetwork is what the driver is told of a network: the options
// hive knows (the MTU) become fields, so a driver sees only its own.
func driverNetwork(nw *types.Network) network.Network {
	opts := maps.Clone(nw.Spec.Options)
	delete(opts, types.OptionMTU)
	delete(opts, types.OptionDockerMTU)
	if len(opts) == 0 {
		opts = nil
	}
	return network.Network{
		ID: nw.ID, Name: nw.Spec.Name, VNI: nw.VNI, Subnet: nw.Subnet, Gateway: nw.Gateway,
		MTU: nw.Spec.MTU(), Internal: nw.Spec.Internal, Options: opts,
	}
}

// attach connects a running task to its networks: the node's part of
// each network, its peers, the task's interface, its resolver and its
// virtual IP rules. It is idempotent: a task adopted after a restart is
// attached again, which repairs what the plugin holds. Errors wrapping
// sdk.ErrUnavailable are worth retrying.
func (n *netAgent) attach(ctx context.Context, t *types.Task, pid int) error {
	if len(t.Networks) == 0 {
		return nil
	}
	if n.drv == nil {
		return errors.New("this node runs no network plugin (plugins.network): it cannot run tasks on networks")
	}
	if pid <= 0 {
		return fmt.Errorf("the runtime reported no process for the task's container: %w", sdk.ErrUnavailable)
	}
	select {
	case <-n.got:
	case <-ctx.Done():
		return ctx.Err()
	}
	view, _ := n.current()
	netns := fmt.Sprintf("/proc/%d/ns/net", pid)
	n.drvMu.Lock()
	for _, att := range t.Networks {
		nw := view.Network(att.NetworkID)
		if nw == nil || len(att.Addresses) == 0 {
			n.drvMu.Unlock()
			return errNoView
		}
		if err := n.drv.EnsureNetwork(ctx, driverNetwork(nw)); err != nil {
			n.drvMu.Unlock()
			return fmt.Errorf("network %s: %w", nw.Spec.Name, err)
		}
		if err := n.drv.SetPeers(ctx, nw.ID, view.Peers(nw.ID, n.a.nodeID)); err != nil {
			n.drvMu.Unlock()
			return fmt.Errorf("network %s: peers: %w", nw.Spec.Name, err)
		}
		addr := att.Addresses[0]
		_, err := n.drv.Attach(ctx, network.Attachment{
			NetworkID: nw.ID, TaskID: t.ID, Netns: netns, Address: addr, MAC: network.MACFor(addr.Addr()),
		})
		if err != nil {
			n.drvMu.Unlock()
			return fmt.Errorf("attach to network %s: %w", nw.Spec.Name, err)
		}
	}
	n.drvMu.Unlock()

	n.mu.Lock()
	tn := n.attached[t.ID]
	if tn != nil && tn.netns != netns {
		n.mu.Unlock()
		n.release(t.ID) // a new container of the same task
		n.mu.Lock()
		tn = nil
	}
	if tn == nil {
		tn = &taskNet{netns: netns}
		n.attached[t.ID] = tn
	}
	tn.task = t
	needResolver := tn.stop == nil
	n.mu.Unlock()

	if needResolver {
		if err := n.startResolver(t, tn); err != nil {
			return err
		}
	}
	return n.syncRules(tn)
}

// startResolver serves the task's names at 127.0.0.11:53 in its
// namespace until release stops it.
func (n *netAgent) startResolver(t *types.Task, tn *taskNet) error {
	nets := t.NetworkIDs()
	lookup := func(name string) ([]netip.Addr, bool) {
		_, table := n.current()
		return table.Lookup(nets, name)
	}
	srv, err := dns.NewServer(lookup, n.upstream, n.a.clock, n.log.With("task_id", t.ID))
	if err != nil {
		return err
	}
	conn, ln, err := n.dp.ListenResolver(tn.netns)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ctx, conn, ln); err != nil {
			n.log.Warn("the task's resolver stopped", "task_id", t.ID, "error", err)
		}
	}()
	n.mu.Lock()
	tn.stop, tn.done = cancel, done
	n.mu.Unlock()
	return nil
}

// syncRules programs the task's virtual IP rules from the current view
// when they changed.
func (n *netAgent) syncRules(tn *taskNet) error {
	view, _ := n.current()
	n.mu.Lock()
	t, last := tn.task, tn.rules
	n.mu.Unlock()
	rules := vip.Build(t, view.Services, view.Tasks, view.Networks)
	if last != nil && rules.Equal(last) {
		return nil
	}
	if err := n.dp.ApplyRules(tn.netns, rules); err != nil {
		return err
	}
	n.mu.Lock()
	tn.rules = rules
	n.mu.Unlock()
	return nil
}

// release stops the task's resolver and takes its interfaces from its
// networks. Releasing a task that is not attached does nothing.
func (n *netAgent) release(taskID string) {
	n.mu.Lock()
	tn := n.attached[taskID]
	delete(n.attached, taskID)
	n.mu.Unlock()
	if tn == nil {
		return
	}
	if tn.stop != nil {
		tn.stop()
		<-tn.done
	}
	if n.drv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.drvMu.Lock()
		for _, id := range tn.task.NetworkIDs() {
			if err := n.drv.Detach(ctx, id, taskID); err != nil {
				n.log.Warn("detach the task from its network failed; the next reconcile retries", "task_id", taskID, "network_id", id, "error", err)
			}
		}
		n.drvMu.Unlock()
	}
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// run reconciles whenever the view changes, and every resyncNetworks,
// until ctx is done; a failed pass is tried again with back-off. On
// return every task's resolver is stopped (the attachments stay: the next
// agent adopts them).
func (n *netAgent) run(ctx context.Context) {
	defer func() {
		n.mu.Lock()
		ids := slices.Collect(maps.Keys(n.attached))
		n.mu.Unlock()
		for _, id := range ids {
			n.mu.Lock()
			tn := n.attached[id]
			n.mu.Unlock()
			if tn != nil && tn.stop != nil {
				tn.stop()
				<-tn.done
			}
		}
	}()
	select {
	case <-n.got:
	case <-ctx.Done():
		return
	}
	backoff := minBackoff
	for {
		wait := resyncNetworks
		if err := n.reconcile(ctx); err != nil && ctx.Err() == nil {
			n.log.Warn("networks: reconcile failed; retrying", "error", err, "retry_in", backoff)
			wait = backoff
			backoff = min(backoff*2, maxBackoff)
		} else {
			backoff = minBackoff
		}
		select {
		case <-ctx.Done():
			return
		case <-n.kick:
		case <-n.a.clock.After(wait):
		}
	}
}

// reconcile brings the plugin and the attached tasks in line with the
// view: every network of the view made, with its peers; every attached
// task's rules current; networks no task here needs removed, and
// attachments of tasks this agent no longer runs detached.
func (n *netAgent) reconcile(ctx context.Context) error {
	if n.drv == nil {
		return nil
	}
	view, _ := n.current()
	var errs []error
	n.drvMu.Lock()
	for _, nw := range view.Networks {
		if err := n.drv.EnsureNetwork(ctx, driverNetwork(nw)); err != nil {
			errs = append(errs, fmt.Errorf("network %s: %w", nw.Spec.Name, err))
			continue
		}
		if err := n.drv.SetPeers(ctx, nw.ID, view.Peers(nw.ID, n.a.nodeID)); err != nil {
			errs = append(errs, fmt.Errorf("network %s: peers: %w", nw.Spec.Name, err))
		}
	}
	have, err := n.drv.List(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("list the plugin's networks: %w", err))
	}
	n.mu.Lock()
	attached := make(map[string]*taskNet, len(n.attached))
	maps.Copy(attached, n.attached)
	n.mu.Unlock()
	for _, st := range have {
		if view.Network(st.Network.ID) == nil {
			if err := n.drv.RemoveNetwork(ctx, st.Network.ID); err != nil {
				errs = append(errs, fmt.Errorf("remove network %s: %w", st.Network.Name, err))
			} else {
				n.log.Info("removed a network no task of this node needs", "network_id", st.Network.ID, "name", st.Network.Name)
			}
			continue
		}
		for _, att := range st.Attachments {
			if _, ok := attached[att.TaskID]; ok || n.a.hasRunner(att.TaskID) {
				continue
			}
			if err := n.drv.Detach(ctx, st.Network.ID, att.TaskID); err != nil {
				errs = append(errs, fmt.Errorf("detach task %s: %w", att.TaskID, err))
			}
		}
	}
	n.drvMu.Unlock()
	for id, tn := range attached {
		if err := n.syncRules(tn); errors.Is(err, errNetnsGone) {
			continue // its container just ended: its runner releases it
		} else if err != nil {
			errs = append(errs, fmt.Errorf("virtual IPs of task %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}
