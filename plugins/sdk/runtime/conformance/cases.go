package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// The checks below complete the suite with what hive's agent and routing
// mesh rely on beyond the basic lifecycle: how a bad command and a kill
// end, that an image must be there before Create, that a new runtime
// instance knows how a container ended, that the routing mesh reaches a
// container at its address, that a host port bound on every address
// answers on the loopback one, and that a missing image is pulled.

// testBadCommand: a command the image does not have must not leave a
// container that looks as if it ran: Create or Start fails, or the
// container ends with a non-zero exit code, and Inspect agrees.
func (s *suite) testBadCommand(t *testing.T) {
	if s.opts.SkipBadCommand {
		t.Skip("Options.SkipBadCommand: the runtime runs no real processes")
	}
	spec := s.spec("bad-command")
	spec.Command = []string{"/no/such/program"}
	if err := s.rt.EnsureImage(s.ctx(t), spec.Image, nil, nil); err != nil {
		t.Fatalf("EnsureImage(%s) = %v", spec.Image, err)
	}
	id, err := s.rt.Create(s.ctx(t), spec)
	if err != nil {
		return // refused at once: fine
	}
	t.Cleanup(func() { s.remove(t, id) })
	if err := s.rt.Start(s.ctx(t), id); err != nil {
		if !strings.Contains(err.Error(), "/no/such/program") && !strings.Contains(err.Error(), "no such file") {
			t.Errorf("Start with a missing command = %q; the message should say what is missing", err)
		}
		if c := s.inspect(t, id); c.Running() {
			t.Errorf("Inspect after a failed Start: State %q, want not running", c.State)
		}
		return
	}
	st := s.wait(t, id)
	if st.ExitCode == 0 {
		t.Errorf("a container whose command does not exist exited 0, want a failure code")
	}
	if c := s.inspect(t, id); c.Running() || c.ExitCode != st.ExitCode {
		t.Errorf("Inspect after the exit: State %q ExitCode %d, want not running and %d as Wait said", c.State, c.ExitCode, st.ExitCode)
	}
}

// testKill: Kill ends a container with the signal's exit code (128+9 for
// SIGKILL), and killing a container that is not running is a failed
// precondition.
func (s *suite) testKill(t *testing.T) {
	id := s.run(t, s.spec("kill", "sleep"))
	if err := s.rt.Kill(s.ctx(t), id, ""); err != nil {
		t.Fatalf("Kill(SIGKILL by default) = %v", err)
	}
	if st := s.wait(t, id); st.ExitCode != 137 {
		t.Errorf("Wait after Kill = exit code %d, want 137", st.ExitCode)
	}
	if c := s.inspect(t, id); c.State != runtime.StateExited || c.ExitCode != 137 {
		t.Errorf("Inspect after Kill: State %q ExitCode %d, want %q 137", c.State, c.ExitCode, runtime.StateExited)
	}
	if err := s.rt.Kill(s.ctx(t), id, "SIGTERM"); !errors.Is(err, sdk.ErrFailedPrecondition) {
		t.Errorf("Kill of an exited container = %v, want an error wrapping sdk.ErrFailedPrecondition", err)
	}
}

// testCreateNeedsImage: Create does not pull; an image the runtime does
// not have is not found, and nothing is left behind.
func (s *suite) testCreateNeedsImage(t *testing.T) {
	spec := s.spec("no-image")
	spec.Image = "hive-test/no-such-image:" + s.runID
	id, err := s.rt.Create(s.ctx(t), spec)
	if err == nil {
		t.Cleanup(func() { s.remove(t, id) })
	}
	if !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("Create with an image the runtime lacks = %v, want an error wrapping sdk.ErrNotFound", err)
	}
	cs, err := s.rt.List(s.ctx(t), runtime.ListFilter{Labels: spec.Labels})
	if err != nil {
		t.Fatalf("List = %v", err)
	}
	for _, c := range cs {
		if c.Name == spec.Name {
			t.Errorf("a failed Create left container %s (%s)", c.Name, c.State)
		}
	}
}

// testAdoptExited: a new runtime instance (hive restarted) knows how a
// container ended while the old one ran: its exit code and end time.
func (s *suite) testAdoptExited(t *testing.T) {
	spec := s.spec("adopt-exited", "exit", "5")
	spec.Labels = s.labels("adopt-exited", s.runID)
	id := s.run(t, spec)
	s.wait(t, id)

	second := s.newRuntime(t)
	cs, err := second.List(s.ctx(t), runtime.ListFilter{Labels: spec.Labels})
	if err != nil {
		t.Fatalf("second instance: List = %v", err)
	}
	if len(cs) != 1 || cs[0].ID != id {
		t.Fatalf("second instance: List(adopt-exited label) = %d containers, want exactly %s", len(cs), id)
	}
	if c := cs[0]; c.State != runtime.StateExited || c.ExitCode != 5 || c.FinishedAt.IsZero() {
		t.Errorf("second instance: List = State %q ExitCode %d FinishedAt %v; want exited, 5, a time", c.State, c.ExitCode, c.FinishedAt)
	}
	st, err := second.Wait(s.ctx(t), id)
	if err != nil || st.ExitCode != 5 {
		t.Errorf("second instance: Wait = %+v, %v; want exit code 5 at once", st, err)
	}
}

// testAddress: hive's routing mesh forwards a published ingress port to
// a task at its address, so a running container's first address must be
// reachable from the node, and Inspect must report none once it exited.
func (s *suite) testAddress(t *testing.T) {
	if s.opts.SkipPorts {
		t.Skip("Options.SkipPorts: the runtime has no network to reach containers on")
	}
	spec := s.spec("address", "serve")
	spec.Env = []string{"PORT=8080"}
	id := s.run(t, spec)
	var c *runtime.Container
	s.poll(t, "an address in Inspect", func() (bool, string) {
		c = s.inspect(t, id)
		return len(c.Addresses) > 0, fmt.Sprintf("Addresses %v, State %q", c.Addresses, c.State)
	})
	if net.ParseIP(c.Addresses[0]) == nil {
		t.Fatalf("Inspect().Addresses[0] = %q, want an IP address", c.Addresses[0])
	}
	s.httpGet(t, "http://"+net.JoinHostPort(c.Addresses[0], "8080")+"/")
	s.stop(t, id, runtime.StopOptions{Timeout: 10 * time.Second})
	if c := s.inspect(t, id); len(c.Addresses) != 0 {
		t.Errorf("Inspect of an exited container: Addresses %v, want none (the mesh must not route to it)", c.Addresses)
	}
}

// testHostPortAllAddresses: a host-mode port with no host IP is bound on
// every address of the node, the loopback one included.
func (s *suite) testHostPortAllAddresses(t *testing.T) {
	if s.opts.SkipPorts {
		t.Skip("Options.SkipPorts: the runtime cannot publish host ports")
	}
	port := freePort(t)
	spec := s.spec("port-all", "serve")
	spec.Env = []string{"PORT=8080"}
	spec.Ports = []runtime.PortBinding{{Protocol: "tcp", ContainerPort: 8080, HostPort: port}}
	s.run(t, spec)
	s.httpGet(t, "http://127.0.0.1:"+strconv.Itoa(int(port))+"/")
}

// httpGet polls url until it answers 200 with a body.
func (s *suite) httpGet(t *testing.T, url string) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	s.poll(t, "GET "+url, func() (bool, string) {
		resp, err := client.Get(url)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) == "" {
			return false, fmt.Sprintf("status %d, body %q", resp.StatusCode, body)
		}
		return true, ""
	})
}

// testPull: with Options.PullImage, a reference the runtime does not have
// is pulled by EnsureImage (with progress), and a container runs from it.
func (s *suite) testPull(t *testing.T) {
	if s.opts.PullImage == nil {
		t.Skip("Options.PullImage is not set: no registry to pull from")
	}
	ref := s.opts.PullImage(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*s.opts.Timeout)
	defer cancel()
	s.pullAndRun(t, ctx, ref, nil, "pulled")
	if err := s.rt.EnsureImage(ctx, ref, nil, nil); err != nil {
		t.Errorf("EnsureImage(%s) once it is there = %v", ref, err)
	}
}

// pullAndRun pulls ref with auth (nil: anonymously), checks that the pull
// reported progress, and runs a container of it (named short) that must
// exit 0. Its messages never show auth's password or token.
func (s *suite) pullAndRun(t *testing.T, ctx context.Context, ref string, auth *runtime.RegistryAuth, short string) {
	t.Helper()
	progress := 0
	if err := s.rt.EnsureImage(ctx, ref, auth, func(runtime.PullProgress) { progress++ }); err != nil {
		msg := err.Error()
		if auth != nil {
			msg = redact(msg, *auth)
		}
		t.Fatalf("EnsureImage(%s) from the registry (credential %v) = %s", ref, auth, msg)
	}
	if progress == 0 {
		t.Errorf("EnsureImage(%s) pulled without reporting progress", ref)
	}
	spec := s.spec(short, "exit", "0")
	spec.Image = ref
	id := s.run(t, spec)
	if st := s.wait(t, id); st.ExitCode != 0 {
		t.Errorf("a container of the image %s pulled from the registry exited %d, want 0", ref, st.ExitCode)
	}
}
