package runtime

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hiveorch/hive/plugins/sdk"
)

// Signal numbers the Fake knows, as on Linux.
var signalNumbers = map[string]int{
	"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "BUS": 7, "FPE": 8,
	"KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
	"CHLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "WINCH": 28,
}

const (
	sigINT  = 2
	sigKILL = 9
	sigTERM = 15
)

// parseSignal reads "SIGTERM", "TERM", "sigterm" or "15".
func parseSignal(s string) (int, error) {
	name := strings.ToUpper(strings.TrimSpace(s))
	if n, err := strconv.Atoi(name); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal number %d", n)
		}
		return n, nil
	}
	if n, ok := signalNumbers[strings.TrimPrefix(name, "SIG")]; ok {
		return n, nil
	}
	return 0, fmt.Errorf("unknown signal %q (want a name such as SIGTERM, or a number)", s)
}

// terminates reports whether a process that does not handle sig dies of it
// (as a Go program does for these; it ignores the others).
func terminates(sig int) bool {
	switch sig {
	case 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 14, 15:
		return true
	}
	return false
}

// Start runs a created or exited container. Starting a running one does
// nothing.
func (f *Fake) Start(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.beginLocked("Start"); err != nil {
		return err
	}
	c, err := f.lookupLocked("start", id)
	if err != nil {
		return err
	}
	if c.running() {
		return nil
	}
	if _, _, err := parseUser(c.spec.User); err != nil {
		return errorf(sdk.ErrInvalidArgument, "start %s: %v", c.state.Name, err)
	}
	ports, err := f.bindPortsLocked(c)
	if err != nil {
		return err
	}
	f.runs++
	n := f.runs + 1 // 10.0.0.2 is the first address
	c.state.State = StateRunning
	c.state.PID = 1000 + f.runs
	c.state.ExitCode = 0
	c.state.Error = ""
	c.state.StartedAt = f.now()
	c.state.FinishedAt = time.Time{}
	c.state.Addresses = []string{fmt.Sprintf("10.0.%d.%d", n/256, n%256)}
	c.state.Ports = ports
	c.exited = make(chan struct{})
	c.health = forcedHealth{}
	c.tmpfs = map[string]map[string][]byte{}
	for _, m := range c.spec.Mounts {
		switch m.Type {
		case MountTmpfs:
			c.tmpfs[m.Target] = map[string][]byte{}
		case MountVolume:
			if f.volumes[m.Source] == nil {
				f.volumes[m.Source] = map[string][]byte{}
			}
		}
	}
	f.runLocked(c)
	return nil
}

// bindPortsLocked returns the container's port bindings with a host port
// chosen for those that ask for any, or an error naming the running
// container that already holds a wanted host port.
func (f *Fake) bindPortsLocked(c *fakeContainer) ([]PortBinding, error) {
	ports := slices.Clone(c.spec.Ports)
	for i := range ports {
		if ports[i].Protocol == "" {
			ports[i].Protocol = "tcp"
		}
		if ports[i].HostPort == 0 {
			continue
		}
		for _, other := range f.containers {
			if other == c || !other.running() {
				continue
			}
			for _, op := range other.state.Ports {
				sameIP := op.HostIP == "" || ports[i].HostIP == "" || op.HostIP == ports[i].HostIP
				if op.HostPort == ports[i].HostPort && op.Protocol == ports[i].Protocol && sameIP {
					return nil, errorf(sdk.ErrFailedPrecondition, "start %s: host port %d/%s is already in use by container %s",
						c.state.Name, ports[i].HostPort, ports[i].Protocol, other.state.Name)
				}
			}
		}
	}
	for i := range ports {
		if ports[i].HostPort == 0 {
			ports[i].HostPort = f.nextPort
			f.nextPort++
		}
	}
	return ports, nil
}

// Stop signals a running container and kills it if the signal does not
// end it; the grace period passes at once. Stopping a stopped container
// does nothing.
func (f *Fake) Stop(ctx context.Context, id string, opts StopOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.beginLocked("Stop"); err != nil {
		return err
	}
	c, err := f.lookupLocked("stop", id)
	if err != nil {
		return err
	}
	if !c.running() {
		return nil
	}
	name := opts.Signal
	if name == "" {
		name = c.spec.StopSignal
	}
	if name == "" {
		name = "SIGTERM"
	}
	sig, err := parseSignal(name)
	if err != nil {
		return errorf(sdk.ErrInvalidArgument, "stop %s: %v", id, err)
	}
	f.signalLocked(c, sig)
	if c.running() {
		f.exitLocked(c, 128+sigKILL)
	}
	return nil
}

// Kill sends signal (SIGKILL when empty) to a running container.
func (f *Fake) Kill(ctx context.Context, id string, signal string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.beginLocked("Kill"); err != nil {
		return err
	}
	c, err := f.lookupLocked("kill", id)
	if err != nil {
		return err
	}
	if signal == "" {
		signal = "SIGKILL"
	}
	sig, err := parseSignal(signal)
	if err != nil {
		return errorf(sdk.ErrInvalidArgument, "kill %s: %v", id, err)
	}
	if !c.running() {
		return errorf(sdk.ErrFailedPrecondition, "kill %s: the container is not running", id)
	}
	f.signalLocked(c, sig)
	return nil
}

// signalLocked delivers sig to a running container, which exits or not
// depending on its program (see Fake).
func (f *Fake) signalLocked(c *fakeContainer, sig int) {
	switch {
	case sig == sigKILL:
		f.exitLocked(c, 128+sigKILL)
	case c.ignoreStop:
	case sig == sigTERM && c.prog.cmd == "ignore-term":
	case (sig == sigTERM || sig == sigINT) && c.prog.cmd != "ignore-term":
		if c.prog.cmd == "serve" {
			f.logLocked(c, StreamStdout, "shutting down")
		} else if c.prog.known {
			f.logLocked(c, StreamStdout, "stopping")
		}
		f.exitLocked(c, 0)
	case terminates(sig):
		f.exitLocked(c, 128+sig)
	}
}

// exitLocked ends the current run of a running container.
func (f *Fake) exitLocked(c *fakeContainer, code int) {
	c.state.State = StateExited
	c.state.ExitCode = code
	c.state.PID = 0
	c.state.FinishedAt = f.now()
	c.state.Addresses = nil
	close(c.exited)
	c.wakeLogs()
}

// Remove deletes a container; a running one only with Force (it is killed
// first). Named volumes stay.
func (f *Fake) Remove(ctx context.Context, id string, opts RemoveOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.beginLocked("Remove"); err != nil {
		return err
	}
	c, err := f.lookupLocked("remove", id)
	if err != nil {
		return err
	}
	if c.running() {
		if !opts.Force {
			return errorf(sdk.ErrFailedPrecondition, "remove %s: the container is running: stop it first or remove it with Force", id)
		}
		f.exitLocked(c, 137)
	}
	delete(f.containers, c.state.ID)
	delete(f.byName, c.state.Name)
	return nil
}

// Wait returns at once for a container that is not running, and otherwise
// blocks until it stops, ctx is done, or the Fake goes down.
func (f *Fake) Wait(ctx context.Context, id string) (*ExitStatus, error) {
	f.mu.Lock()
	if err := f.beginLocked("Wait"); err != nil {
		f.mu.Unlock()
		return nil, err
	}
	c, err := f.lookupLocked("wait", id)
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	if !c.running() {
		defer f.mu.Unlock()
		return c.exitStatus(), nil
	}
	exited, down := c.exited, f.downCh
	f.mu.Unlock()

	select {
	case <-exited:
		f.mu.Lock()
		defer f.mu.Unlock()
		return c.exitStatus(), nil
	case <-down:
		return nil, errorf(sdk.ErrUnavailable, "wait %s: fake runtime went down", id)
	case <-ctx.Done():
		return nil, fmt.Errorf("wait %s: %w", id, ctx.Err())
	}
}

func (c *fakeContainer) exitStatus() *ExitStatus {
	return &ExitStatus{ExitCode: c.state.ExitCode, Error: c.state.Error, FinishedAt: c.state.FinishedAt}
}

// Stats returns a fixed sample for a running container (8 MiB of memory,
// or half the limit when that is lower, the spec's memory limit or 1 GiB,
// one more millisecond of CPU time at each call, 1 KiB more received and
// 512 bytes more sent, one process, two CPUs; no block I/O is known) and
// a zero sample for a stopped one.
func (f *Fake) Stats(ctx context.Context, id string) (*Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.beginLocked("Stats"); err != nil {
		return nil, err
	}
	c, err := f.lookupLocked("stats", id)
	if err != nil {
		return nil, err
	}
	st := &Stats{Time: f.now()}
	if !c.running() {
		return st, nil
	}
	c.cpuNanos += uint64(time.Millisecond)
	c.netBytes += 512
	st.Known = StatsCPU | StatsMemory | StatsMemoryLimit | StatsNetwork | StatsPIDs
	st.CPUNanos, st.OnlineCPUs = c.cpuNanos, 2
	st.NetRxBytes, st.NetTxBytes = 2*c.netBytes, c.netBytes
	st.PIDs = 1
	st.MemoryBytes, st.MemoryLimit = 8<<20, 1<<30
	if limit := c.spec.Resources.MemoryBytes; limit > 0 {
		st.MemoryLimit = uint64(limit)
		st.MemoryBytes = min(st.MemoryBytes, st.MemoryLimit/2)
	}
	return st, nil
}
