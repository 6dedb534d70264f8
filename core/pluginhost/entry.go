package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/plugins/sdk"
)

// States of a plugin, as List reports them.
const (
	// StateStarting: the first process is being started and configured.
	StateStarting = "starting"
	// StateRunning: the process is up, configured and healthy.
	StateRunning = "running"
	// StateUnhealthy: the process is up and serves calls, but its last
	// health check failed; Status.Error says why.
	StateUnhealthy = "unhealthy"
	// StateRestarting: the process went down and hive is starting a new
	// one after a backoff; calls fail with sdk.ErrUnavailable meanwhile.
	StateRestarting = "restarting"
	// StateFailed: the plugin cannot run until the operator acts (wrong
	// kind, bad settings, a first start that failed); hive does not retry.
	StateFailed = "failed"
	// StateStopped: the host was closed.
	StateStopped = "stopped"
)

// launcher starts one process of a plugin and connects to it. The process
// launcher is the real one; tests hand in fakes.
type launcher interface {
	launch(ctx context.Context) (*instance, error)
}

// instance is one live process of a plugin, connected.
type instance struct {
	// impl is the client for the plugin's kind: a runtime.Runtime or a
	// scheduler.Scheduler.
	impl sdk.Base
	pid  int
	// exited is closed when the process has exited.
	exited <-chan struct{}
	// exitReason says how the process ended; valid once exited is closed.
	exitReason func() string
	// ping checks that the connection to the process works, whatever the
	// plugin's own health.
	ping func(ctx context.Context) error
	// describeAs calls Describe through the client of another kind; it
	// tells what a plugin is when it does not serve the kind asked for.
	// Nil when the launcher cannot do that.
	describeAs func(ctx context.Context, kind sdk.Kind) (sdk.Info, error)
	// stop kills the process and waits for it; safe to call twice.
	stop func()

	// gone is closed once the supervisor has given the instance up, before
	// stop; calls that fail after it report sdk.ErrUnavailable.
	gone     chan struct{}
	goneOnce sync.Once
}

func (i *instance) markGone() { i.goneOnce.Do(func() { close(i.gone) }) }

func (i *instance) isGone() bool {
	select {
	case <-i.gone:
		return true
	default:
		return false
	}
}

// needsOperator marks a start error that restarting cannot fix.
type needsOperator struct{ err error }

func (e *needsOperator) Error() string { return e.err.Error() }
func (e *needsOperator) Unwrap() error { return e.err }

// entry is one plugin: its settings, its current process and the
// supervisor goroutine that keeps a process running.
type entry struct {
	name     string
	kind     sdk.Kind
	source   string
	launcher launcher
	clk      clock.Clock
	log      *slog.Logger
	interval time.Duration

	mu       sync.Mutex
	settings map[string]string
	state    string
	err      string
	info     sdk.Info
	pid      int
	restarts int
	inst     *instance
	// retryAt is when the next restart is due, while restarting.
	retryAt time.Time
	// changed is closed and replaced at every state change.
	changed chan struct{}
	// active is true while a supervisor goroutine runs.
	active bool
}

func newEntry(name string, kind sdk.Kind, source string, settings map[string]string, l launcher, clk clock.Clock, log *slog.Logger, interval time.Duration) *entry {
	return &entry{
		name:     name,
		kind:     kind,
		source:   source,
		launcher: l,
		clk:      clk,
		log:      log.With("plugin", name, "kind", string(kind)),
		interval: interval,
		settings: maps.Clone(settings),
		state:    StateStarting,
		changed:  make(chan struct{}),
	}
}

// setLocked moves to state with errMsg and wakes the waiters.
func (e *entry) setLocked(state, errMsg string) {
	e.state, e.err = state, errMsg
	close(e.changed)
	e.changed = make(chan struct{})
}

func (e *entry) status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Status{
		Name:         e.name,
		Kind:         e.kind,
		Version:      e.info.Version,
		Source:       e.source,
		State:        e.state,
		PID:          e.pid,
		Restarts:     e.restarts,
		Error:        e.err,
		Capabilities: slices.Clone(e.info.Capabilities),
	}
}

// current returns the live instance, or an error wrapping
// sdk.ErrUnavailable that says why there is none.
func (e *entry) current() (*instance, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.inst != nil {
		return e.inst, nil
	}
	return nil, e.unavailableLocked()
}

func (e *entry) unavailableLocked() error {
	what := "is " + e.state
	if e.state == StateFailed {
		what = "has failed"
	}
	if e.err != "" {
		return fmt.Errorf("plugin %s %s: %s: %w", e.name, what, e.err, sdk.ErrUnavailable)
	}
	return fmt.Errorf("plugin %s %s: %w", e.name, what, sdk.ErrUnavailable)
}

// waitReady blocks until the plugin is serving (running or unhealthy), has
// failed, or ctx is done.
func (e *entry) waitReady(ctx context.Context) error {
	for {
		e.mu.Lock()
		state, changed := e.state, e.changed
		err := e.unavailableLocked()
		e.mu.Unlock()
		switch state {
		case StateRunning, StateUnhealthy:
			return nil
		case StateFailed, StateStopped:
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for plugin %s: %w (%v)", e.name, ctx.Err(), err)
		case <-changed:
		}
	}
}

// setSettings replaces the settings used for the next starts.
func (e *entry) setSettings(settings map[string]string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.settings = maps.Clone(settings)
}

// run supervises the plugin until ctx is done or the plugin fails for good.
// It starts a process, watches it, and restarts it with backoff.
func (e *entry) run(ctx context.Context) {
	bo := newBackoff()
	for {
		e.mu.Lock()
		everRan := e.info.Kind != ""
		e.mu.Unlock()

		var uptime time.Duration
		inst, info, err := e.start(ctx)
		if ctx.Err() != nil {
			if inst != nil {
				inst.markGone()
				inst.stop()
			}
			e.stopped()
			return
		}
		if err != nil {
			var perm *needsOperator
			if !everRan || errors.As(err, &perm) {
				e.fail(err)
				return
			}
			e.log.Warn("plugin start failed", "error", err)
		} else {
			startedAt := e.clk.Now()
			// The ticker exists before the plugin shows as running, so
			// that whoever sees it running can count on the next check
			// being an interval later.
			ticker := e.clk.NewTicker(e.interval)
			e.running(inst, info, e.firstCheck(ctx, inst))
			err = e.watch(ctx, inst, ticker)
			ticker.Stop()
			uptime = e.clk.Now().Sub(startedAt)
			if ctx.Err() != nil {
				e.stopped()
				return
			}
		}

		delay := bo.next(uptime)
		e.mu.Lock()
		e.retryAt = e.clk.Now().Add(delay)
		retryAt, restarts := e.retryAt, e.restarts
		e.setLocked(StateRestarting, err.Error())
		e.mu.Unlock()
		e.log.Info("plugin restarting", "restarts", restarts+1, "delay", delay, "error", err)

		select {
		case <-ctx.Done():
			e.stopped()
			return
		case <-e.clk.After(retryAt.Sub(e.clk.Now())):
		}
		e.mu.Lock()
		e.restarts++
		e.retryAt = time.Time{}
		e.mu.Unlock()
	}
}

// start launches a process, checks its kind and configures it.
func (e *entry) start(ctx context.Context) (*instance, sdk.Info, error) {
	inst, err := e.launcher.launch(ctx)
	if err != nil {
		return nil, sdk.Info{}, fmt.Errorf("start plugin %s: %w", e.name, err)
	}
	inst.gone = make(chan struct{})
	info, err := e.handshake(ctx, inst)
	if err != nil {
		inst.markGone()
		inst.stop()
		return nil, info, err
	}
	return inst, info, nil
}

// handshake runs Describe, checks the kind, and runs Configure.
func (e *entry) handshake(ctx context.Context, inst *instance) (sdk.Info, error) {
	ctx, cancel := clock.WithTimeout(ctx, e.clk, handshakeTimeout)
	defer cancel()

	info, err := inst.impl.Describe(ctx)
	if err != nil {
		if kind, ok := e.probeKind(ctx, inst); ok {
			return info, e.wrongKind(kind)
		}
		return info, fmt.Errorf("describe plugin %s: %w", e.name, err)
	}
	if info.Kind != e.kind {
		return info, e.wrongKind(info.Kind)
	}

	e.mu.Lock()
	settings := maps.Clone(e.settings)
	e.mu.Unlock()
	if err := inst.impl.Configure(ctx, settings); err != nil {
		return info, &needsOperator{fmt.Errorf(
			"configure plugin %s: %w (fix its settings under plugins.config.%s and restart hive)",
			e.name, err, e.name)}
	}
	return info, nil
}

// probeKind asks the process what it is through the other kinds' clients,
// for a plugin that does not answer Describe as the kind it was loaded as.
func (e *entry) probeKind(ctx context.Context, inst *instance) (sdk.Kind, bool) {
	if inst.describeAs == nil {
		return "", false
	}
	for _, kind := range slices.Sorted(maps.Keys(kindClients)) {
		if kind == e.kind {
			continue
		}
		if info, err := inst.describeAs(ctx, kind); err == nil && info.Kind != "" && info.Kind != e.kind {
			return info.Kind, true
		}
	}
	return "", false
}

func (e *entry) wrongKind(got sdk.Kind) error {
	if got == "" {
		got = "unknown"
	}
	return &needsOperator{fmt.Errorf(
		"plugin %s is a %s plugin, not a %s plugin: set plugins.%s to a %s plugin",
		e.name, got, e.kind, e.kind, e.kind)}
}

// running makes inst the live instance: running, or unhealthy when
// healthErr (its first health check's error) is not nil.
func (e *entry) running(inst *instance, info sdk.Info, healthErr error) {
	e.mu.Lock()
	e.inst, e.info, e.pid = inst, info, inst.pid
	restarts := e.restarts
	if healthErr != nil {
		e.setLocked(StateUnhealthy, healthErr.Error())
	} else {
		e.setLocked(StateRunning, "")
	}
	e.mu.Unlock()
	e.log.Info("plugin started", "pid", inst.pid, "restarts", restarts, "version", info.Version)
	if healthErr != nil {
		e.log.Warn("plugin unhealthy", "error", healthErr)
	}
}

// firstCheck health-checks a process just configured, before it shows as
// running: the error of a failed check, nil when healthy.
func (e *entry) firstCheck(ctx context.Context, inst *instance) error {
	result, err := e.check(ctx, inst)
	if result == checkOK {
		return nil
	}
	return err
}

// down gives up inst: calls fail fast from now on.
func (e *entry) down(inst *instance, state, errMsg string) {
	inst.markGone()
	e.mu.Lock()
	if e.inst == inst {
		e.inst, e.pid = nil, 0
	}
	e.setLocked(state, errMsg)
	e.mu.Unlock()
}

func (e *entry) fail(err error) {
	e.mu.Lock()
	e.inst, e.pid = nil, 0
	e.active = false
	e.setLocked(StateFailed, err.Error())
	e.mu.Unlock()
	e.log.Error("plugin failed", "error", err)
}

func (e *entry) stopped() {
	e.mu.Lock()
	e.inst, e.pid = nil, 0
	e.active = false
	e.setLocked(StateStopped, "")
	e.mu.Unlock()
}

// watch health-checks inst at every tick until the process exits, fails
// its checks transportStrikes times in a row, or ctx is done. It kills the
// process before returning and returns why it went down.
func (e *entry) watch(ctx context.Context, inst *instance, ticker clock.Ticker) error {
	var tracker healthTracker
	for {
		select {
		case <-ctx.Done():
			e.down(inst, StateStopped, "")
			inst.stop()
			return ctx.Err()
		case <-inst.exited:
			err := fmt.Errorf("process %d exited (%s)", inst.pid, inst.exitReason())
			e.down(inst, StateRestarting, err.Error())
			e.log.Warn("plugin exited", "pid", inst.pid, "restarts", e.status().Restarts, "error", err)
			inst.stop()
			return err
		case <-ticker.C():
			result, err := e.check(ctx, inst)
			if ctx.Err() != nil {
				continue
			}
			switch tracker.observe(result) {
			case verdictHealthy:
				e.healthy()
			case verdictUnhealthy:
				e.unhealthy(err)
			case verdictRestart:
				err = fmt.Errorf("plugin did not answer %d health checks: %w", transportStrikes, err)
				e.down(inst, StateRestarting, err.Error())
				e.log.Warn("plugin unresponsive, killing it", "pid", inst.pid, "restarts", e.status().Restarts, "error", err)
				inst.stop()
				return err
			}
		}
	}
}

// check runs one health check and classifies its outcome.
func (e *entry) check(ctx context.Context, inst *instance) (checkResult, error) {
	timeout := healthTimeout(e.interval)
	hctx, cancel := clock.WithTimeout(ctx, e.clk, timeout)
	defer cancel()
	err := inst.impl.Health(hctx)
	if err == nil {
		return checkOK, nil
	}
	if hctx.Err() == context.DeadlineExceeded {
		return checkTransportError, fmt.Errorf("health check: no answer in %s", timeout)
	}
	pctx, cancelPing := clock.WithTimeout(ctx, e.clk, timeout)
	defer cancelPing()
	if perr := inst.ping(pctx); perr != nil {
		return checkTransportError, fmt.Errorf("health check: %w", err)
	}
	return checkPluginError, fmt.Errorf("health check: %w", err)
}

func (e *entry) healthy() {
	e.mu.Lock()
	was := e.state
	if was == StateUnhealthy {
		e.setLocked(StateRunning, "")
	}
	e.mu.Unlock()
	if was == StateUnhealthy {
		e.log.Info("plugin healthy again")
	}
}

func (e *entry) unhealthy(err error) {
	e.mu.Lock()
	was, wasErr := e.state, e.err
	if was == StateRunning || was == StateUnhealthy {
		e.setLocked(StateUnhealthy, err.Error())
	}
	e.mu.Unlock()
	if was != StateUnhealthy || wasErr != err.Error() {
		e.log.Warn("plugin unhealthy", "error", err)
	}
}
