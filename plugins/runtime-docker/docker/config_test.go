package docker

import (
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"

	"github.com/hiveorch/hive/internal/testutil"
	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

func TestDescribeNamesTheDockerRuntime(t *testing.T) {
	info, err := New(nil).Describe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := sdk.Info{
		Name: "runtime-docker", Kind: sdk.KindRuntime, Version: Version,
		Capabilities: []string{"logs.follow", "logs.since", "stats", "ports.host", "mounts.volume", "mounts.bind", "mounts.tmpfs"},
	}
	if !reflect.DeepEqual(info, want) {
		t.Fatalf("Describe = %+v, want %+v", info, want)
	}
}

func TestConfigureAppliesSettings(t *testing.T) {
	r := New(testutil.Logger(t))
	err := r.Configure(t.Context(), map[string]string{"host": "tcp://127.0.0.1:2375", "network": "hive", "pull_timeout": "90s"})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := r.engine()
	if err != nil {
		t.Fatal(err)
	}
	if eng.host != "tcp://127.0.0.1:2375" || eng.network != "hive" || eng.pullTimeout != 90*time.Second {
		t.Fatalf("engine = host %s network %s pull_timeout %s", eng.host, eng.network, eng.pullTimeout)
	}

	if err := r.Configure(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	eng, _ = r.engine()
	if eng.network != DefaultNetwork || eng.pullTimeout != DefaultPullTimeout {
		t.Fatalf("defaults: network %s pull_timeout %s", eng.network, eng.pullTimeout)
	}
}

func TestConfigureRejectsBadSettingsNamingThem(t *testing.T) {
	cases := []struct {
		name     string
		settings map[string]string
		want     string
	}{
		{"unknown key", map[string]string{"hots": "unix:///x.sock"}, `"hots"`},
		{"empty host", map[string]string{"host": " "}, "host"},
		{"host without scheme", map[string]string{"host": "not a url"}, "host"},
		{"unsupported scheme", map[string]string{"host": "ftp://example.com"}, `"ftp"`},
		{"empty network", map[string]string{"network": ""}, "network"},
		{"bad pull timeout", map[string]string{"pull_timeout": "soon"}, "pull_timeout"},
		{"negative pull timeout", map[string]string{"pull_timeout": "-1m"}, "pull_timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := New(testutil.Logger(t)).Configure(t.Context(), tc.settings)
			mustErrIs(t, err, sdk.ErrInvalidArgument)
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name %s", err, tc.want)
			}
		})
	}
}

func TestContainerConfigTranslatesTheSpec(t *testing.T) {
	s := &runtime.ContainerSpec{
		Name:        "web.1.abc",
		Image:       "hive-test/web:v1",
		Command:     []string{"/web"},
		Args:        []string{"serve"},
		Env:         []string{"A=1"},
		Labels:      map[string]string{"hive.task": "abc"},
		WorkingDir:  "/srv",
		User:        "1000:1000",
		Hostname:    "web-1",
		StopSignal:  "SIGINT",
		StopTimeout: 1500 * time.Millisecond,
		Ports: []runtime.PortBinding{
			{Protocol: "tcp", ContainerPort: 80, HostPort: 8080, HostIP: "127.0.0.1"},
			{Protocol: "udp", ContainerPort: 53},
		},
		Mounts: []runtime.Mount{
			{Type: runtime.MountVolume, Source: "data", Target: "/data"},
			{Type: runtime.MountBind, Source: "/etc", Target: "/host-etc", ReadOnly: true},
			{Type: runtime.MountTmpfs, Target: "/scratch"},
		},
		Resources: runtime.Resources{NanoCPUs: 500_000_000, MemoryBytes: 64 << 20},
		Healthcheck: &runtime.Healthcheck{Test: []string{"CMD", "/web", "healthcheck"}, Interval: time.Second,
			Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, Retries: 4},
		DNS: []string{"127.0.0.11", "fd00::53"},
	}
	cfg, hostCfg, err := containerConfig(s, "hive-net")
	if err != nil {
		t.Fatal(err)
	}
	stop := 2
	tcp80 := network.MustParsePort("80/tcp")
	udp53 := network.MustParsePort("53/udp")
	wantCfg := &container.Config{
		Image: "hive-test/web:v1", Entrypoint: []string{"/web"}, Cmd: []string{"serve"},
		Env: []string{"A=1"}, Labels: map[string]string{"hive.task": "abc"},
		WorkingDir: "/srv", User: "1000:1000", Hostname: "web-1",
		StopSignal: "SIGINT", StopTimeout: &stop,
		ExposedPorts: network.PortSet{tcp80: {}, udp53: {}},
		Healthcheck: &container.HealthConfig{Test: []string{"CMD", "/web", "healthcheck"}, Interval: time.Second,
			Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, Retries: 4},
	}
	if !reflect.DeepEqual(cfg, wantCfg) {
		t.Errorf("config = %+v\nwant     %+v", cfg, wantCfg)
	}
	wantBindings := network.PortMap{
		tcp80: {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "8080"}},
		udp53: {{}},
	}
	if !reflect.DeepEqual(hostCfg.PortBindings, wantBindings) {
		t.Errorf("port bindings = %+v, want %+v", hostCfg.PortBindings, wantBindings)
	}
	wantMounts := []mount.Mount{
		{Type: mount.TypeVolume, Source: "data", Target: "/data", VolumeOptions: &mount.VolumeOptions{Labels: map[string]string{"hive.volume": "1"}}},
		{Type: mount.TypeBind, Source: "/etc", Target: "/host-etc", ReadOnly: true},
		{Type: mount.TypeTmpfs, Target: "/scratch"},
	}
	if !reflect.DeepEqual(hostCfg.Mounts, wantMounts) {
		t.Errorf("mounts = %+v, want %+v", hostCfg.Mounts, wantMounts)
	}
	if hostCfg.NetworkMode != "hive-net" || hostCfg.RestartPolicy.Name != container.RestartPolicyDisabled ||
		hostCfg.Init == nil || *hostCfg.Init || hostCfg.LogConfig.Type != "json-file" {
		t.Errorf("host config = network %s restart %s init %v log %s", hostCfg.NetworkMode, hostCfg.RestartPolicy.Name, hostCfg.Init, hostCfg.LogConfig.Type)
	}
	if hostCfg.NanoCPUs != 500_000_000 || hostCfg.Memory != 64<<20 {
		t.Errorf("resources = %d nano CPUs, %d bytes", hostCfg.NanoCPUs, hostCfg.Memory)
	}
	if wantDNS := []netip.Addr{netip.MustParseAddr("127.0.0.11"), netip.MustParseAddr("fd00::53")}; !slices.Equal(hostCfg.DNS, wantDNS) {
		t.Errorf("DNS = %v, want %v (in the spec's order)", hostCfg.DNS, wantDNS)
	}

	// Unset command and args keep the image's.
	cfg, hostCfg, err = containerConfig(&runtime.ContainerSpec{Name: "a", Image: "b"}, "bridge")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Entrypoint != nil || cfg.Cmd != nil || cfg.StopTimeout != nil || cfg.Healthcheck != nil {
		t.Errorf("empty spec: entrypoint %v cmd %v stop timeout %v health check %v", cfg.Entrypoint, cfg.Cmd, cfg.StopTimeout, cfg.Healthcheck)
	}
	if hostCfg.DNS != nil {
		t.Errorf("empty spec: DNS %v, want none (the engine's default)", hostCfg.DNS)
	}
}

func TestContainerConfigRejectsMalformedSpecs(t *testing.T) {
	base := func() *runtime.ContainerSpec { return &runtime.ContainerSpec{Name: "web.1", Image: "img"} }
	cases := []struct {
		name   string
		change func(*runtime.ContainerSpec)
		want   string
	}{
		{"no name", func(s *runtime.ContainerSpec) { s.Name = "" }, "no name"},
		{"no image", func(s *runtime.ContainerSpec) { s.Image = "" }, "no image"},
		{"negative memory", func(s *runtime.ContainerSpec) { s.Resources.MemoryBytes = -1 }, "negative"},
		{"negative stop timeout", func(s *runtime.ContainerSpec) { s.StopTimeout = -time.Second }, "negative"},
		{"bad protocol", func(s *runtime.ContainerSpec) {
			s.Ports = []runtime.PortBinding{{Protocol: "icmp", ContainerPort: 80}}
		}, `"icmp"`},
		{"port zero", func(s *runtime.ContainerSpec) { s.Ports = []runtime.PortBinding{{Protocol: "tcp"}} }, "out of range"},
		{"port too big", func(s *runtime.ContainerSpec) {
			s.Ports = []runtime.PortBinding{{Protocol: "tcp", ContainerPort: 80, HostPort: 70000}}
		}, "out of range"},
		{"bad host IP", func(s *runtime.ContainerSpec) {
			s.Ports = []runtime.PortBinding{{Protocol: "tcp", ContainerPort: 80, HostIP: "localhost"}}
		}, `"localhost"`},
		{"relative target", func(s *runtime.ContainerSpec) {
			s.Mounts = []runtime.Mount{{Type: runtime.MountTmpfs, Target: "data"}}
		}, `"data"`},
		{"relative bind source", func(s *runtime.ContainerSpec) {
			s.Mounts = []runtime.Mount{{Type: runtime.MountBind, Source: "src", Target: "/data"}}
		}, `"src"`},
		{"unknown mount type", func(s *runtime.ContainerSpec) {
			s.Mounts = []runtime.Mount{{Type: "nfs", Target: "/data"}}
		}, `"nfs"`},
		{"unknown health test", func(s *runtime.ContainerSpec) {
			s.Healthcheck = &runtime.Healthcheck{Test: []string{"HTTP", "/healthz"}}
		}, "want NONE, CMD or CMD-SHELL"},
		{"health command missing", func(s *runtime.ContainerSpec) {
			s.Healthcheck = &runtime.Healthcheck{Test: []string{"CMD-SHELL"}}
		}, "has no command"},
		{"health interval under 1ms", func(s *runtime.ContainerSpec) {
			s.Healthcheck = &runtime.Healthcheck{Interval: time.Microsecond}
		}, "at least 1ms"},
		{"DNS server not an IP", func(s *runtime.ContainerSpec) { s.DNS = []string{"10.0.0.2", "dns.example"} }, `DNS server "dns.example"`},
		{"empty DNS server", func(s *runtime.ContainerSpec) { s.DNS = []string{""} }, `DNS server ""`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := base()
			tc.change(s)
			_, _, err := containerConfig(s, "bridge")
			mustErrIs(t, err, sdk.ErrInvalidArgument)
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q lacks %s", err, tc.want)
			}
		})
	}
}

func TestCheckBindSourcesNamesAMissingSource(t *testing.T) {
	dir := t.TempDir()
	ok := []runtime.Mount{{Type: runtime.MountBind, Source: dir, Target: "/d"}, {Type: runtime.MountVolume, Source: "v", Target: "/v"}}
	if err := checkBindSources(ok); err != nil {
		t.Fatal(err)
	}
	missing := dir + "/nope"
	err := checkBindSources([]runtime.Mount{{Type: runtime.MountBind, Source: missing, Target: "/d"}})
	mustErrIs(t, err, sdk.ErrInvalidArgument)
	if !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("error %q does not say %s does not exist", err, missing)
	}
}

func TestSecondsRoundsUp(t *testing.T) {
	cases := map[time.Duration]int{time.Millisecond: 1, time.Second: 1, 1500 * time.Millisecond: 2, 10 * time.Second: 10}
	for d, want := range cases {
		if got := seconds(d); got != want {
			t.Errorf("seconds(%s) = %d, want %d", d, got, want)
		}
	}
}

func TestPortsFoldsAddressFamiliesAndSorts(t *testing.T) {
	pm := network.PortMap{
		network.MustParsePort("80/tcp"): {
			{HostIP: netip.MustParseAddr("0.0.0.0"), HostPort: "8080"},
			{HostIP: netip.MustParseAddr("::"), HostPort: "8080"},
		},
		network.MustParsePort("53/udp"): {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "5353"}},
		network.MustParsePort("9/tcp"):  nil,
	}
	got := ports(pm)
	want := []runtime.PortBinding{
		{Protocol: "udp", ContainerPort: 53, HostPort: 5353, HostIP: "127.0.0.1"},
		{Protocol: "tcp", ContainerPort: 80, HostPort: 8080},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ports = %+v, want %+v", got, want)
	}
}

func TestAddressesListsEveryNetwork(t *testing.T) {
	nets := map[string]*network.EndpointSettings{
		"b":      {IPAddress: netip.MustParseAddr("10.0.1.2"), GlobalIPv6Address: netip.MustParseAddr("fd00::2")},
		"a":      {IPAddress: netip.MustParseAddr("172.17.0.2")},
		"none":   {},
		"broken": nil,
	}
	got := addresses(nets)
	want := []string{"172.17.0.2", "10.0.1.2", "fd00::2"}
	if !slices.Equal(got, want) {
		t.Fatalf("addresses = %v, want %v", got, want)
	}
}

func TestStateOfMapsEngineStates(t *testing.T) {
	cases := map[container.ContainerState]string{
		container.StateCreated: runtime.StateCreated, container.StateRunning: runtime.StateRunning,
		container.StateRestarting: runtime.StateRunning, container.StatePaused: runtime.StatePaused,
		container.StateExited: runtime.StateExited, container.StateRemoving: runtime.StateExited,
		container.StateDead: runtime.StateDead, "weird": runtime.StateUnknown,
	}
	for in, want := range cases {
		if got := stateOf(in); got != want {
			t.Errorf("stateOf(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestHealthReportsStatusAndTheLastFailure(t *testing.T) {
	fail := func(code int, out string) *container.HealthcheckResult {
		return &container.HealthcheckResult{ExitCode: code, Output: out}
	}
	cases := []struct {
		name            string
		in              *container.Health
		status, wantLog string
	}{
		{"no check", nil, runtime.HealthNone, ""},
		{"starting", &container.Health{Status: container.Starting}, runtime.HealthStarting, ""},
		{"healthy after a failure", &container.Health{Status: container.Healthy, Log: []*container.HealthcheckResult{fail(1, "refused\n"), fail(0, "ok")}},
			runtime.HealthHealthy, "refused"},
		{"unhealthy with output", &container.Health{Status: container.Unhealthy, Log: []*container.HealthcheckResult{fail(1, "first"), fail(1, " connection refused\n")}},
			runtime.HealthUnhealthy, "connection refused"},
		{"unhealthy without output", &container.Health{Status: container.Unhealthy, Log: []*container.HealthcheckResult{fail(1, "")}},
			runtime.HealthUnhealthy, "health check exited with 1"},
		{"none", &container.Health{Status: container.NoHealthcheck}, runtime.HealthNone, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, log := health(tc.in)
			if status != tc.status || log != tc.wantLog {
				t.Errorf("health = %q, %q; want %q, %q", status, log, tc.status, tc.wantLog)
			}
		})
	}
}

func TestParseTimeTreatsTheEnginesNeverAsZero(t *testing.T) {
	if got := parseTime("0001-01-01T00:00:00Z"); !got.IsZero() {
		t.Errorf("never = %v", got)
	}
	if got := parseTime(""); !got.IsZero() {
		t.Errorf("empty = %v", got)
	}
	want := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	if got := parseTime("2024-05-06T07:08:09.123456789Z"); !got.Equal(want) {
		t.Errorf("parseTime = %v, want %v", got, want)
	}
}

func TestStatsFromSumsNetworksAndBlockIOAndSaysWhatIsKnown(t *testing.T) {
	s := &container.StatsResponse{
		CPUStats:    container.CPUStats{CPUUsage: container.CPUUsage{TotalUsage: 2_000}, OnlineCPUs: 2},
		MemoryStats: container.MemoryStats{Usage: 100, Limit: 1000},
		PidsStats:   container.PidsStats{Current: 3},
		Networks:    map[string]container.NetworkStats{"eth0": {RxBytes: 10, TxBytes: 1}, "eth1": {RxBytes: 5, TxBytes: 2}},
		BlkioStats: container.BlkioStats{IoServiceBytesRecursive: []container.BlkioStatEntry{
			{Op: "Read", Value: 7}, {Op: "write", Value: 9}, {Op: "Total", Value: 16}, {Op: "read", Value: 1},
		}},
	}
	st := statsFrom(s)
	want := runtime.Stats{Known: runtime.StatsCPU | runtime.StatsMemory | runtime.StatsMemoryLimit | runtime.StatsPIDs | runtime.StatsNetwork | runtime.StatsBlockIO,
		CPUNanos: 2_000, OnlineCPUs: 2, MemoryBytes: 100, MemoryLimit: 1000, PIDs: 3, NetRxBytes: 15, NetTxBytes: 3, BlockReadBytes: 8, BlockWriteBytes: 9}
	if *st != want {
		t.Errorf("statsFrom = %+v, want %+v", *st, want)
	}
	s.Networks, s.BlkioStats = nil, container.BlkioStats{}
	if st := statsFrom(s); st.Known.Has(runtime.StatsNetwork) || st.Known.Has(runtime.StatsBlockIO) {
		t.Errorf("without networks and block I/O, Known = %b, want neither", st.Known)
	}
	if st := statsFrom(&container.StatsResponse{}); st.Known != 0 {
		t.Errorf("a stopped container's Known = %b, want none", st.Known)
	}
}

func TestMemoryUsage(t *testing.T) {
	cases := []struct {
		name string
		mem  container.MemoryStats
		want uint64
	}{
		{"cgroup v1", container.MemoryStats{Usage: 100, Stats: map[string]uint64{"total_inactive_file": 30, "cache": 50}}, 70},
		{"cgroup v2", container.MemoryStats{Usage: 100, Stats: map[string]uint64{"inactive_file": 40}}, 60},
		{"old engine", container.MemoryStats{Usage: 100, Stats: map[string]uint64{"cache": 50}}, 50},
		{"no breakdown", container.MemoryStats{Usage: 100}, 100},
		{"cache above usage", container.MemoryStats{Usage: 10, Stats: map[string]uint64{"cache": 50}}, 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := memoryUsage(tc.mem); got != tc.want {
				t.Errorf("memoryUsage = %d, want %d", got, tc.want)
			}
		})
	}
}
