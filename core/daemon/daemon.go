// Package daemon is `hive up`: it assembles one node of a cluster from
// core's parts and runs it until told to stop. A node here is a manager
// (Raft store, leader-only controllers, dispatcher, API) and a worker
// (agent, routing mesh) in one process, with the runtime and scheduler
// plugins as supervised subprocesses.
//
// Stopping the daemon (signal or `hive down`) leaves task containers
// running: the next `hive up` on the same data directory adopts them.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hiveorch/hive/config"
	"github.com/hiveorch/hive/core/agent"
	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/controlapi"
	"github.com/hiveorch/hive/core/dispatcher"
	"github.com/hiveorch/hive/core/mesh"
	"github.com/hiveorch/hive/core/pluginhost"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/transport"
	"github.com/hiveorch/hive/core/types"

	"github.com/hashicorp/raft"
)

// Options configure a daemon.
type Options struct {
	Config *config.Config
	// Executable is the hive binary, which serves the built-in plugins.
	Executable string
	// Builtins are the built-in plugin names.
	Builtins []string
	Logger   *slog.Logger
	// Ready, when set, is closed once the API answers.
	Ready chan<- struct{}
}

type daemon struct {
	cfg     *config.Config
	logger  *slog.Logger
	clock   clock.Clock
	state   nodeState
	root    *ca.Root
	started time.Time
	addr    string

	store      *store.Store
	plugins    *pluginhost.Host
	runtime    *pluginhost.Runtime
	scheduler  *pluginhost.Scheduler
	dispatcher *dispatcher.Dispatcher
	control    *controlapi.Server
	mesh       *mesh.Mesh

	stop     context.CancelFunc
	stopOnce sync.Once
}

// Run starts the node and blocks until ctx is done or the API asks it to
// stop. It returns an error when the node cannot start.
func Run(ctx context.Context, opts Options) (err error) {
	cfg := opts.Config
	d := &daemon{cfg: cfg, logger: opts.Logger, clock: clock.Real{}, started: time.Now()}
	ctx, d.stop = context.WithCancel(ctx)
	defer d.stop()

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	release, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer release()
	st, fresh, err := loadOrCreateState(cfg.DataDir)
	if err != nil {
		return err
	}
	d.state = st
	d.logger = d.logger.With("node_id", st.NodeID)

	root, cert, err := d.identity()
	if err != nil {
		return err
	}
	d.root = root
	mux, err := transport.Listen(cfg.ListenAddr, ca.ServerTLS(root, cert), d.logger)
	if err != nil {
		return err
	}
	defer mux.Close()
	if d.addr, err = advertiseAddr(cfg.AdvertiseAddr, mux.Addr()); err != nil {
		return err
	}
	advertise, err := net.ResolveTCPAddr("tcp", d.addr)
	if err != nil {
		return fmt.Errorf("advertise address %s: %w", d.addr, err)
	}
	layer := transport.NewRaftLayer(mux, advertise, ca.ClientTLS(root, cert))
	trans := raft.NewNetworkTransportWithLogger(layer, 3, 10*time.Second, nil)
	d.store, err = store.Open(store.Config{
		DataDir: cfg.DataDir, NodeID: st.NodeID, Addr: d.addr, Transport: trans, Bootstrap: fresh,
		HeartbeatTimeout: cfg.Raft.HeartbeatTimeout, ElectionTimeout: cfg.Raft.ElectionTimeout,
		SnapshotThreshold: cfg.Raft.SnapshotThreshold, SnapshotInterval: cfg.Raft.SnapshotInterval,
		Clock: d.clock, Logger: d.logger.With("component", "store"),
	})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer d.store.Close()

	d.plugins = pluginhost.New(pluginhost.Config{
		Executable: opts.Executable, Builtins: opts.Builtins, Dir: cfg.Plugins.Dir,
		HealthInterval: cfg.Plugins.HealthInterval, Clock: d.clock, Logger: d.logger.With("component", "pluginhost"),
	})
	defer d.plugins.Close()
	if d.runtime, err = d.plugins.Runtime(ctx, d.pluginSpec(cfg.Plugins.Runtime)); err != nil {
		return fmt.Errorf("runtime plugin: %w", err)
	}
	if d.scheduler, err = d.plugins.Scheduler(ctx, d.pluginSpec(cfg.Plugins.Scheduler)); err != nil {
		return fmt.Errorf("scheduler plugin: %w", err)
	}

	d.dispatcher = dispatcher.New(d.store, d.clock, d.logger.With("component", "dispatcher"))
	caughtUp := make(chan struct{})
	d.control = controlapi.New(d.store, d.clock, st.NodeID, caughtUp, d, d.logger.With("component", "api"))
	d.mesh = mesh.New(mesh.Config{BindAddr: cfg.Mesh.BindAddr, Logger: d.logger.With("component", "mesh"), Clock: d.clock})
	defer d.mesh.Close()

	apiLn, err := d.listenAPI()
	if err != nil {
		return err
	}
	srv := api.NewServer(&backend{Server: d.control, d: d}, d.logger.With("component", "api"))

	var wg sync.WaitGroup
	errc := make(chan error, 4)
	run := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	run("api", func(ctx context.Context) error { return srv.Serve(ctx, apiLn) })
	if opts.Ready != nil {
		close(opts.Ready)
	}
	d.logger.Info("hive is up", "api", cfg.Host, "cluster_addr", d.addr, "data_dir", cfg.DataDir, "new_cluster", fresh)

	run("leader", func(ctx context.Context) error { return d.leadership(ctx, caughtUp) })
	run("mesh", func(ctx context.Context) error { return mesh.RunController(ctx, d.store, d.mesh, 0, d.clock) })
	run("agent", func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			return nil
		case <-caughtUp:
		}
		return agent.New(agent.Config{
			NodeID: st.NodeID, Addr: d.addr, Runtime: d.runtime, Manager: d.dispatcher, Describe: d.describe,
			HostIP: cfg.Mesh.BindAddr, Clock: d.clock, Logger: d.logger.With("component", "agent"),
		}).Run(ctx)
	})

	select {
	case <-ctx.Done():
	case err = <-errc:
		d.logger.Error("stopping after a fatal error", "error", err)
	}
	d.logger.Info("hive is stopping; task containers keep running and are adopted at the next 'hive up'")
	d.stop()
	wg.Wait()
	if err := d.store.Snapshot(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		d.logger.Debug("final snapshot skipped", "error", err)
	}
	return err
}

// identity loads the node's certificates, creating the cluster's root CA
// and this node's manager certificate on a new node.
func (d *daemon) identity() (*ca.Root, *ca.NodeCert, error) {
	dir := filepath.Join(d.cfg.DataDir, certDir)
	if ca.Exists(dir) {
		root, cert, err := ca.Load(dir)
		if err != nil {
			return nil, nil, fmt.Errorf("load node certificates from %s: %w", dir, err)
		}
		return root, cert, nil
	}
	root, cert, err := ca.Bootstrap(dir, d.state.NodeID, d.clock.Now(), ca.DefaultCertExpiry)
	if err != nil {
		return nil, nil, fmt.Errorf("create cluster CA: %w", err)
	}
	d.logger.Info("created the cluster root CA", "ca_digest", root.Digest())
	return root, cert, nil
}

func (d *daemon) pluginSpec(name string) pluginhost.Spec {
	spec := pluginhost.Spec{Name: name}
	key := filepath.Base(name)
	if s, ok := d.cfg.Plugins.Config[key]; ok {
		spec.Settings = s
	}
	return spec
}

func (d *daemon) listenAPI() (net.Listener, error) {
	path := config.SocketPath(d.cfg.Host)
	if path == "" {
		return nil, fmt.Errorf("API endpoint %s: only unix sockets are served locally; use unix:///path", d.cfg.Host)
	}
	ln, err := api.ListenUnix(path)
	if err != nil {
		return nil, fmt.Errorf("API socket: %w", err)
	}
	return ln, nil
}

// shutdown asks Run to return.
func (d *daemon) shutdown() { d.stopOnce.Do(d.stop) }

// ensureCluster creates the cluster record and this manager's node record
// on a new cluster, and applies the configured task history limit.
func (d *daemon) ensureCluster(ctx context.Context) error {
	// The agent registers the full description moments later; until then
	// the record already says what the node is.
	dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	desc := d.describe(dctx)
	cancel()
	return d.store.Update(ctx, func(tx store.Tx) error {
		c := tx.Cluster()
		if c == nil {
			if err := tx.CreateCluster(&types.Cluster{ID: types.ClusterID, CreatedBy: d.state.NodeID,
				Spec: types.ClusterSpec{TaskHistoryLimit: d.cfg.Tasks.HistoryLimit}}); err != nil {
				return err
			}
		} else if c.Spec.TaskHistoryLimit != d.cfg.Tasks.HistoryLimit {
			nc := c.Copy()
			nc.Spec.TaskHistoryLimit = d.cfg.Tasks.HistoryLimit
			if err := tx.UpdateCluster(nc); err != nil {
				return err
			}
		}
		if tx.Node(d.state.NodeID) == nil {
			return tx.CreateNode(&types.Node{
				ID:          d.state.NodeID,
				Spec:        types.NodeSpec{Role: d.state.Role, Availability: types.AvailabilityActive},
				Description: desc,
				Status:      types.NodeStatus{State: types.NodeStateUnknown, Addr: d.addr},
			})
		}
		return nil
	})
}
