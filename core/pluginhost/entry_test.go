package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/internal/testutil"
	"github.com/hiveorch/hive/plugins/sdk"
)

// fakeBase is a plugin process's client as the supervisor sees it.
type fakeBase struct {
	kind sdk.Kind

	mu           sync.Mutex
	configureErr error
	healthErr    error
	// healthHang makes Health block until its context ends.
	healthHang  bool
	healthCalls int
	configured  map[string]string
}

func (f *fakeBase) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "fake", Kind: f.kind, Version: "1.2.3", Capabilities: []string{"stats"}}, nil
}

func (f *fakeBase) Configure(_ context.Context, settings map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.configured = settings
	return f.configureErr
}

func (f *fakeBase) Health(ctx context.Context) error {
	f.mu.Lock()
	f.healthCalls++
	hang, err := f.healthHang, f.healthErr
	f.mu.Unlock()
	if hang {
		<-ctx.Done()
		return fmt.Errorf("health: %w", ctx.Err())
	}
	return err
}

func (f *fakeBase) set(fn func(*fakeBase)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeBase) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.healthCalls
}

// fakeLauncher "starts" processes that are channels.
type fakeLauncher struct {
	impl sdk.Base

	mu        sync.Mutex
	launchErr error
	pingErr   error
	procs     []*fakeProc
}

type fakeProc struct {
	pid int
	// exited is closed when the process dies, stopped when the supervisor
	// kills it.
	exited, stopped    chan struct{}
	exitOnce, stopOnce sync.Once
}

// exit makes the process die by itself.
func (p *fakeProc) exit() { p.exitOnce.Do(func() { close(p.exited) }) }

// stop is the supervisor killing the process.
func (p *fakeProc) stop() {
	p.stopOnce.Do(func() { close(p.stopped) })
	p.exit()
}

func (l *fakeLauncher) launch(context.Context) (*instance, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.launchErr != nil {
		return nil, l.launchErr
	}
	p := &fakeProc{pid: 100 + len(l.procs), exited: make(chan struct{}), stopped: make(chan struct{})}
	l.procs = append(l.procs, p)
	return &instance{
		impl:       l.impl,
		pid:        p.pid,
		exited:     p.exited,
		exitReason: func() string { return "signal: killed" },
		ping: func(context.Context) error {
			l.mu.Lock()
			defer l.mu.Unlock()
			return l.pingErr
		},
		stop: p.stop,
	}, nil
}

func (l *fakeLauncher) proc(i int) *fakeProc {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.procs[i]
}

func (l *fakeLauncher) launches() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.procs)
}

// runEntry supervises a plugin made of l until the test ends.
func runEntry(t *testing.T, l launcher, clk clock.Clock, interval time.Duration) *entry {
	t.Helper()
	e := newEntry("runtime-fake", sdk.KindRuntime, SourceBuiltin, map[string]string{"k": "v"}, l, clk, testutil.Logger(t), interval)
	e.active = true
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return e
}

func waitState(t *testing.T, e *entry, state string) Status {
	t.Helper()
	var st Status
	testutil.Eventually(t, 10*time.Second, "state "+state, func() bool {
		st = e.status()
		return st.State == state
	})
	return st
}

// waitRetry waits until the supervisor has scheduled a restart and returns
// how long after now it is due.
func waitRetry(t *testing.T, e *entry, clk *clock.Fake) time.Duration {
	t.Helper()
	var d time.Duration
	testutil.Eventually(t, 10*time.Second, "a scheduled restart", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.retryAt.IsZero() {
			return false
		}
		d = e.retryAt.Sub(clk.Now())
		return true
	})
	return d
}

func TestSupervisorRestartsWithGrowingBackoff(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	l := &fakeLauncher{impl: &fakeBase{kind: sdk.KindRuntime}}
	e := runEntry(t, l, clk, time.Hour)

	st := waitState(t, e, StateRunning)
	if st.PID != 100 || st.Version != "1.2.3" || st.Restarts != 0 {
		t.Fatalf("first start: %+v", st)
	}

	for i, want := range []time.Duration{1, 2, 4, 8, 16, 30, 30} {
		want *= time.Second
		l.proc(i).exit()
		if got := waitRetry(t, e, clk); got != want {
			t.Fatalf("restart %d scheduled in %s, want %s", i+1, got, want)
		}
		if st := e.status(); st.State != StateRestarting || st.PID != 0 || !strings.Contains(st.Error, "exited (signal: killed)") {
			t.Fatalf("after exit %d: %+v", i+1, st)
		}
		clk.Advance(want - time.Millisecond)
		if n := l.launches(); n != i+1 {
			t.Fatalf("restarted before the backoff ended: %d launches", n)
		}
		clk.Advance(time.Millisecond)
		testutil.Eventually(t, 10*time.Second, "the restart", func() bool {
			st := e.status()
			return st.State == StateRunning && st.Restarts == i+1 && st.PID == 100+i+1
		})
	}

	// A process that ran a minute resets the backoff.
	clk.Advance(time.Minute)
	l.proc(7).exit()
	if got := waitRetry(t, e, clk); got != time.Second {
		t.Fatalf("restart after a healthy minute scheduled in %s, want 1s", got)
	}
}

func TestSupervisorHealth(t *testing.T) {
	const interval = 10 * time.Second
	clk := clock.NewFake(time.Unix(1000, 0))
	impl := &fakeBase{kind: sdk.KindRuntime}
	l := &fakeLauncher{impl: impl}
	e := runEntry(t, l, clk, interval)
	waitState(t, e, StateRunning)

	// The fake clock moves only here, so that the ticker fires exactly
	// once per tick: sinceTick is how far the clock is past the last one.
	var sinceTick time.Duration
	tick := func() {
		t.Helper()
		n := impl.calls()
		clk.Advance(interval - sinceTick)
		sinceTick = 0
		testutil.Eventually(t, 10*time.Second, "a health check", func() bool { return impl.calls() > n })
	}
	timeout := func() {
		clk.Advance(healthTimeout(interval))
		sinceTick += healthTimeout(interval)
	}

	// A live plugin reporting a problem is unhealthy, never restarted.
	impl.set(func(f *fakeBase) { f.healthErr = fmt.Errorf("engine unreachable: %w", sdk.ErrUnavailable) })
	for range 4 {
		tick()
		st := waitState(t, e, StateUnhealthy)
		if !strings.Contains(st.Error, "engine unreachable") {
			t.Fatalf("unhealthy error = %q", st.Error)
		}
	}
	if n := l.launches(); n != 1 {
		t.Fatalf("a plugin error restarted the plugin: %d launches", n)
	}
	impl.set(func(f *fakeBase) { f.healthErr = nil })
	tick()
	waitState(t, e, StateRunning)

	// No answer within the timeout, three times in a row: restart.
	impl.set(func(f *fakeBase) { f.healthHang = true })
	for i := range transportStrikes {
		tick()
		timeout()
		if i < transportStrikes-1 {
			st := waitState(t, e, StateUnhealthy)
			if !strings.Contains(st.Error, "no answer in 5s") {
				t.Fatalf("strike %d: error = %q", i+1, st.Error)
			}
		}
	}
	st := waitState(t, e, StateRestarting)
	if !strings.Contains(st.Error, "did not answer 3 health checks") {
		t.Fatalf("restart error = %q", st.Error)
	}
	testutil.Eventually(t, 10*time.Second, "the unresponsive process to be killed", func() bool {
		select {
		case <-l.proc(0).stopped:
			return true
		default:
			return false
		}
	})

	// A broken connection counts as a transport failure too.
	impl.set(func(f *fakeBase) { f.healthHang = false; f.healthErr = errors.New("connection refused") })
	l.mu.Lock()
	l.pingErr = errors.New("transport is closing")
	l.mu.Unlock()
	clk.Advance(waitRetry(t, e, clk))
	// The check made at start fails too: unhealthy from the start, and
	// that check is no strike.
	if st := waitState(t, e, StateUnhealthy); !strings.Contains(st.Error, "connection refused") {
		t.Fatalf("unhealthy at start: error = %q", st.Error)
	}
	sinceTick = 0 // the new process has a new ticker
	for range transportStrikes {
		tick()
	}
	waitState(t, e, StateRestarting)
	if n := l.launches(); n != 2 {
		t.Fatalf("launches = %d, want 2", n)
	}
}

func TestSupervisorFailsWithoutRetryWhenTheOperatorMustAct(t *testing.T) {
	tests := []struct {
		name      string
		launcher  *fakeLauncher
		wantError string
	}{
		{
			name:      "configure error",
			launcher:  &fakeLauncher{impl: &fakeBase{kind: sdk.KindRuntime, configureErr: errors.New("setting host: bad url")}},
			wantError: "configure plugin runtime-fake: setting host: bad url (fix its settings under plugins.config.runtime-fake and restart hive)",
		},
		{
			name:      "wrong kind",
			launcher:  &fakeLauncher{impl: &fakeBase{kind: sdk.KindScheduler}},
			wantError: "plugin runtime-fake is a scheduler plugin, not a runtime plugin",
		},
		{
			name:      "first start fails",
			launcher:  &fakeLauncher{launchErr: errors.New("exec: permission denied")},
			wantError: "start plugin runtime-fake: exec: permission denied",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewFake(time.Unix(1000, 0))
			e := runEntry(t, tt.launcher, clk, time.Hour)
			st := waitState(t, e, StateFailed)
			if !strings.Contains(st.Error, tt.wantError) {
				t.Fatalf("error = %q, want it to contain %q", st.Error, tt.wantError)
			}
			err := e.waitReady(context.Background())
			if err == nil || !errors.Is(err, sdk.ErrUnavailable) || !strings.Contains(err.Error(), "plugin runtime-fake has failed") {
				t.Fatalf("waitReady = %v", err)
			}
			clk.Advance(time.Hour)
			if n := tt.launcher.launches(); n > 1 {
				t.Fatalf("failed plugin was restarted: %d launches", n)
			}
			if tt.name == "configure error" {
				got := tt.launcher.impl.(*fakeBase).configured
				if got["k"] != "v" {
					t.Fatalf("Configure got %v", got)
				}
			}
		})
	}
}

func TestProxyCallsFailFastWhileDown(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	impl := &fakeBase{kind: sdk.KindRuntime}
	l := &fakeLauncher{impl: impl}
	e := runEntry(t, l, clk, time.Hour)
	p := base{e}

	if err := p.WaitReady(context.Background()); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	if err := p.Health(context.Background()); err != nil {
		t.Fatalf("Health through the proxy: %v", err)
	}

	l.proc(0).exit()
	waitState(t, e, StateRestarting)
	err := p.Health(context.Background())
	if !errors.Is(err, sdk.ErrUnavailable) || !strings.HasPrefix(err.Error(), "plugin runtime-fake is restarting: process 100 exited") {
		t.Fatalf("Health while restarting = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.WaitReady(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitReady with a cancelled context = %v", err)
	}

	clk.Advance(waitRetry(t, e, clk))
	if err := p.WaitReady(context.Background()); err != nil {
		t.Fatalf("WaitReady after restart: %v", err)
	}
	if _, err := p.Describe(context.Background()); err != nil {
		t.Fatalf("Describe after restart: %v", err)
	}
}

func TestProxyCallInFlightWhenThePluginGoesDownIsUnavailable(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	impl := &fakeBase{kind: sdk.KindRuntime}
	l := &fakeLauncher{impl: impl}
	e := runEntry(t, l, clk, time.Hour)
	waitState(t, e, StateRunning)
	impl.set(func(f *fakeBase) { f.healthHang = true })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	entered := make(chan struct{})
	go func() {
		errc <- call0(ctx, e, func(b sdk.Base) error {
			close(entered)
			// The client sees its connection closed under it when the
			// supervisor kills the process.
			<-l.proc(0).stopped
			return errors.New("grpc: the client connection is closing")
		})
	}()
	<-entered
	l.proc(0).exit()
	err := <-errc
	if !errors.Is(err, sdk.ErrUnavailable) || !strings.Contains(err.Error(), "connection is closing") {
		t.Fatalf("in-flight call = %v", err)
	}
}
