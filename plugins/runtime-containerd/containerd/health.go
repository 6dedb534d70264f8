package containerd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/pkg/cio"
	cerrdefs "github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// Docker's defaults for a health check's zero fields.
const (
	defaultHealthInterval = 30 * time.Second
	defaultHealthTimeout  = 30 * time.Second
	defaultHealthRetries  = 3
)

// healthOutputMax bounds the output of a check kept as the health log.
const healthOutputMax = 4096

// healthState is a running container's health, as Inspect reports it.
// The monitor keeps it in memory and in health.json in the container's
// directory, so that a new plugin process carries on from it.
type healthState struct {
	Status   string `json:"status"`
	Log      string `json:"log,omitempty"`
	Failures int    `json:"failures"`
}

// healthMonitor runs the health checks of running containers: containerd
// has none, so the plugin runs each check by exec in the container, on
// the check's interval, with Docker's rules for the start period and the
// retries.
type healthMonitor struct {
	r      *Runtime
	mu     sync.Mutex
	checks map[string]*healthRun
	states map[string]healthState
}

type healthRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func newHealthMonitor(r *Runtime) *healthMonitor {
	return &healthMonitor{r: r, checks: map[string]*healthRun{}, states: map[string]healthState{}}
}

// start begins checking container id with hc, unless it is checked
// already. fresh starts from "starting" (a new run); otherwise the state
// saved by an earlier plugin process is resumed.
func (m *healthMonitor) start(eng *engine, id string, hc *runtime.Healthcheck, fresh bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.checks[id]; ok {
		return
	}
	path := filepath.Join(eng.containerDir(id), "health.json")
	st := healthState{Status: runtime.HealthStarting}
	if !fresh {
		if b, err := os.ReadFile(path); err == nil {
			var saved healthState
			if json.Unmarshal(b, &saved) == nil && saved.Status != "" {
				st = saved
			}
		}
	}
	m.states[id] = st
	saveHealth(path, st)
	ctx, cancel := context.WithCancel(context.Background())
	run := &healthRun{cancel: cancel, done: make(chan struct{})}
	m.checks[id] = run
	go func() {
		defer close(run.done)
		m.loop(ctx, eng, id, hc, path)
	}()
}

// stop ends the checks of container id (its run ended); its state is no
// longer reported.
func (m *healthMonitor) stop(id string) {
	m.mu.Lock()
	run := m.checks[id]
	delete(m.checks, id)
	delete(m.states, id)
	m.mu.Unlock()
	if run != nil {
		run.cancel()
		<-run.done
	}
}

// forget is stop for a removed container.
func (m *healthMonitor) forget(id string) { m.stop(id) }

// stopAll ends every check (the Runtime is closing).
func (m *healthMonitor) stopAll() {
	m.mu.Lock()
	ids := make([]string, 0, len(m.checks))
	for id := range m.checks {
		ids = append(ids, id)
	}
	m.mu.Unlock()
	for _, id := range ids {
		m.stop(id)
	}
}

// state returns container id's health; the zero state (no health) when it
// is not checked.
func (m *healthMonitor) state(id string) healthState {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.states[id]
}

func (m *healthMonitor) set(id, path string, st healthState) {
	m.mu.Lock()
	if _, ok := m.checks[id]; !ok {
		m.mu.Unlock()
		return // stopped meanwhile
	}
	changed := m.states[id] != st
	m.states[id] = st
	m.mu.Unlock()
	if changed {
		saveHealth(path, st)
	}
}

func saveHealth(path string, st healthState) {
	b, _ := json.Marshal(st)
	tmp := path + ".tmp"
	if os.WriteFile(tmp, b, 0o600) == nil {
		_ = os.Rename(tmp, path)
	}
}

// loop runs the checks until ctx ends or the container stops running.
func (m *healthMonitor) loop(ctx context.Context, eng *engine, id string, hc *runtime.Healthcheck, path string) {
	interval, timeout, retries := hc.Interval, hc.Timeout, hc.Retries
	if interval <= 0 {
		interval = defaultHealthInterval
	}
	if timeout <= 0 {
		timeout = defaultHealthTimeout
	}
	if retries <= 0 {
		retries = defaultHealthRetries
	}
	startedAt := time.Now()
	if rec, err := eng.record(ctx, id); err == nil {
		if t := parseTime(rec.Labels[labelStartedAt]); !t.IsZero() {
			startedAt = t
		}
	}
	proc, err := eng.processSpec(ctx, id)
	if err != nil {
		m.r.logger.Warn("health check: read the container's process", "container_id", id, "error", err)
		return
	}
	args := healthArgs(hc.Test)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		code, out, err := eng.exec(ctx, id, proc, args, timeout)
		if ctx.Err() != nil {
			return
		}
		if err != nil && (errors.Is(err, sdk.ErrNotFound) || errors.Is(err, sdk.ErrFailedPrecondition)) {
			return // the container is not running any more
		}
		if err != nil && errors.Is(err, sdk.ErrUnavailable) {
			continue // containerd, not the container, failed: no verdict
		}
		st := m.state(id)
		if err == nil && code == 0 {
			m.set(id, path, healthState{Status: runtime.HealthHealthy})
			continue
		}
		msg := strings.TrimSpace(out)
		switch {
		case err != nil:
			msg = strings.TrimSpace(msg + " " + err.Error())
		case msg == "":
			msg = fmt.Sprintf("health check exited with %d", code)
		}
		st.Log = msg
		if time.Since(startedAt) >= hc.StartPeriod || st.Status != runtime.HealthStarting {
			st.Failures++
			if st.Failures >= retries {
				st.Status = runtime.HealthUnhealthy
			}
		}
		m.set(id, path, st)
	}
}

// healthArgs turns a check's test into the command to exec.
func healthArgs(test []string) []string {
	if len(test) > 0 && test[0] == "CMD-SHELL" {
		return []string{"/bin/sh", "-c", strings.Join(test[1:], " ")}
	}
	return test[1:]
}

// processSpec returns the container's process, which a check runs as
// (same user, environment and working directory).
func (e *engine) processSpec(ctx context.Context, id string) (*specs.Process, error) {
	ctr, err := e.client.LoadContainer(e.ctx(ctx), id)
	if err != nil {
		return nil, wrapErr(err, "container %s", id)
	}
	spec, err := ctr.Spec(e.ctx(ctx))
	if err != nil {
		return nil, wrapErr(err, "spec of container %s", id)
	}
	if spec.Process == nil {
		return nil, fmt.Errorf("spec of container %s has no process", id)
	}
	return spec.Process, nil
}

// exec runs args in the running container as proc runs, and returns its
// exit code and output. A check that outlives timeout is killed and
// fails.
func (e *engine) exec(ctx context.Context, id string, proc *specs.Process, args []string, timeout time.Duration) (int, string, error) {
	task, err := e.task(ctx, id)
	if err != nil {
		return 0, "", err
	}
	pspec := *proc
	pspec.Args = args
	pspec.Terminal = false
	out := &limitedBuffer{max: healthOutputMax}
	fifoDir := filepath.Join(e.Root, "fifo")
	if err := os.MkdirAll(fifoDir, 0o700); err != nil {
		return 0, "", err
	}
	execID := "health-" + newID()[:16]
	p, err := task.Exec(e.ctx(ctx), execID, &pspec, cio.NewCreator(cio.WithStreams(nil, out, out), cio.WithFIFODir(fifoDir)))
	if err != nil {
		return 0, "", wrapErr(err, "exec the health check")
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := p.Delete(e.ctx(dctx)); err != nil && !cerrdefs.IsNotFound(err) {
			_ = p.Kill(e.ctx(dctx), syscall.SIGKILL)
			_, _ = p.Delete(e.ctx(dctx))
		}
	}()
	exited, err := p.Wait(e.ctx(ctx))
	if err != nil {
		return 0, "", wrapErr(err, "exec the health check")
	}
	if err := p.Start(e.ctx(ctx)); err != nil {
		return 0, "", fmt.Errorf("start the health check %q: %w", strings.Join(args, " "), withKind(nil, err))
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case st := <-exited:
		p.IO().Wait()
		code, _, err := st.Result()
		if err != nil {
			return 0, "", wrapErr(err, "wait for the health check")
		}
		return int(code), out.String(), nil
	case <-timer.C:
		_ = p.Kill(e.ctx(ctx), syscall.SIGKILL)
		return -1, out.String(), fmt.Errorf("health check timed out after %s", timeout)
	case <-ctx.Done():
		_ = p.Kill(e.ctx(context.WithoutCancel(ctx)), syscall.SIGKILL)
		return 0, "", ctx.Err()
	}
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// checkHealthcheck checks a spec's health check.
func checkHealthcheck(h *runtime.Healthcheck) error {
	bad := func(why string) error {
		return fmt.Errorf("health check %q: %s: %w", h.Test, why, sdk.ErrInvalidArgument)
	}
	if len(h.Test) > 0 {
		switch h.Test[0] {
		case "NONE":
		case "CMD":
			if len(h.Test) < 2 {
				return bad("CMD needs a command")
			}
		case "CMD-SHELL":
			if len(h.Test) != 2 {
				return bad("CMD-SHELL takes one command string")
			}
		default:
			return bad(`the test must start with "CMD", "CMD-SHELL" or "NONE"`)
		}
	}
	if h.Interval < 0 || h.Timeout < 0 || h.StartPeriod < 0 || h.Retries < 0 {
		return bad("durations and retries must not be negative")
	}
	return nil
}

// effectiveHealthcheck merges a spec's check with the image's the way
// Docker does: no check in the spec keeps the image's, ["NONE"] disables
// it, an empty test keeps the image's test and zero fields the image's
// values. It returns nil for no check.
func effectiveHealthcheck(spec *runtime.Healthcheck, img *dockerHealthcheck) *runtime.Healthcheck {
	var out runtime.Healthcheck
	if img != nil {
		out = runtime.Healthcheck{Test: img.Test, Interval: img.Interval, Timeout: img.Timeout, StartPeriod: img.StartPeriod, Retries: img.Retries}
	}
	if spec != nil {
		if len(spec.Test) > 0 {
			out.Test = spec.Test
		}
		if spec.Interval > 0 {
			out.Interval = spec.Interval
		}
		if spec.Timeout > 0 {
			out.Timeout = spec.Timeout
		}
		if spec.StartPeriod > 0 {
			out.StartPeriod = spec.StartPeriod
		}
		if spec.Retries > 0 {
			out.Retries = spec.Retries
		}
	}
	if len(out.Test) < 2 || (out.Test[0] != "CMD" && out.Test[0] != "CMD-SHELL") {
		return nil
	}
	return &out
}

func encodeHealthcheck(h *runtime.Healthcheck) string {
	b, _ := json.Marshal(h)
	return string(b)
}

func decodeHealthcheck(s string) *runtime.Healthcheck {
	if s == "" {
		return nil
	}
	var h runtime.Healthcheck
	if json.Unmarshal([]byte(s), &h) != nil || len(h.Test) < 2 {
		return nil
	}
	return &h
}
