// Package containerd is hive's containerd runtime plugin logic: it
// implements runtime.Runtime on top of the containerd Go client (v2), so
// the agent can run task containers on a node that has containerd and no
// Docker. The plugin's main.go, and the hive binary's built-in registry,
// call Main; nothing in this package knows hive's core.
//
// containerd runs containers and nothing more, so the plugin brings what
// Docker would otherwise provide, keeping all of it in containerd labels and
// in files under its root directory (never only in memory), so that a new
// plugin process, after a crash or a restart of hive, finds everything
// again:
//
//   - names, the image reference, stop signal and grace period, published
//     ports, the health check, start and exit times and exit codes are
//     labels on the containerd container (keys under LabelPrefix, which the
//     plugin hides from Inspect and List);
//   - each task gets its own network namespace, joined to a bridge through
//     CNI (bridge, host-local, portmap and firewall plugins), with host-mode
//     ports published by portmap;
//   - container output goes through FIFOs to the node's log copier, a
//     process the plugin starts (its own executable again, see Main and
//     copier.go); it writes the log files and rotates them, and it outlives
//     the plugin, so output keeps flowing while hive is down;
//   - named volumes are directories under the root; health checks are run
//     by the plugin, by exec in the container.
//
// A Runtime is safe for concurrent use.
package containerd

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// Name is the plugin's name, reported by Describe.
const Name = "runtime-containerd"

// Version is the plugin's own version, reported by Describe.
const Version = "0.1.0"

// capabilities are the optional runtime features this plugin supports.
var capabilities = []string{
	"logs.follow", "logs.since", "stats", "ports.host",
	"mounts.volume", "mounts.bind", "mounts.tmpfs", "healthcheck",
}

var _ runtime.Runtime = (*Runtime)(nil)

// Runtime drives one containerd namespace. Create it with New.
type Runtime struct {
	logger *slog.Logger

	mu  sync.Mutex
	eng *engine // nil until Configure or the first call

	locks  keyedMutex // per container
	pulls  keyedMutex // per image reference
	health *healthMonitor
}

// engine is one connection to containerd with the settings it was made
// with. It is immutable once built; Configure replaces it whole.
type engine struct {
	settings
	client *containerd.Client
	net    *network
	// stop ends the engine's background work (the exit monitor).
	stop context.CancelFunc
	done chan struct{}
}

// New returns a Runtime that logs to logger. It connects to containerd on
// Configure, or with the default settings on its first call when
// Configure is never called.
func New(logger *slog.Logger) *Runtime {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Runtime{logger: logger}
	r.health = newHealthMonitor(r)
	return r
}

// Describe returns the plugin's identity; it does not touch containerd.
func (r *Runtime) Describe(ctx context.Context) (sdk.Info, error) {
	return sdk.Info{
		Name:         Name,
		Kind:         sdk.KindRuntime,
		Version:      Version,
		Capabilities: slices.Clone(capabilities),
	}, nil
}

// Configure applies the plugin settings (see parseSettings for the keys)
// and starts the background monitor, which adopts what runs in the
// namespace as soon as containerd answers: log copiers are restarted for
// running containers that lost theirs, health checks resume, and
// containers that exited while no plugin ran get their exit recorded and
// their network released. Configure does not wait for containerd. An
// unknown key or a bad value is an error wrapping sdk.ErrInvalidArgument
// that names the key.
func (r *Runtime) Configure(ctx context.Context, raw map[string]string) error {
	s, err := parseSettings(raw)
	if err != nil {
		return fmt.Errorf("configure %s: %w", Name, err)
	}
	eng, err := r.newEngine(s)
	if err != nil {
		return fmt.Errorf("configure %s: %w", Name, err)
	}
	r.mu.Lock()
	old := r.eng
	r.eng = eng
	r.mu.Unlock()
	if old != nil {
		// The health checks ran on the old connection: the new monitor
		// resumes them from their saved state.
		r.health.stopAll()
		old.close()
	}
	r.logger.Info("containerd runtime configured", "socket", s.Socket, "namespace", s.Namespace,
		"snapshotter", s.Snapshotter, "root", s.Root, "bridge", s.Bridge, "subnet", s.Subnet)
	return nil
}

// newEngine connects (lazily: gRPC dials on first use) and starts the exit
// monitor.
func (r *Runtime) newEngine(s settings) (*engine, error) {
	if err := s.makeDirs(); err != nil {
		return nil, err
	}
	client, err := containerd.New(s.Socket, containerd.WithDefaultNamespace(s.Namespace), containerd.WithTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("containerd client for %s: %v: %w", s.Socket, err, sdk.ErrInvalidArgument)
	}
	net, err := newNetwork(s, r.logger)
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	eng := &engine{settings: s, client: client, net: net, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(eng.done)
		r.monitor(ctx, eng)
	}()
	return eng, nil
}

// close stops the engine's monitor and closes its connection. Containers,
// their log copiers and their networks are left as they are.
func (e *engine) close() {
	e.stop()
	<-e.done
	_ = e.client.Close()
}

// engine returns the current engine, building the default one if
// Configure was never called.
func (r *Runtime) engine() (*engine, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.eng == nil {
		s, err := parseSettings(nil)
		if err != nil {
			return nil, err
		}
		eng, err := r.newEngine(s)
		if err != nil {
			return nil, err
		}
		r.eng = eng
	}
	return r.eng, nil
}

// ctx returns ctx in the engine's namespace.
func (e *engine) ctx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, e.Namespace)
}

// Close stops the plugin's background work and releases the connection
// to containerd. Containers keep running; health checks stop until a
// Runtime adopts them again.
func (r *Runtime) Close() error {
	r.mu.Lock()
	eng := r.eng
	r.eng = nil
	r.mu.Unlock()
	r.health.stopAll()
	if eng != nil {
		eng.close()
	}
	return nil
}

// Health checks that containerd answers and that the CNI plugins the
// network needs are installed.
func (r *Runtime) Health(ctx context.Context) error {
	eng, err := r.engine()
	if err != nil {
		return err
	}
	// IsServing waits for a connection; containerd that does not answer
	// within a few seconds is down.
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	serving, err := eng.client.IsServing(pctx)
	if err != nil || !serving {
		if ctx.Err() != nil {
			return fmt.Errorf("ping containerd at %s: %w", eng.Socket, ctx.Err())
		}
		return fmt.Errorf("containerd at %s is unreachable; check that it runs and that the socket setting is right: %v: %w",
			eng.Socket, err, sdk.ErrUnavailable)
	}
	if err := eng.net.check(); err != nil {
		return fmt.Errorf("containerd runtime: %w", err)
	}
	return nil
}

// keyedMutex is a set of mutexes by key, each created on first use and
// dropped when unused.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	sync.Mutex
	users int
}

// lock locks key and returns the function that unlocks it.
func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{}
		k.locks[key] = l
	}
	l.users++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		l.users--
		if l.users == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
