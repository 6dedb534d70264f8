package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"

	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/controlapi"
	"github.com/hiveorch/hive/core/dispatcher"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/identity"
	"github.com/hiveorch/hive/core/ipam"
	"github.com/hiveorch/hive/core/join"
	"github.com/hiveorch/hive/core/pluginhost"
	"github.com/hiveorch/hive/core/rpc"
	"github.com/hiveorch/hive/core/secrets"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/transport"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk"
)

// startManager opens this manager's Raft store and starts what only
// managers run: the dispatcher and manager RPC services, the join service,
// the control API and the leader's controllers. API reads wait (briefly)
// until the local state is current. The returned func closes the store.
func (d *daemon) startManager(ctx context.Context, rpcSrv *grpc.Server, fresh bool) (func(), error) {
	caughtUp := make(chan struct{})
	var once sync.Once
	current := func() { once.Do(func() { close(caughtUp) }) }
	advertise, err := resolveTCP(d.addr)
	if err != nil {
		return nil, err
	}
	layer := transport.NewRaftLayer(d.mux, advertise, d.id.ClientTLS())
	trans := raft.NewNetworkTransportWithLogger(layer, 3, 10*time.Second, nil)
	cfg := d.cfg
	d.store, err = store.Open(store.Config{
		DataDir: cfg.DataDir, NodeID: d.state.NodeID, Addr: d.addr, Transport: trans, Bootstrap: fresh,
		HeartbeatTimeout: cfg.Raft.HeartbeatTimeout, ElectionTimeout: cfg.Raft.ElectionTimeout,
		SnapshotThreshold: cfg.Raft.SnapshotThreshold, SnapshotInterval: cfg.Raft.SnapshotInterval,
		Forward: rpc.ForwardTo(d.pool, func() (string, string) { return d.store.Leader() }),
		Clock:   d.clock, Logger: d.logger.With("component", "store"),
	})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	closeStore := func() {
		if err := d.store.Snapshot(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
			d.logger.Debug("final snapshot skipped", "error", err)
		}
		d.store.Close()
	}

	d.dispatcher = dispatcher.New(d.store, d.clock, d.logger.With("component", "dispatcher"))
	d.dispatcher.RefuseUnknownNodes = true
	d.control = controlapi.New(d.store, d.clock, d.state.NodeID, caughtUp, d, d.logger.With("component", "api"))
	d.control.SetCA(d.id.Root(), d.addr)
	d.control.SetStatsSource(d)
	if d.dek != nil {
		d.control.SetDataKey(d.dek)
	}
	if p := cfg.Networks.DefaultPool; p.IsValid() {
		if err := d.control.SetNetworkPool(ipam.Pool{Prefix: p, Size: cfg.Networks.DefaultSize}); err != nil {
			closeStore()
			return nil, fmt.Errorf("networks.default_pool: %w", err)
		}
	}
	d.opener = secrets.NewOpener(d.store, d.dek)
	// Driver-backed secrets (hive secret create --driver NAME) are read,
	// when a task needs one, through the secrets plugins of plugins.secrets.
	drivers, err := d.plugins.SecretDrivers(ctx, cfg.Plugins.Secrets, cfg.Plugins.Config)
	if err != nil {
		closeStore()
		return nil, err
	}
	d.opener.DriverFetch = drivers.Fetch
	d.control.SetSecretDriverCheck(checkSecretDriver(drivers, d.clock))
	// The dispatcher sends a node the values its tasks need: secrets
	// unsealed (or asked of their driver) by the opener, configs from the
	// store.
	d.dispatcher.Values = dispatcher.StoreSource{Store: d.store, Secrets: d.opener}
	rpc.RegisterDispatcher(rpcSrv, d.dispatcher)
	rpc.RegisterManager(rpcSrv, d.store, d.renewCert)

	joinSrv, err := join.NewServer(join.Config{
		Root: d.id.Root(), Admit: d.admit, Clock: d.clock, Logger: d.logger.With("component", "join"),
		DataKey: d.dataKeyBytes,
		Cluster: func(ctx context.Context) (*types.Cluster, error) {
			var c *types.Cluster
			d.store.View(func(tx store.ReadTx) { c = tx.Cluster().Copy() })
			return c, nil
		},
	})
	if err != nil {
		closeStore()
		return nil, err
	}
	joinLn := d.mux.Listener(transport.ProtoJoin, true)
	d.startEvents()
	d.run("join", func(ctx context.Context) error { return joinSrv.Serve(ctx, joinLn) })
	d.run("leader", func(ctx context.Context) error { return d.leadership(ctx, current) })
	d.run("keys", d.watchKeys)
	d.run("caught-up", func(ctx context.Context) error { return d.awaitCaughtUp(ctx, current) })
	if !fresh {
		d.run("voter", d.ensureVoter)
	}
	return closeStore, nil
}

// awaitCaughtUp calls current once a follower's store has applied what
// the leader committed. A leader calls it itself, once the cluster records
// exist (lead).
func (d *daemon) awaitCaughtUp(ctx context.Context, current func()) error {
	tick := d.clock.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for d.store.IsLeader() || !d.store.CaughtUp() {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C():
		}
	}
	current()
	return nil
}

// ensureVoter makes sure this manager is a Raft voter: a manager that
// joined, or was promoted, asks the leader to add it once its own Raft is
// up, so that the cluster's quorum never counts a manager that is not
// there yet.
func (d *daemon) ensureVoter(ctx context.Context) error {
	backoff := 200 * time.Millisecond
	for {
		done, err := d.tryAddSelf(ctx)
		if done {
			return nil
		}
		if err != nil {
			d.logger.Debug("cannot become a voter yet", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-d.clock.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (d *daemon) tryAddSelf(ctx context.Context) (bool, error) {
	if slices.ContainsFunc(d.store.Members(), func(m store.Member) bool { return m.ID == d.state.NodeID && m.Voter }) {
		return true, nil
	}
	_, addr := d.store.Leader()
	if addr == "" {
		for _, m := range d.state.Managers {
			if m != d.addr {
				addr = m
				break
			}
		}
	}
	if addr == "" {
		return false, errors.New("no leader known")
	}
	cc, err := d.pool.Conn(addr)
	if err != nil {
		return false, err
	}
	cctx, cancel := clock.WithTimeout(ctx, d.clock, 5*time.Second)
	defer cancel()
	if err := rpc.NewManagerClient(cc).AddVoter(cctx, d.state.NodeID, d.addr); err != nil {
		return false, err
	}
	d.logger.Info("this manager is now a Raft voter")
	return true, nil
}

// admit registers a node that presented a valid join token.
func (d *daemon) admit(ctx context.Context, role types.NodeRole, hostname, addr string) (string, []string, error) {
	id := identity.NewID()
	var managers []string
	err := d.control.Write(ctx, func(tx store.Tx) error {
		for _, n := range tx.Nodes() {
			if n.Status.Addr == addr && n.Status.State == types.NodeStateReady {
				return fmt.Errorf("%w: node %s (%s) already answers at %s: give the new node another --advertise-addr, or remove the old one with 'hive node rm'", errdefs.ErrConflict, shortID(n.ID), n.Description.Hostname, addr)
			}
		}
		if err := tx.CreateNode(&types.Node{
			ID:          id,
			Spec:        types.NodeSpec{Role: role, Availability: types.AvailabilityActive},
			Description: types.NodeDescription{Hostname: hostname},
			Status:      types.NodeStatus{State: types.NodeStateUnknown, Addr: addr},
		}); err != nil {
			return err
		}
		managers = managerAddrs(tx.Nodes())
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	d.logger.Info("node admitted", "joined_node_id", id, "role", role, "hostname", hostname, "addr", addr)
	return id, managers, nil
}

func managerAddrs(nodes []*types.Node) []string {
	var out []string
	for _, n := range nodes {
		if n.Spec.Role == types.RoleManager && n.Status.Addr != "" {
			out = append(out, n.Status.Addr)
		}
	}
	slices.Sort(out)
	return out
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// renewCert is the RenewCert RPC: a certificate for the calling node, in
// the role the cluster gives it now.
func (d *daemon) renewCert(ctx context.Context, peer ca.Peer, pubPEM []byte) (*rpc.Renewal, error) {
	var node *types.Node
	var cluster *types.Cluster
	d.store.View(func(tx store.ReadTx) { node, cluster = tx.Node(peer.ID), tx.Cluster() })
	r, err := join.Renew(d.id.Root(), cluster, node, peer, pubPEM, d.clock.Now())
	if err != nil {
		return nil, err
	}
	out := &rpc.Renewal{Role: r.Role, CertPEM: r.CertPEM, CAKeyPEM: r.CAKeyPEM}
	if r.Role == types.RoleManager {
		out.DataKey = d.dataKeyBytes()
	}
	return out, nil
}

// removeRaftState deletes the Raft files of a node that is no longer a
// manager (demoted), so that a later promotion starts from the leader's
// state rather than from a stale log.
func removeRaftState(dataDir string, logger interface{ Info(string, ...any) }) {
	dir := filepath.Join(dataDir, "raft")
	if _, err := os.Stat(dir); err != nil {
		return
	}
	if err := os.RemoveAll(dir); err == nil {
		logger.Info("removed the Raft state of this former manager", "dir", dir)
	}
}

// ensureCluster creates the cluster record and this manager's node record
// on a new cluster, and applies the configured task history limit and
// certificate expiry.
func (d *daemon) ensureCluster(ctx context.Context) error {
	dctx, cancel := clock.WithTimeout(ctx, d.clock, 200*time.Millisecond)
	desc := d.describe(dctx)
	cancel()
	expiry := types.Duration(d.cfg.CA.CertExpiry)
	return d.store.Update(ctx, func(tx store.Tx) error {
		c := tx.Cluster()
		if c == nil {
			if err := tx.CreateCluster(&types.Cluster{ID: types.ClusterID, CreatedBy: d.state.NodeID,
				Spec: types.ClusterSpec{TaskHistoryLimit: d.cfg.Tasks.HistoryLimit}, CertExpiry: expiry}); err != nil {
				return err
			}
		} else if c.Spec.TaskHistoryLimit != d.cfg.Tasks.HistoryLimit || c.CertExpiry != expiry {
			nc := c.Copy()
			nc.Spec.TaskHistoryLimit = d.cfg.Tasks.HistoryLimit
			nc.CertExpiry = expiry
			if err := tx.UpdateCluster(nc); err != nil {
				return err
			}
		}
		if tx.Node(d.state.NodeID) == nil {
			return tx.CreateNode(&types.Node{
				ID:          d.state.NodeID,
				Spec:        types.NodeSpec{Role: types.RoleManager, Availability: types.AvailabilityActive},
				Description: desc,
				Status:      types.NodeStatus{State: types.NodeStateUnknown, Addr: d.addr},
			})
		}
		return nil
	})
}

// checkSecretDriver vets a new driver-backed secret on this manager: its
// driver must be one of plugins.secrets, and the plugin must accept its
// options. The value read to check them is dropped at once; a store or
// plugin that is down does not refuse the secret (tasks wait for it).
func checkSecretDriver(drivers *pluginhost.SecretDrivers, clk clock.Clock) controlapi.DriverCheck {
	return func(ctx context.Context, d types.Driver) error {
		if !slices.Contains(drivers.Drivers(), d.Name) {
			_, err := drivers.Fetch(ctx, d) // says which drivers run and how to add one
			return err
		}
		ctx, cancel := clock.WithTimeout(ctx, clk, 10*time.Second)
		defer cancel()
		_, err := drivers.Fetch(ctx, d)
		if errors.Is(err, sdk.ErrInvalidArgument) {
			return err
		}
		return nil
	}
}
