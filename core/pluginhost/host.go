package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/logadapt"
	"github.com/hiveorch/hive/plugins/sdk"
)

// Config configures a Host.
type Config struct {
	// Executable is the hive binary (os.Executable()); a built-in plugin
	// runs as `<Executable> plugin serve NAME`.
	Executable string
	// Builtins are the plugin names the hive binary serves itself, such
	// as runtime-docker and scheduler-spread.
	Builtins []string
	// Dir is plugins.dir: where a bare external plugin name is looked up.
	Dir string
	// HealthInterval is how often each plugin's Health is called; 10s when
	// zero.
	HealthInterval time.Duration
	// Clock drives every wait of the host; the real clock when nil.
	Clock clock.Clock
	// Logger receives the host's logs and the plugins' forwarded stderr
	// logs; nothing is logged when nil.
	Logger *slog.Logger
}

// Spec names a plugin to load and its settings.
type Spec struct {
	// Name is the configured value: a built-in name, a bare name looked up
	// in Config.Dir, or the path of an executable (any name with a '/').
	Name string
	// Kind is the kind the plugin is loaded as. Runtime and Scheduler fill
	// it in when empty.
	Kind sdk.Kind
	// Settings are handed to the plugin's Configure after each start.
	Settings map[string]string
}

// Status is a plugin's state as List reports it.
type Status struct {
	Name string
	Kind sdk.Kind
	// Version is what the plugin's Describe returned.
	Version string
	// Source is "builtin" or the path of the executable.
	Source string
	// State is one of the State* constants.
	State string
	// PID is the process's ID while it runs, 0 otherwise.
	PID int
	// Restarts counts the restarts since the plugin was first loaded.
	Restarts int
	// Error is why the plugin is unhealthy, restarting or failed.
	Error        string
	Capabilities []string
}

// SourceBuiltin is Status.Source for a plugin served by the hive binary.
const SourceBuiltin = "builtin"

// Host starts plugin processes and supervises them. Its methods are safe
// for concurrent use.
type Host struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	entries map[string]*entry
}

// New returns a Host. It starts nothing until Runtime or Scheduler is
// called.
func New(cfg Config) *Host {
	if cfg.HealthInterval <= 0 {
		cfg.HealthInterval = defaultHealthTick
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Host{
		cfg:     cfg,
		log:     cfg.Logger,
		ctx:     ctx,
		cancel:  cancel,
		entries: make(map[string]*entry),
	}
}

// Runtime starts the runtime plugin spec names, or returns the one already
// started under that name. It returns once the plugin is resolved, before
// its process is up: use WaitReady to wait for that. Calling it again for
// a plugin that failed starts it afresh.
func (h *Host) Runtime(ctx context.Context, spec Spec) (*Runtime, error) {
	e, err := h.load(ctx, spec, sdk.KindRuntime)
	if err != nil {
		return nil, err
	}
	return &Runtime{base{e}}, nil
}

// Scheduler is Runtime for a scheduler plugin.
func (h *Host) Scheduler(ctx context.Context, spec Spec) (*Scheduler, error) {
	e, err := h.load(ctx, spec, sdk.KindScheduler)
	if err != nil {
		return nil, err
	}
	return &Scheduler{base{e}}, nil
}

// Network is Runtime for a network plugin.
func (h *Host) Network(ctx context.Context, spec Spec) (*Network, error) {
	e, err := h.load(ctx, spec, sdk.KindNetwork)
	if err != nil {
		return nil, err
	}
	return &Network{base{e}}, nil
}

// Secrets is Runtime for a secrets plugin. The daemon does not call it
// directly: SecretDrivers starts the plugins of plugins.secrets.
func (h *Host) Secrets(ctx context.Context, spec Spec) (*Secrets, error) {
	e, err := h.load(ctx, spec, sdk.KindSecrets)
	if err != nil {
		return nil, err
	}
	return &Secrets{base{e}}, nil
}

func (h *Host) load(ctx context.Context, spec Spec, kind sdk.Kind) (*entry, error) {
	if spec.Kind == "" {
		spec.Kind = kind
	}
	if spec.Kind != kind {
		return nil, fmt.Errorf("load plugin %s: asked for a %s plugin with a spec of kind %s", spec.Name, kind, spec.Kind)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load plugin %s: %w", spec.Name, err)
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, fmt.Errorf("load plugin %s: %w", spec.Name, errClosed)
	}
	if e, ok := h.entries[spec.Name]; ok {
		if e.kind != kind {
			return nil, fmt.Errorf("load plugin %s as a %s plugin: it is already loaded as a %s plugin", spec.Name, kind, e.kind)
		}
		e.mu.Lock()
		if !maps.Equal(e.settings, spec.Settings) {
			e.mu.Unlock()
			return nil, fmt.Errorf("load plugin %s: it is already loaded with other settings", spec.Name)
		}
		restart := !e.active
		if restart {
			e.active = true
			e.setLocked(StateStarting, "")
		}
		e.mu.Unlock()
		if restart {
			h.supervise(e)
		}
		return e, nil
	}

	src, err := h.resolve(spec)
	if err != nil {
		return nil, err
	}
	log := h.log.With("plugin", spec.Name, "kind", string(kind))
	l := &processLauncher{
		kind: kind,
		path: src.path,
		args: src.args,
		log:  logadapt.HCLog(log, "plugin"),
	}
	e := newEntry(spec.Name, kind, src.source, spec.Settings, l, h.cfg.Clock, h.log, h.cfg.HealthInterval)
	e.active = true
	h.entries[spec.Name] = e
	h.supervise(e)
	return e, nil
}

// supervise runs e's supervisor. h.mu must be held.
func (h *Host) supervise(e *entry) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		e.run(h.ctx)
	}()
}

// List reports every plugin loaded, sorted by name.
func (h *Host) List() []Status {
	h.mu.Lock()
	entries := slices.Collect(maps.Values(h.entries))
	h.mu.Unlock()
	out := make([]Status, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.status())
	}
	slices.SortFunc(out, func(a, b Status) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Close stops supervising and kills every plugin process, waiting until
// they are gone. What the plugins manage (containers) is not touched.
// Calls through the proxies fail with sdk.ErrUnavailable afterwards.
func (h *Host) Close() error {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	h.wg.Wait()
	return nil
}

// errClosed is returned for work refused after Close.
var errClosed = errors.New("the plugin host is closed")
