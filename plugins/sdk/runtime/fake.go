package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hiveorch/hive/plugins/sdk"
)

// Fake is an in-memory Runtime for tests, with Docker's semantics where a
// test can observe them. hive's agent tests drive it directly or through
// NewHarness (to include the wire); it passes the runtime conformance
// suite with SkipPorts set, since it has no network.
//
// Images: EnsureImage pulls an image the fake's "registry" holds (added
// with AddImage, or any reference after AllowAnyImage(true)), reporting
// progress the first time; an unknown reference is an error wrapping
// sdk.ErrNotFound ("image not found: REF"). Create needs the image pulled,
// as Docker needs it local, so call EnsureImage first as hive's agent does.
// An image added with RequireAuth pulls only with the credential it names
// (else the PullDenied error); LastPullAuth tells which credential each
// EnsureImage call for a reference was given.
//
// Containers: Create (a taken name wraps sdk.ErrAlreadyExists), Start (the
// container runs with a PID, StartedAt and an address 10.0.x.y), Stop,
// Kill, Remove, Inspect, List, Wait, Logs and Stats behave as the Runtime
// interface says; Inspect and the other calls take a container's ID or
// name. Nothing really runs and nothing waits: a container is a state that
// changes at once. What it "does" when started comes from its command line,
// read as the test image's (acceptance/testimage) arguments, with or
// without a "/web" command:
//
//	exit N             prints "exiting with N", exits with N at once
//	print N            prints "line 1".."line N" and "err line" on stderr
//	ignore-term        prints "ignoring SIGTERM" and ignores SIGTERM
//	cat PATH           prints the file (see mounts below)
//	write PATH TEXT    writes the file, prints "wrote PATH"
//	whoami             prints "UID:GID CWD" from the spec's User and WorkingDir
//	env NAME...        prints NAME=value from the spec's Env
//	stat PATH...       prints each file's owner, mode, filesystem and content
//	serve (or nothing) prints "serving VERSION on :PORT" (exits 3 if CRASH is set)
//	sleep, or anything else: runs until stopped
//
// A command that fails (a missing file, a bad number) prints "web: ERROR"
// on stderr and exits with 2, as the image does. Files live in memory: a
// named volume is shared by the containers that mount it and outlives
// them, a tmpfs is private and emptied at each start, a bind mount reads
// and writes the host path for real, and a read-only mount refuses writes.
// Elsewhere a container may write at the root, in its working directory or
// beside a mount, and reads back only what it wrote; a container whose spec
// sets DNS also has an /etc/resolv.conf listing those nameservers, one
// "nameserver ADDR" line each, in order (the Fake has no node's search
// domains or options to add).
//
// Signals: Stop sends StopOptions.Signal, else the spec's StopSignal, else
// SIGTERM. A container exits with 0 on SIGTERM or SIGINT (but ignore-term
// ignores SIGTERM, and dies of SIGINT with 130; under Docker the image,
// being PID 1, exits with 2), with 128+N on another terminating signal,
// and with 137 on SIGKILL. A container that ignores
// the stop signal, or that IgnoreStop marked, is killed (137) when the
// grace period ends, which it does at once. Times come from the clock set
// with SetClock (time.Now by default).
//
// Health checks: a container has the health check of its spec, merged
// with its image's (SetImageHealthcheck) the way Docker merges them (an
// empty Test keeps the image's test, zero durations the image's; ["NONE"]
// disables it). While it runs, a container with a check reports Health
// "starting", then, at the first check (Interval after the start, 30s by
// default), "healthy" if the check passes; a failing check makes it
// "unhealthy" once Retries (3) checks after StartPeriod have failed, with
// HealthLog "health check exited with 1". A check passes when the
// container serves (the serve program, or a program the Fake does not
// know) and its Env does not set UNHEALTHY, as the test image's /healthz.
// Time is the Fake's clock, read when the container is inspected or
// listed; SetHealth overrides the result for the current run.
//
// Test controls: AddImage, AllowAnyImage, RequireAuth, LastPullAuth,
// AddLog, Exit, IgnoreStop,
// SetImageHealthcheck, SetHealth, Spec (the spec a container was created
// with),
// SetDown (every call fails wrapping sdk.ErrUnavailable and in-flight
// Waits and Logs return that error), FailNext (the next call of a method
// returns a given error), Calls (the methods called, in order),
// Containers, Images and Settings.
//
// A Fake is safe for concurrent use. The zero value is not usable; call
// NewFake.
type Fake struct {
	mu         sync.Mutex
	now        func() time.Time
	anyImage   bool
	registry   map[string]bool          // images EnsureImage can pull
	local      map[string]bool          // images pulled
	needAuth   map[string]RegistryAuth  // images that pull only with this credential
	pullAuth   map[string]*RegistryAuth // ref -> the credential of its last EnsureImage
	containers map[string]*fakeContainer
	byName     map[string]string // name -> ID
	volumes    map[string]map[string][]byte
	down       bool
	downCh     chan struct{} // closed while the fake is down
	calls      []string
	failNext   map[string][]error
	settings   map[string]string
	imageHC    map[string]*Healthcheck // images' own health checks
	seq        int                     // containers created
	runs       int                     // container starts, for PIDs and addresses
	nextPort   uint32
}

// fakeContainer is one container of a Fake; every field is guarded by the
// Fake's mutex.
type fakeContainer struct {
	seq        int
	state      Container
	spec       ContainerSpec
	prog       program
	ignoreStop bool
	files      map[string][]byte            // the container's own layer
	tmpfs      map[string]map[string][]byte // mount target -> files
	logs       []LogEntry
	logWake    chan struct{} // closed and replaced when logs grow or the container stops
	exited     chan struct{} // closed when the current run ends
	cpuNanos   uint64
	netBytes   uint64
	check      *Healthcheck // the health check in effect, nil for none
	health     forcedHealth // set by SetHealth for the current run
}

// FakeVersion is the version the Fake's Describe reports.
const FakeVersion = "1.0.0"

// fakeErr is an error of the Fake: a message that reads well, wrapping one
// of the SDK's error kinds.
type fakeErr struct {
	msg  string
	kind error
}

func (e *fakeErr) Error() string { return e.msg }
func (e *fakeErr) Unwrap() error { return e.kind }

func errorf(kind error, format string, args ...any) error {
	return &fakeErr{msg: fmt.Sprintf(format, args...), kind: kind}
}

var _ Runtime = (*Fake)(nil)

// NewFake returns an empty Fake: no images, no containers, time.Now as its
// clock.
func NewFake() *Fake {
	return &Fake{
		now:        time.Now,
		registry:   map[string]bool{},
		local:      map[string]bool{},
		needAuth:   map[string]RegistryAuth{},
		pullAuth:   map[string]*RegistryAuth{},
		containers: map[string]*fakeContainer{},
		byName:     map[string]string{},
		volumes:    map[string]map[string][]byte{},
		downCh:     make(chan struct{}),
		failNext:   map[string][]error{},
		imageHC:    map[string]*Healthcheck{},
		nextPort:   32768,
	}
}

// SetClock sets the function the Fake reads the time from (nil restores
// time.Now).
func (f *Fake) SetClock(now func() time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now == nil {
		now = time.Now
	}
	f.now = now
}

// AddImage puts images in the Fake's registry, so that EnsureImage can
// pull them.
func (f *Fake) AddImage(refs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range refs {
		f.registry[r] = true
	}
}

// AllowAnyImage makes EnsureImage pull any reference (on), or only those
// added with AddImage (off, the default).
func (f *Fake) AllowAnyImage(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.anyImage = on
}

// Images returns the images pulled so far, sorted.
func (f *Fake) Images() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.local))
}

// SetDown takes the Fake's "engine" down (every call then fails with an
// error wrapping sdk.ErrUnavailable, and calls blocked in Wait or in a
// followed Logs return such an error) or brings it back. Containers keep
// their state meanwhile.
func (f *Fake) SetDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if down == f.down {
		return
	}
	f.down = down
	if down {
		close(f.downCh)
	} else {
		f.downCh = make(chan struct{})
	}
}

// FailNext makes the next call of method (a Runtime method name, such as
// "Start") return err. Several calls queue errors for as many calls.
func (f *Fake) FailNext(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext[method] = append(f.failNext[method], err)
}

// Calls returns the names of the Runtime methods called so far, in order.
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Settings returns the settings of the last Configure.
func (f *Fake) Settings() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.settings)
}

// Containers returns every container, in creation order.
func (f *Fake) Containers() []*Container {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sortedLocked(nil)
}

// Exit makes a running container exit with code, as if its process ended.
func (f *Fake) Exit(id string, code int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookupLocked("exit", id)
	if err != nil {
		return err
	}
	if !c.running() {
		return errorf(sdk.ErrFailedPrecondition, "exit %s: container is not running", id)
	}
	f.exitLocked(c, code)
	return nil
}

// IgnoreStop makes a container ignore every signal but SIGKILL, so that
// Stop ends by killing it (exit code 137).
func (f *Fake) IgnoreStop(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookupLocked("ignore stop", id)
	if err != nil {
		return err
	}
	c.ignoreStop = true
	return nil
}

// beginLocked records a call of method and returns the error it must fail
// with, if any: the Fake is down, or FailNext queued one.
func (f *Fake) beginLocked(method string) error {
	f.calls = append(f.calls, method)
	if f.down {
		return errorf(sdk.ErrUnavailable, "%s: fake runtime is down", method)
	}
	if q := f.failNext[method]; len(q) > 0 {
		f.failNext[method] = q[1:]
		return q[0]
	}
	return nil
}

// begin is beginLocked for a call that needs no more of the lock.
func (f *Fake) begin(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.beginLocked(method)
}

func (f *Fake) lookupLocked(op, idOrName string) (*fakeContainer, error) {
	if c, ok := f.containers[idOrName]; ok {
		return c, nil
	}
	if id, ok := f.byName[idOrName]; ok {
		return f.containers[id], nil
	}
	return nil, errorf(sdk.ErrNotFound, "%s: no such container: %s", op, idOrName)
}

func (f *Fake) sortedLocked(keep func(*fakeContainer) bool) []*Container {
	cs := make([]*fakeContainer, 0, len(f.containers))
	for _, c := range f.containers {
		if keep == nil || keep(c) {
			cs = append(cs, c)
		}
	}
	slices.SortFunc(cs, func(a, b *fakeContainer) int { return a.seq - b.seq })
	out := make([]*Container, len(cs))
	for i, c := range cs {
		out[i] = c.snapshot(f.now())
	}
	return out
}

// Describe reports the Fake as "runtime-fake".
func (f *Fake) Describe(ctx context.Context) (sdk.Info, error) {
	if err := f.begin("Describe"); err != nil {
		return sdk.Info{}, err
	}
	return sdk.Info{
		Name:         "runtime-fake",
		Kind:         sdk.KindRuntime,
		Version:      FakeVersion,
		Capabilities: []string{"logs.follow", "stats"},
	}, nil
}

// Configure records settings (see Settings); it accepts any.
func (f *Fake) Configure(ctx context.Context, settings map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.beginLocked("Configure"); err != nil {
		return err
	}
	f.settings = maps.Clone(settings)
	return nil
}

// Health is nil unless the Fake is down or FailNext says otherwise.
func (f *Fake) Health(ctx context.Context) error {
	return f.begin("Health")
}

// EnsureImage pulls ref from the Fake's registry the first time, reporting
// progress, and does nothing for an image already pulled. It records auth
// (see LastPullAuth); an image added with RequireAuth needs that
// credential.
func (f *Fake) EnsureImage(ctx context.Context, ref string, auth *RegistryAuth, progress func(PullProgress)) error {
	f.mu.Lock()
	if err := f.beginLocked("EnsureImage"); err != nil {
		f.mu.Unlock()
		return err
	}
	if ref == "" {
		f.mu.Unlock()
		return errorf(sdk.ErrInvalidArgument, "ensure image: empty image reference")
	}
	f.recordAuthLocked(ref, auth)
	if f.local[ref] {
		f.mu.Unlock()
		return nil
	}
	if !f.anyImage && !f.registry[ref] {
		f.mu.Unlock()
		return errorf(sdk.ErrNotFound, "image not found: %s", ref)
	}
	if err := f.checkAuthLocked(ref, auth); err != nil {
		f.mu.Unlock()
		return err
	}
	f.mu.Unlock()

	steps := []PullProgress{
		{Status: "Pulling from " + ref},
		{Status: "Pulling fs layer", Layer: "fa4e1a7e"},
		{Status: "Downloading", Layer: "fa4e1a7e", Current: 512, Total: 1024},
		{Status: "Downloading", Layer: "fa4e1a7e", Current: 1024, Total: 1024},
		{Status: "Pull complete", Layer: "fa4e1a7e"},
		{Status: "Downloaded newer image for " + ref},
	}
	for _, p := range steps {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("pull %s: %w", ref, err)
		}
		if progress != nil {
			progress(p)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.local[ref] = true
	return nil
}

// Create creates a container in state "created".
func (f *Fake) Create(ctx context.Context, spec *ContainerSpec) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.beginLocked("Create"); err != nil {
		return "", err
	}
	if spec == nil {
		return "", errorf(sdk.ErrInvalidArgument, "create: no container spec")
	}
	if err := validateSpec(spec); err != nil {
		return "", err
	}
	if !f.local[spec.Image] {
		return "", errorf(sdk.ErrNotFound, "create %s: image not found: %s (pull it with EnsureImage first)", spec.Name, spec.Image)
	}
	f.seq++
	sum := sha256.Sum256([]byte("hive-fake-container-" + strconv.Itoa(f.seq)))
	id := hex.EncodeToString(sum[:])
	name := spec.Name
	if name == "" {
		name = "fake-" + id[:12]
	}
	if other, taken := f.byName[name]; taken {
		return "", errorf(sdk.ErrAlreadyExists, "create %s: the name is already in use by container %s", name, other)
	}
	c := &fakeContainer{
		seq:     f.seq,
		spec:    cloneSpec(spec),
		prog:    parseProgram(spec),
		check:   effectiveCheck(spec.Healthcheck, f.imageHC[spec.Image]),
		files:   map[string][]byte{},
		logWake: make(chan struct{}),
		exited:  make(chan struct{}),
	}
	c.spec.Name = name
	if len(spec.DNS) > 0 {
		c.files["/etc/resolv.conf"] = fakeResolvConf(spec.DNS)
	}
	c.state = Container{
		ID:        id,
		Name:      name,
		Image:     spec.Image,
		Labels:    maps.Clone(spec.Labels),
		State:     StateCreated,
		CreatedAt: f.now(),
	}
	f.containers[id] = c
	f.byName[name] = id
	return id, nil
}

// validateSpec checks what Docker would refuse at create.
func validateSpec(spec *ContainerSpec) error {
	if spec.Image == "" {
		return errorf(sdk.ErrInvalidArgument, "create %s: no image", spec.Name)
	}
	for _, m := range spec.Mounts {
		switch m.Type {
		case MountBind, MountVolume:
			if m.Source == "" {
				return errorf(sdk.ErrInvalidArgument, "create %s: %s mount on %s has no source", spec.Name, m.Type, m.Target)
			}
		case MountTmpfs:
		default:
			return errorf(sdk.ErrInvalidArgument, "create %s: unknown mount type %q (want bind, volume or tmpfs)", spec.Name, m.Type)
		}
		if len(m.Target) == 0 || m.Target[0] != '/' {
			return errorf(sdk.ErrInvalidArgument, "create %s: mount target %q is not an absolute path", spec.Name, m.Target)
		}
	}
	for _, p := range spec.Ports {
		if p.Protocol != "" && p.Protocol != "tcp" && p.Protocol != "udp" {
			return errorf(sdk.ErrInvalidArgument, "create %s: port %d: unknown protocol %q (want tcp or udp)", spec.Name, p.ContainerPort, p.Protocol)
		}
		if p.ContainerPort == 0 {
			return errorf(sdk.ErrInvalidArgument, "create %s: a port binding has no container port", spec.Name)
		}
	}
	if spec.StopSignal != "" {
		if _, err := parseSignal(spec.StopSignal); err != nil {
			return errorf(sdk.ErrInvalidArgument, "create %s: stop signal: %v", spec.Name, err)
		}
	}
	for _, s := range spec.DNS {
		if _, err := netip.ParseAddr(s); err != nil {
			return errorf(sdk.ErrInvalidArgument, "create %s: DNS server %q is not an IP address", spec.Name, s)
		}
	}
	return nil
}

// fakeResolvConf is the /etc/resolv.conf of a container whose spec sets
// DNS: one nameserver line per server, in order.
func fakeResolvConf(servers []string) []byte {
	var b []byte
	for _, s := range servers {
		b = append(b, "nameserver "+s+"\n"...)
	}
	return b
}

func cloneSpec(s *ContainerSpec) ContainerSpec {
	out := *s
	out.Command = slices.Clone(s.Command)
	out.Args = slices.Clone(s.Args)
	out.Env = slices.Clone(s.Env)
	out.Labels = maps.Clone(s.Labels)
	out.Ports = slices.Clone(s.Ports)
	out.Mounts = slices.Clone(s.Mounts)
	out.Healthcheck = cloneCheck(s.Healthcheck)
	out.DNS = slices.Clone(s.DNS)
	return out
}

// Spec returns a copy of the spec a container (by ID or name) was created
// with, its Name filled in when the spec left it empty.
func (f *Fake) Spec(id string) (*ContainerSpec, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookupLocked("spec", id)
	if err != nil {
		return nil, err
	}
	out := cloneSpec(&c.spec)
	return &out, nil
}

func (c *fakeContainer) running() bool { return c.state.State == StateRunning }

// snapshot returns a copy of the container's state at time now that
// shares nothing with the Fake.
func (c *fakeContainer) snapshot(now time.Time) *Container {
	out := c.state
	out.Labels = maps.Clone(c.state.Labels)
	out.Addresses = slices.Clone(c.state.Addresses)
	out.Ports = slices.Clone(c.state.Ports)
	out.Health, out.HealthLog = c.healthAt(now)
	return &out
}

// Inspect returns a copy of the container's state.
func (f *Fake) Inspect(ctx context.Context, id string) (*Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.beginLocked("Inspect"); err != nil {
		return nil, err
	}
	c, err := f.lookupLocked("inspect", id)
	if err != nil {
		return nil, err
	}
	return c.snapshot(f.now()), nil
}

// List returns the containers, in any state, whose labels include
// filter.Labels, in creation order.
func (f *Fake) List(ctx context.Context, filter ListFilter) ([]*Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.beginLocked("List"); err != nil {
		return nil, err
	}
	return f.sortedLocked(func(c *fakeContainer) bool {
		for k, v := range filter.Labels {
			if got, ok := c.state.Labels[k]; !ok || got != v {
				return false
			}
		}
		return true
	}), nil
}
