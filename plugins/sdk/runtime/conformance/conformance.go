// Package conformance is the runtime plugin kind's conformance suite: the
// behaviour hive's agent relies on, checked against a real Runtime. A
// runtime plugin's author runs it from a test of their own:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, func(t *testing.T) runtime.Runtime {
//			return runtime.NewHarness(t, mydriver.New())
//		}, conformance.Options{})
//	}
//
// Going through runtime.NewHarness checks the plugin as hive sees it, over
// gRPC. The suite runs hive's test image (acceptance/testimage, tagged
// hive-test/web:v1 by its build.sh), which must be available to the
// runtime: already there, found by EnsureImage, or loaded by
// Options.LoadImage (DockerSave helps); with Options.PullImage it also
// checks a real pull from a registry (StartRegistry and PushWithDocker
// help), and with Options.PrivateImage a pull from a registry that needs
// credentials (PushPrivate helps). Every container it creates carries the label hive.test=1 and a
// label naming the run, and is removed when the test ends, pass or fail.
package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// Options tune Run.
type Options struct {
	// Image is the test image; "hive-test/web:v1" when empty.
	Image string
	// Timeout bounds each call of the suite and each wait for a container
	// to reach a state; 30s when zero.
	Timeout time.Duration
	// LabelPrefix prefixes the keys of the labels the suite sets besides
	// hive.test=1 (such as LabelPrefix+"run"); "hive.conformance." when
	// empty.
	LabelPrefix string
	// SkipPorts skips the checks that reach containers over the network
	// (host ports, the container's address), for runtimes that have none
	// (runtime.Fake).
	SkipPorts bool
	// SkipBadCommand skips the check that a missing command fails, for
	// runtimes that run no real processes (runtime.Fake).
	SkipBadCommand bool
	// LoadImage, when set, is called once before the checks with Image,
	// to make it available to a runtime that cannot pull it (import it
	// into the runtime's image store, from DockerSave's output say).
	LoadImage func(ctx context.Context, ref string) error
	// PullImage, when set, returns a reference to the test image that the
	// runtime does not have but can pull (pushed to a registry the test
	// runs: StartRegistry and PushWithDocker), for the pull check.
	PullImage func(t *testing.T) string
	// PrivateImage, when set, returns a reference to the test image that
	// the runtime does not have, in a registry that serves it only with
	// the credential returned (PushPrivate), for the check that a pull
	// needs and uses it.
	PrivateImage func(t *testing.T) (string, runtime.RegistryAuth)
	// RemoveVolume, when set, is called at the end with each named volume
	// the suite made the runtime create, so that nothing is left behind.
	// The Runtime interface has no call to remove a volume.
	RemoveVolume func(ctx context.Context, name string) error
	// SkipHealth skips the health-check tests, for runtimes that cannot
	// run a container's health check.
	SkipHealth bool
}

// Run runs the suite. newRuntime returns the runtime to check; the suite
// calls it once for most checks and once more to check that a second
// instance adopts the containers of the first (as hive's agent does after
// a restart), so both must drive the same engine.
func Run(t *testing.T, newRuntime func(t *testing.T) runtime.Runtime, opts Options) {
	t.Helper()
	if opts.Image == "" {
		opts.Image = "hive-test/web:v1"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.LabelPrefix == "" {
		opts.LabelPrefix = "hive.conformance."
	}
	s := &suite{opts: opts, newRuntime: newRuntime, runID: randomID()}
	s.rt = newRuntime(t)
	t.Cleanup(func() { s.sweep(t) })
	if opts.LoadImage != nil {
		if err := opts.LoadImage(s.ctx(t), opts.Image); err != nil {
			t.Fatalf("Options.LoadImage(%s) = %v", opts.Image, err)
		}
	}

	for _, c := range []struct {
		name string
		run  func(t *testing.T)
	}{
		{"describe names a runtime plugin and health is ok", s.testDescribe},
		{"lifecycle create start stop remove", s.testLifecycle},
		{"wait reports the exit code", s.testExitCode},
		{"wait on an exited container returns at once", s.testWaitExited},
		{"stop kills a container that ignores the stop signal", s.testStopKills},
		{"stop sends the requested stop signal", s.testStopSignal},
		{"logs select lines by tail stream and time", s.testLogs},
		{"logs follow delivers new lines and ends when the container exits", s.testLogsFollow},
		{"logs follow ends when the context is cancelled", s.testLogsFollowCancel},
		{"list filters by label and includes exited containers", s.testList},
		{"a taken name is already exists", s.testDuplicateName},
		{"a missing image is not found", s.testMissingImage},
		{"a missing container is not found", s.testMissingContainer},
		{"env reaches the process", s.testEnv},
		{"user and working dir apply", s.testUser},
		{"mounts", s.testMounts},
		{"dns servers replace the node's in resolv.conf", s.testDNS},
		{"a dns server that is not an ip address is invalid", s.testDNSInvalid},
		{"resource limits are accepted", s.testResources},
		{"stats report memory of a running container", s.testStats},
		{"stats report CPU time that grows under load", s.testStatsCPUGrows},
		{"stats of a missing container is not found", s.testStatsMissing},
		{"a published host port is reachable", s.testHostPort},
		{"a new runtime instance adopts running containers", s.testAdoption},
		{"health checks report starting healthy and unhealthy", s.testHealth},
		{"a missing command fails without running", s.testBadCommand},
		{"kill ends a container with the signal's exit code", s.testKill},
		{"create needs the image and leaves nothing when it is missing", s.testCreateNeedsImage},
		{"a new runtime instance knows how a container ended", s.testAdoptExited},
		{"a running container is reachable at its address", s.testAddress},
		{"a host port bound on every address answers on loopback", s.testHostPortAllAddresses},
		{"a missing image is pulled from a registry", s.testPull},
		{"a pull from a registry that needs credentials fails without them with a clear error and works with them", s.testPrivatePull},
	} {
		t.Run(c.name, c.run)
	}
}

type suite struct {
	opts       Options
	newRuntime func(t *testing.T) runtime.Runtime
	rt         runtime.Runtime
	runID      string
	volumes    []string
}

func randomID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ctx returns a context that ends after the suite's timeout, or with t.
func (s *suite) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), s.opts.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// name returns a container name unique to the run.
func (s *suite) name(short string) string {
	return "hive-conf-" + s.runID + "-" + short
}

// labels returns the labels every container of the run carries, plus
// extra.
func (s *suite) labels(extra ...string) map[string]string {
	l := map[string]string{"hive.test": "1", s.opts.LabelPrefix + "run": s.runID}
	for i := 0; i+1 < len(extra); i += 2 {
		l[s.opts.LabelPrefix+extra[i]] = extra[i+1]
	}
	return l
}

// spec returns a spec of the test image that runs args.
func (s *suite) spec(short string, args ...string) *runtime.ContainerSpec {
	return &runtime.ContainerSpec{
		Name:        s.name(short),
		Image:       s.opts.Image,
		Args:        args,
		Labels:      s.labels(),
		StopTimeout: 10 * time.Second,
	}
}

// create makes sure the image is there, creates the container, and
// removes it when t ends.
func (s *suite) create(t *testing.T, spec *runtime.ContainerSpec) string {
	t.Helper()
	if err := s.rt.EnsureImage(s.ctx(t), spec.Image, nil, nil); err != nil {
		t.Fatalf("EnsureImage(%s) = %v; the suite needs the test image (acceptance/testimage/build.sh)", spec.Image, err)
	}
	id, err := s.rt.Create(s.ctx(t), spec)
	if err != nil {
		t.Fatalf("Create(%s) = %v", spec.Name, err)
	}
	if id == "" {
		t.Fatalf("Create(%s) returned an empty ID", spec.Name)
	}
	t.Cleanup(func() { s.remove(t, id) })
	return id
}

// run creates and starts a container.
func (s *suite) run(t *testing.T, spec *runtime.ContainerSpec) string {
	t.Helper()
	id := s.create(t, spec)
	if err := s.rt.Start(s.ctx(t), id); err != nil {
		t.Fatalf("Start(%s) = %v", spec.Name, err)
	}
	return id
}

// remove force-removes a container at the end of a test, whatever its
// state; it must already be gone or go now.
func (s *suite) remove(t *testing.T, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
	defer cancel()
	if err := s.rt.Remove(ctx, id, runtime.RemoveOptions{Force: true}); err != nil && !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("cleanup: Remove(%s, Force) = %v", id, err)
	}
}

// sweep removes whatever container of the run is left, then the volumes.
func (s *suite) sweep(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
	defer cancel()
	cs, err := s.rt.List(ctx, runtime.ListFilter{Labels: map[string]string{s.opts.LabelPrefix + "run": s.runID}})
	if err != nil {
		t.Errorf("cleanup: List = %v", err)
	}
	for _, c := range cs {
		if err := s.rt.Remove(ctx, c.ID, runtime.RemoveOptions{Force: true}); err != nil && !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("cleanup: Remove(%s, Force) = %v", c.Name, err)
		}
	}
	if s.opts.RemoveVolume == nil {
		return
	}
	for _, v := range s.volumes {
		if err := s.opts.RemoveVolume(ctx, v); err != nil {
			t.Errorf("cleanup: RemoveVolume(%s) = %v", v, err)
		}
	}
}

func (s *suite) inspect(t *testing.T, id string) *runtime.Container {
	t.Helper()
	c, err := s.rt.Inspect(s.ctx(t), id)
	if err != nil {
		t.Fatalf("Inspect(%s) = %v", id, err)
	}
	return c
}

func (s *suite) wait(t *testing.T, id string) *runtime.ExitStatus {
	t.Helper()
	st, err := s.rt.Wait(s.ctx(t), id)
	if err != nil {
		t.Fatalf("Wait(%s) = %v", id, err)
	}
	return st
}

func (s *suite) stop(t *testing.T, id string, opts runtime.StopOptions) {
	t.Helper()
	if err := s.rt.Stop(s.ctx(t), id, opts); err != nil {
		t.Fatalf("Stop(%s, %+v) = %v", id, opts, err)
	}
}

// logs returns every line the container printed so far.
func (s *suite) logs(t *testing.T, id string, opts runtime.LogOptions) []runtime.LogEntry {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), s.opts.Timeout)
	defer cancel()
	var out []runtime.LogEntry
	err := s.rt.Logs(ctx, id, opts, func(e runtime.LogEntry) error {
		out = append(out, e)
		return nil
	})
	if err != nil {
		t.Fatalf("Logs(%s, %+v) = %v", id, opts, err)
	}
	return out
}

// waitLog polls the container's output until it holds every line of want,
// and returns the output.
func (s *suite) waitLog(t *testing.T, id string, want ...string) []runtime.LogEntry {
	t.Helper()
	var got []runtime.LogEntry
	s.poll(t, "output "+strings.Join(want, ", "), func() (bool, string) {
		got = s.logs(t, id, runtime.LogOptions{Tail: -1})
		lines := lineStrings(got, "")
		for _, w := range want {
			if !slices.Contains(lines, w) {
				return false, "output so far: " + strings.Join(lines, " | ")
			}
		}
		return true, ""
	})
	return got
}

// poll calls check every 50ms until it holds or the suite's timeout ends,
// and then fails t with what the last check said.
func (s *suite) poll(t *testing.T, what string, check func() (ok bool, last string)) {
	t.Helper()
	deadline := time.Now().Add(s.opts.Timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, last := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; %s", s.opts.Timeout, what, last)
		}
		<-tick.C
	}
}

// lineStrings returns the lines of entries, of one stream or all ("").
func lineStrings(entries []runtime.LogEntry, stream string) []string {
	var out []string
	for _, e := range entries {
		if stream == "" || e.Stream == stream {
			out = append(out, string(e.Line))
		}
	}
	return out
}

func (s *suite) testDescribe(t *testing.T) {
	info, err := s.rt.Describe(s.ctx(t))
	if err != nil {
		t.Fatalf("Describe = %v", err)
	}
	if info.Kind != sdk.KindRuntime {
		t.Errorf("Describe().Kind = %q, want %q", info.Kind, sdk.KindRuntime)
	}
	if info.Name == "" {
		t.Errorf("Describe().Name is empty; a plugin must name itself")
	}
	if err := s.rt.Health(s.ctx(t)); err != nil {
		t.Errorf("Health = %v, want nil", err)
	}
}
