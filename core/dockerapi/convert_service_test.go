package dockerapi

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

func ptr[T any](v T) *T { return &v }

// fullDockerSpec sets every field of a Docker spec that hive can honour,
// in the form hive gives back.
func fullDockerSpec() swarm.ServiceSpec {
	return swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: "web", Labels: map[string]string{"tier": "front"}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{
				Image: "nginx:alpine", Labels: map[string]string{"c": "1"},
				Command: []string{"/entry"}, Args: []string{"-g", "daemon off;"},
				Hostname: "{{.Task.Name}}", Env: []string{"A=1"}, Dir: "/srv", User: "nginx",
				StopSignal: "SIGQUIT", StopGracePeriod: ptr(20 * time.Second),
				Mounts: []mount.Mount{
					{Type: mount.TypeVolume, Source: "data", Target: "/data"},
					{Type: mount.TypeBind, Source: "/etc/hosts", Target: "/h", ReadOnly: true},
					{Type: mount.TypeTmpfs, Target: "/tmp"},
				},
				Healthcheck: &container.HealthConfig{Test: []string{"CMD", "true"}, Interval: time.Second,
					Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, Retries: 4},
				Secrets: []*swarm.SecretReference{{SecretID: "sec1", SecretName: "db",
					File: &swarm.SecretReferenceFileTarget{Name: "db", UID: "0", GID: "0", Mode: 0o400}}},
				Configs: []*swarm.ConfigReference{{ConfigID: "cfg1", ConfigName: "conf",
					File: &swarm.ConfigReferenceFileTarget{Name: "/etc/conf", UID: "1", GID: "2", Mode: 0o444}}},
			},
			Resources: &swarm.ResourceRequirements{
				Limits:       &swarm.Limit{NanoCPUs: 1e9, MemoryBytes: 256 << 20},
				Reservations: &swarm.Resources{NanoCPUs: 5e8, MemoryBytes: 64 << 20},
			},
			RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure,
				Delay: ptr(7 * time.Second), MaxAttempts: ptr(uint64(3)), Window: ptr(time.Minute)},
			Placement:   &swarm.Placement{Constraints: []string{"node.role==manager"}},
			Networks:    []swarm.NetworkAttachmentConfig{{Target: "net1", Aliases: []string{"www"}}},
			ForceUpdate: 2,
			Runtime:     swarm.RuntimeContainer,
		},
		Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: ptr(uint64(3))}},
		UpdateConfig: &swarm.UpdateConfig{Parallelism: 2, Delay: time.Second, FailureAction: swarm.UpdateFailureActionRollback,
			Monitor: 9 * time.Second, MaxFailureRatio: 0.1, Order: swarm.UpdateOrderStartFirst},
		RollbackConfig: &swarm.UpdateConfig{Parallelism: 1, FailureAction: swarm.UpdateFailureActionPause,
			Monitor: 5 * time.Second, Order: swarm.UpdateOrderStopFirst},
		EndpointSpec: &swarm.EndpointSpec{Mode: swarm.ResolutionModeDNSRR, Ports: []swarm.PortConfig{
			{Protocol: "tcp", TargetPort: 80, PublishedPort: 8080, PublishMode: swarm.PortConfigPublishModeIngress},
			{Protocol: "udp", TargetPort: 53, PublishedPort: 53, PublishMode: swarm.PortConfigPublishModeHost},
		}},
	}
}

func TestServiceSpecRoundTripsDockerHiveDocker(t *testing.T) {
	for name, in := range map[string]swarm.ServiceSpec{
		"replicated": fullDockerSpec(),
		"global": func() swarm.ServiceSpec {
			s := fullDockerSpec()
			s.Mode = swarm.ServiceMode{Global: &swarm.GlobalService{}}
			return s
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			h, err := serviceSpecFromDocker(in)
			if err != nil {
				t.Fatal(err)
			}
			if got := serviceSpecToDocker(h); !reflect.DeepEqual(got, in) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, in)
			}
		})
	}
}

func TestServiceSpecTranslatesToHiveNames(t *testing.T) {
	h, err := serviceSpecFromDocker(fullDockerSpec())
	if err != nil {
		t.Fatal(err)
	}
	c := h.Task.Container
	if !reflect.DeepEqual(c.Command, []string{"/entry"}) || !reflect.DeepEqual(c.Args, []string{"-g", "daemon off;"}) {
		t.Errorf("Command/Args = %q %q: Docker's Command is the entrypoint, hive's Command too", c.Command, c.Args)
	}
	if h.Mode != types.ModeReplicated || h.Replicas != 3 || h.Endpoint.Mode != types.EndpointDNSRR {
		t.Errorf("mode %s replicas %d endpoint %s", h.Mode, h.Replicas, h.Endpoint.Mode)
	}
	if h.Update.MaxFailureRatio != 0.1 || h.Update.Monitor.D() != 9*time.Second {
		t.Errorf("update = %+v", h.Update)
	}
	if !reflect.DeepEqual(h.Networks, []types.NetworkAttachmentConfig{{Target: "net1", Aliases: []string{"www"}}}) {
		t.Errorf("networks = %+v: the task template's are the service's in hive", h.Networks)
	}
}

func TestServiceSpecRoundTripsHiveDockerHive(t *testing.T) {
	h, err := serviceSpecFromDocker(fullDockerSpec())
	if err != nil {
		t.Fatal(err)
	}
	h.Normalize()
	back, err := serviceSpecFromDocker(serviceSpecToDocker(h))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, h) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, h)
	}
}

func TestReplicatedWithoutReplicasIsOne(t *testing.T) {
	h, err := serviceSpecFromDocker(swarm.ServiceSpec{TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "x"}}})
	if err != nil || h.Mode != types.ModeReplicated || h.Replicas != 1 {
		t.Fatalf("%+v, %v", h, err)
	}
}

// TestWhatTheDockerCLISendsByDefaultIsAccepted: the CLI always sends
// Init=false, an empty DNSConfig, empty Resources and Placement.
func TestWhatTheDockerCLISendsByDefaultIsAccepted(t *testing.T) {
	in := swarm.ServiceSpec{TaskTemplate: swarm.TaskSpec{
		ContainerSpec: &swarm.ContainerSpec{Image: "x", Init: ptr(false), DNSConfig: &swarm.DNSConfig{}, Isolation: container.IsolationDefault,
			Mounts: []mount.Mount{{Type: mount.TypeVolume, Target: "/d", VolumeOptions: &mount.VolumeOptions{}}}},
		Resources: &swarm.ResourceRequirements{Limits: &swarm.Limit{}, Reservations: &swarm.Resources{}},
		Placement: &swarm.Placement{},
	}, EndpointSpec: &swarm.EndpointSpec{Mode: swarm.ResolutionModeVIP}}
	if _, err := serviceSpecFromDocker(in); err != nil {
		t.Fatal(err)
	}
}

func TestFieldsHiveLacksAreRefusedByName(t *testing.T) {
	for _, tc := range []struct {
		field string
		edit  func(*swarm.ServiceSpec)
	}{
		{"Spec.Mode.ReplicatedJob", func(s *swarm.ServiceSpec) { s.Mode = swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{}} }},
		{"Spec.Mode.GlobalJob", func(s *swarm.ServiceSpec) { s.Mode = swarm.ServiceMode{GlobalJob: &swarm.GlobalJob{}} }},
		{"Spec.TaskTemplate.ContainerSpec.Privileges", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Privileges = &swarm.Privileges{NoNewPrivileges: true}
		}},
		{"Spec.TaskTemplate.ContainerSpec.Init", func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.Init = ptr(true) }},
		{"Spec.TaskTemplate.ContainerSpec.CapabilityAdd", func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.CapabilityAdd = []string{"NET_ADMIN"} }},
		{"Spec.TaskTemplate.ContainerSpec.Sysctls", func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.Sysctls = map[string]string{"a": "b"} }},
		{"Spec.TaskTemplate.ContainerSpec.Ulimits", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Ulimits = []*container.Ulimit{{Name: "nofile", Soft: 1, Hard: 1}}
		}},
		{"Spec.TaskTemplate.ContainerSpec.ReadOnly", func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.ReadOnly = true }},
		{"Spec.TaskTemplate.ContainerSpec.DNSConfig", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.DNSConfig = &swarm.DNSConfig{Search: []string{"x"}}
		}},
		{"Spec.TaskTemplate.ContainerSpec.Mounts[0].TmpfsOptions", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Mounts[2].TmpfsOptions = &mount.TmpfsOptions{SizeBytes: 1}
			s.TaskTemplate.ContainerSpec.Mounts = s.TaskTemplate.ContainerSpec.Mounts[2:]
		}},
		{"Spec.TaskTemplate.ContainerSpec.Mounts[0].Type \"npipe\"", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{{Type: mount.TypeNamedPipe, Target: "/p"}}
		}},
		{"Spec.TaskTemplate.ContainerSpec.Healthcheck.StartInterval", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Healthcheck.StartInterval = time.Second
		}},
		{"Spec.TaskTemplate.ContainerSpec.Configs[0].Runtime", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Configs[0].Runtime = &swarm.ConfigReferenceRuntimeTarget{}
		}},
		{"Spec.TaskTemplate.Resources.Limits.Pids", func(s *swarm.ServiceSpec) { s.TaskTemplate.Resources.Limits.Pids = 10 }},
		{"Spec.TaskTemplate.Placement.Preferences", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Placement.Preferences = []swarm.PlacementPreference{{Spread: &swarm.SpreadOver{SpreadDescriptor: "node.labels.zone"}}}
		}},
		{"Spec.TaskTemplate.Placement.Platforms", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Placement.Platforms = []swarm.Platform{{OS: "linux"}}
		}},
		{"Spec.TaskTemplate.LogDriver", func(s *swarm.ServiceSpec) { s.TaskTemplate.LogDriver = &swarm.Driver{Name: "json-file"} }},
		{"Spec.TaskTemplate.Networks[0].DriverOpts", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Networks[0].DriverOpts = map[string]string{"a": "b"}
		}},
		{"Spec.EndpointSpec.Ports[0].Name", func(s *swarm.ServiceSpec) { s.EndpointSpec.Ports[0].Name = "http" }},
	} {
		t.Run(tc.field, func(t *testing.T) {
			s := fullDockerSpec()
			tc.edit(&s)
			_, err := serviceSpecFromDocker(s)
			if errdefs.Kind(err) != "invalid_argument" || !strings.Contains(errdefs.Message(err), "hive does not support "+tc.field) {
				t.Errorf("err = %v (%s), want an invalid argument naming %s", err, errdefs.Kind(err), tc.field)
			}
		})
	}
}

func TestBadEnumValuesAreInvalid(t *testing.T) {
	for name, edit := range map[string]func(*swarm.ServiceSpec){
		"restart condition": func(s *swarm.ServiceSpec) { s.TaskTemplate.RestartPolicy.Condition = "sometimes" },
		"failure action":    func(s *swarm.ServiceSpec) { s.UpdateConfig.FailureAction = "explode" },
		"order":             func(s *swarm.ServiceSpec) { s.RollbackConfig.Order = "random" },
		"resolution mode":   func(s *swarm.ServiceSpec) { s.EndpointSpec.Mode = "magic" },
		"two modes":         func(s *swarm.ServiceSpec) { s.Mode.Global = &swarm.GlobalService{} },
	} {
		s := fullDockerSpec()
		edit(&s)
		if _, err := serviceSpecFromDocker(s); errdefs.Kind(err) != "invalid_argument" {
			t.Errorf("%s: err = %v, want invalid argument", name, err)
		}
	}
}

func TestServiceToDockerCarriesVersionEndpointAndUpdateStatus(t *testing.T) {
	h, err := serviceSpecFromDocker(fullDockerSpec())
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	prev := h.Copy()
	prev.Task.Container.Image = "nginx:old"
	svc := &types.Service{ID: "svc1", Meta: types.Meta{Version: 42, CreatedAt: created, UpdatedAt: created.Add(time.Minute)},
		Spec: h, PreviousSpec: &prev,
		Endpoint:     types.Endpoint{Ports: []types.PortConfig{{Protocol: "tcp", TargetPort: 80, PublishedPort: 30000, PublishMode: types.PublishIngress}}},
		UpdateStatus: &types.UpdateStatus{State: types.UpdatePaused, StartedAt: created, Message: "update paused"}}
	d := serviceToDocker(svc)
	if d.ID != "svc1" || d.Version.Index != 42 || !d.CreatedAt.Equal(created) || !d.UpdatedAt.Equal(created.Add(time.Minute)) {
		t.Errorf("meta = %s %+v", d.ID, d.Meta)
	}
	if d.PreviousSpec == nil || d.PreviousSpec.TaskTemplate.ContainerSpec.Image != "nginx:old" {
		t.Errorf("previous spec = %+v", d.PreviousSpec)
	}
	if len(d.Endpoint.Ports) != 1 || d.Endpoint.Ports[0].PublishedPort != 30000 || d.Endpoint.Spec.Mode != swarm.ResolutionModeDNSRR {
		t.Errorf("endpoint = %+v", d.Endpoint)
	}
	u := d.UpdateStatus
	if u == nil || u.State != swarm.UpdateStatePaused || u.StartedAt == nil || !u.StartedAt.Equal(created) || u.CompletedAt != nil || u.Message != "update paused" {
		t.Errorf("update status = %+v", u)
	}
}
