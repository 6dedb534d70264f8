// Package daemon is `hive up`: it assembles one node of a cluster from
// core's parts and runs it until told to stop.
//
// Every node runs an agent (tasks through the runtime plugin), the routing
// mesh (published ports, forwarding to tasks on other nodes) and the node
// RPC services on its cluster port, and keeps a session with the leader's
// dispatcher. A manager also runs a Raft store member, the dispatcher, the
// join service, the API (unix socket, and mutual TLS on the cluster port)
// and, while it leads, the controllers.
//
// A node's role comes from its certificate. When the cluster promotes or
// demotes it, the node renews its certificate and restarts its parts in the
// new role, in the same process. Stopping the daemon (signal or
// `hive down`) leaves task containers running: the next `hive up` on the
// same data directory adopts them.
package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/hiveorch/hive/config"
	"github.com/hiveorch/hive/core/agent"
	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/controlapi"
	"github.com/hiveorch/hive/core/dispatcher"
	"github.com/hiveorch/hive/core/dockerapi"
	"github.com/hiveorch/hive/core/events"
	"github.com/hiveorch/hive/core/mesh"
	"github.com/hiveorch/hive/core/metrics"
	"github.com/hiveorch/hive/core/pluginhost"
	"github.com/hiveorch/hive/core/rpc"
	"github.com/hiveorch/hive/core/seal"
	"github.com/hiveorch/hive/core/secrets"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/transport"
	"github.com/hiveorch/hive/core/types"
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

// RunDir is the nodes' runtime directory on the host: each node keeps
// there, under its ID, what must not outlive the host's boot nor reach a
// disk (the tmpfs of its tasks' secrets and configs).
const RunDir = "/run/hive"

// errRoleChanged ends one incarnation of the node so that Run starts it
// again in its new role.
var errRoleChanged = errors.New("the node's role changed")

type daemon struct {
	cfg     *config.Config
	opts    Options
	logger  *slog.Logger
	clock   clock.Clock
	started time.Time
	// dockerAPI is the endpoint of the Docker-compatible API this manager
	// serves, "" when none; dockerAPITCP the same over TCP with TLS.
	dockerAPI    string
	dockerAPITCP string
	metricsURL   string // where this node serves /metrics, "" when off
	state        nodeState
	id           *ca.Identity
	role         types.NodeRole
	addr         string

	mux       *transport.Mux
	pool      *rpc.Pool
	plugins   *pluginhost.Host
	runtime   *pluginhost.Runtime
	network   *pluginhost.Network
	scheduler *pluginhost.Scheduler
	session   *rpc.SessionClient
	mesh      *mesh.Mesh
	forwarder *mesh.Forwarder

	// Managers only.
	// dek is the cluster's data-encryption key, from the keyring; opener
	// unseals secrets with it for delivery.
	dek    *seal.Key
	opener *secrets.Opener
	// apiLn is the API socket the locked API served, kept open for the
	// full API after an unlock; nil otherwise.
	apiLn      net.Listener
	store      *store.Store
	dispatcher *dispatcher.Dispatcher
	control    *controlapi.Server
	// events is the manager's event ring; nil when events are off.
	events *events.Ring

	runCtx   context.Context
	stop     context.CancelFunc
	stopOnce sync.Once
	fatal    chan error
	wg       sync.WaitGroup
}

// Run starts the node and blocks until ctx is done or the API asks it to
// stop. When the cluster changes the node's role it restarts the node's
// parts in the new role. It returns an error when the node cannot start.
func Run(ctx context.Context, opts Options) error {
	for {
		err := runOnce(ctx, opts)
		if !errors.Is(err, errRoleChanged) {
			return err
		}
		opts.Ready = nil
		opts.Logger.Info("restarting the node in its new role")
	}
}

func runOnce(ctx context.Context, opts Options) (err error) {
	cfg := opts.Config
	clk := clock.Real{}
	d := &daemon{cfg: cfg, opts: opts, logger: opts.Logger, clock: clk, started: clk.Now(), fatal: make(chan error, 8)}
	ctx, d.stop = context.WithCancel(ctx)
	d.runCtx = ctx
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
	if err := d.identity(fresh); err != nil {
		return err
	}
	if err := d.openKeys(ctx, fresh); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while locked
		}
		return err
	}
	if d.apiLn != nil {
		defer d.apiLn.Close() // in case Run fails before the API serves it
	}

	if d.mux, err = transport.Listen(cfg.ListenAddr, d.id.ServerTLS(), d.logger); err != nil {
		return err
	}
	defer d.mux.Close()
	if d.addr, err = advertiseAddr(cfg.AdvertiseAddr, d.mux.Addr()); err != nil {
		return err
	}
	d.pool = rpc.NewPool(d.id.ClientTLS())
	defer d.pool.Close()

	d.plugins = pluginhost.New(pluginhost.Config{
		Executable: opts.Executable, Builtins: opts.Builtins, Dir: cfg.Plugins.Dir,
		HealthInterval: cfg.Plugins.HealthInterval, Clock: d.clock, Logger: d.logger.With("component", "pluginhost"),
	})
	defer d.plugins.Close()
	if d.runtime, err = d.plugins.Runtime(ctx, d.pluginSpec(cfg.Plugins.Runtime)); err != nil {
		return fmt.Errorf("runtime plugin: %w", err)
	}
	if d.network, err = d.plugins.Network(ctx, d.networkSpec()); err != nil {
		return fmt.Errorf("network plugin: %w", err)
	}

	rpcSrv := rpc.NewServer(d.logger.With("component", "rpc"))
	defer rpcSrv.Stop()
	rpc.RegisterAgent(rpcSrv, d.localTaskLogs, d.localTaskStats)

	var backend api.Backend
	if d.role == types.RoleManager {
		if d.scheduler, err = d.plugins.Scheduler(ctx, d.pluginSpec(cfg.Plugins.Scheduler)); err != nil {
			return fmt.Errorf("scheduler plugin: %w", err)
		}
		closeStore, err := d.startManager(ctx, rpcSrv, fresh)
		if err != nil {
			return err
		}
		defer closeStore()
		backend = &managerBackend{Server: d.control, d: d}
	} else {
		removeRaftState(cfg.DataDir, d.logger)
		backend = &workerBackend{d: d}
	}
	d.run("rpc", func(ctx context.Context) error {
		return serveGRPC(ctx, rpcSrv, d.mux.Listener(transport.ProtoRPC, false))
	})

	apiLn := d.apiLn // the locked API's socket, after an unlock
	if apiLn == nil {
		if apiLn, err = d.listenAPI(); err != nil {
			return err
		}
	}
	// The Docker-compatible API's socket, on a manager: listened on
	// before the API serves, whose Info names it.
	var dockerLn net.Listener
	if sock := cfg.DockerAPI.Socket; sock != "" && d.role == types.RoleManager {
		if dockerLn, err = api.ListenUnix(sock); err != nil {
			return fmt.Errorf("docker API socket (docker_api.socket; empty turns it off): %w", err)
		}
		defer dockerLn.Close() // in case Run fails before it serves
		d.dockerAPI = "unix://" + sock
	}
	// And its TCP address, with TLS by the root's key: openKeys has
	// returned, so an autolocked manager is unlocked by now.
	var dockerTCP net.Listener
	var dockerTLS *tls.Config
	if addr := cfg.DockerAPI.Listen; addr != "" && d.role == types.RoleManager {
		if dockerTCP, dockerTLS, d.dockerAPITCP, err = d.listenDockerTCP(addr); err != nil {
			return err
		}
		defer dockerTCP.Close() // in case Run fails before it serves
	}
	// Prometheus /metrics, on every node; the cluster-state series on
	// managers only.
	if addr := cfg.Metrics.Listen; addr != "" {
		var metricsLn net.Listener
		if metricsLn, d.metricsURL, err = metrics.Listen(addr); err != nil {
			return fmt.Errorf("metrics listener (metrics.listen; empty turns it off): %w", err)
		}
		defer metricsLn.Close() // in case Run fails before it serves
		var view metrics.Viewer
		if d.role == types.RoleManager {
			view = d.store
		}
		reg := metrics.NewRegistry(view)
		d.run("metrics", func(ctx context.Context) error { return metrics.Serve(ctx, metricsLn, reg) })
		d.logger.Info("serving metrics", "url", d.metricsURL)
	}
	srv := api.NewServer(backend, d.logger.With("component", "api"))
	d.run("api", func(ctx context.Context) error { return srv.Serve(ctx, apiLn) })
	if d.role == types.RoleManager {
		tlsLn := d.mux.Listener(transport.ProtoAPI, false)
		d.run("api-tls", func(ctx context.Context) error {
			return srv.ServeRestricted(ctx, tlsLn, ca.OUManager, ca.OUClient)
		})
		dsrv := dockerapi.NewServer(backend, d.logger.With("component", "docker-api"))
		if dockerLn != nil {
			d.run("docker-api", func(ctx context.Context) error { return dsrv.Serve(ctx, dockerLn) })
		}
		if dockerTCP != nil {
			d.run("docker-api-tcp", func(ctx context.Context) error {
				return dsrv.ServeTLS(ctx, dockerTCP, dockerTLS, ca.OUManager, ca.OUClient)
			})
			d.logger.Info("serving the Docker API over TCP with TLS", "addr", d.dockerAPITCP)
		}
	}
	if d.opts.Ready != nil {
		// A locked manager announced itself ready already (awaitUnlock).
		close(d.opts.Ready)
	}
	d.logger.Info("hive is up", "role", d.role, "api", cfg.Host, "cluster_addr", d.addr, "data_dir", cfg.DataDir, "new_cluster", fresh)

	d.startNode(ctx)
	d.run("plugin-report", d.reportPluginTrouble)

	select {
	case <-ctx.Done():
	case err = <-d.fatal:
		if !errors.Is(err, errRoleChanged) {
			d.logger.Error("stopping after a fatal error", "error", err)
		}
	}
	if !errors.Is(err, errRoleChanged) {
		d.logger.Info("hive is stopping; task containers keep running and are adopted at the next 'hive up'")
	}
	d.stop()
	d.wg.Wait()
	if d.mesh != nil {
		d.mesh.Close()
	}
	if d.forwarder != nil {
		d.forwarder.Close()
	}
	return err
}

// run starts a part of the node; an error it returns while the node runs
// stops the node.
func (d *daemon) run(name string, fn func(context.Context) error) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := fn(d.runCtx); err != nil && d.runCtx.Err() == nil {
			select {
			case d.fatal <- fmt.Errorf("%s: %w", name, err):
			default:
			}
		}
	}()
}

// startNode starts what every node runs: the session with the managers,
// the agent, the routing mesh and certificate renewal.
func (d *daemon) startNode(ctx context.Context) {
	managers := d.state.Managers
	if d.role == types.RoleManager {
		managers = append([]string{d.addr}, managers...)
	}
	d.session = rpc.NewSessionClient(rpc.SessionConfig{
		Managers: managers, Pool: d.pool, Clock: d.clock, Logger: d.logger.With("component", "session"),
	})
	d.run("agent", func(ctx context.Context) error {
		return agent.New(agent.Config{
			NodeID: d.state.NodeID, Addr: d.addr, Runtime: d.runtime, Manager: d.session, Describe: d.describe,
			HostIP: d.bindAddr(), SecretsDir: filepath.Join(RunDir, d.state.NodeID, "secrets"),
			Network: d.network, Resolvers: agent.NodeResolvers(), RuntimeTrouble: d.runtimeTrouble,
			Clock: d.clock, Logger: d.logger.With("component", "agent"),
		}).Run(ctx)
	})
	d.startMesh()
	d.run("managers", d.rememberManagers)
	d.run("renewal", d.renewal)
	go func() {
		<-ctx.Done()
		d.session.Close()
	}()
}

func (d *daemon) bindAddr() string {
	return mesh.BindAddr(d.cfg.Mesh.BindAddr, d.cfg.ListenAddr, d.addr)
}

// identity loads the node's certificates, creating the cluster's root CA
// and this node's manager certificate on a new cluster. The certificate
// decides the node's role.
func (d *daemon) identity(fresh bool) error {
	dir := CertDir(d.cfg.DataDir)
	var root *ca.Root
	var cert *ca.NodeCert
	var err error
	switch {
	case ca.Exists(dir):
		if root, cert, err = ca.Load(dir); err != nil {
			return fmt.Errorf("load node certificates from %s: %w", dir, err)
		}
	case fresh:
		if root, cert, err = ca.Bootstrap(dir, d.state.NodeID, d.clock.Now(), d.cfg.CA.CertExpiry); err != nil {
			return fmt.Errorf("create cluster CA: %w", err)
		}
		d.logger.Info("created the cluster root CA", "ca_digest", root.Digest())
	default:
		return fmt.Errorf("node %s has no certificates in %s: the data directory is damaged; join the cluster again with an empty --data-dir", d.state.NodeID, dir)
	}
	if cert.NodeID() != d.state.NodeID {
		return fmt.Errorf("the certificate in %s belongs to node %s, not %s: the data directory is damaged", dir, cert.NodeID(), d.state.NodeID)
	}
	d.id = ca.NewIdentity(root, cert)
	d.role = ca.RoleOf(cert.Role())
	if d.role == types.RoleManager && root.Key == nil && !keyringLocked(d.cfg.DataDir) {
		return fmt.Errorf("this manager's data directory %s holds no CA key: it is damaged", dir)
	}
	if d.role != d.state.Role {
		d.state.Role = d.role
		if err := writeState(d.cfg.DataDir, d.state); err != nil {
			return err
		}
	}
	return nil
}

func (d *daemon) pluginSpec(name string) pluginhost.Spec {
	spec := pluginhost.Spec{Name: name}
	key := filepath.Base(name)
	if s, ok := d.cfg.Plugins.Config[key]; ok {
		spec.Settings = s
	}
	return spec
}

// networkSpec is the network plugin's spec: its settings from the
// configuration, with the node's own (its ID, its underlay address and
// its VXLAN port), which the configuration cannot override.
func (d *daemon) networkSpec() pluginhost.Spec {
	spec := d.pluginSpec(d.cfg.Plugins.Network)
	settings := maps.Clone(spec.Settings)
	if settings == nil {
		settings = map[string]string{}
	}
	settings["node_id"] = d.state.NodeID
	settings["vxlan_port"] = strconv.Itoa(int(d.cfg.Networks.VXLANPort))
	if host := d.dataPathAddr(); host != "" {
		settings["local_addr"] = host
	}
	spec.Settings = settings
	return spec
}

// dataPathAddr is the node's underlay address: the host of its advertise
// address, when it is an IP address.
func (d *daemon) dataPathAddr() string {
	host, _, err := net.SplitHostPort(d.addr)
	if err != nil {
		return ""
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return ""
	}
	return host
}

func (d *daemon) listenAPI() (net.Listener, error) {
	path := config.SocketPath(d.cfg.Host)
	if path == "" {
		return nil, fmt.Errorf("API endpoint %s: hive up serves the API on a unix socket (unix:///path); remote CLIs reach managers over the cluster port with a client certificate", d.cfg.Host)
	}
	ln, err := api.ListenUnix(path)
	if err != nil {
		return nil, fmt.Errorf("API socket: %w", err)
	}
	return ln, nil
}

// shutdown asks Run to return.
func (d *daemon) shutdown() { d.stopOnce.Do(d.stop) }
