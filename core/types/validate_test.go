package types

import (
	"strings"
	"testing"
)

func validSpec() ServiceSpec {
	s := ServiceSpec{Name: "web", Replicas: 3, Task: TaskSpec{Container: ContainerSpec{Image: "hive-test/web:v1"}}}
	s.Normalize()
	return s
}

func TestValidateAcceptsAGoodSpec(t *testing.T) {
	s := validSpec()
	s.Endpoint.Ports = []PortConfig{{TargetPort: 80, PublishedPort: 8080}}
	s.Task.Container.Mounts = []Mount{{Source: "data", Target: "/var/lib/data"}}
	s.Task.Placement.Constraints = []string{"node.role==manager", "node.labels.zone != east"}
	s.Normalize()
	if err := s.Validate(); err != nil {
		t.Fatalf("Validate() = %v, want nil", err)
	}
	if s.Endpoint.Ports[0].Protocol != ProtocolTCP || s.Endpoint.Ports[0].PublishMode != PublishIngress {
		t.Errorf("Normalize did not default the port: %+v", s.Endpoint.Ports[0])
	}
	if s.Task.Container.Mounts[0].Type != MountVolume {
		t.Errorf("Normalize did not default the mount type: %+v", s.Task.Container.Mounts[0])
	}
}

func TestValidateRejectsWithAMessageSayingWhatToFix(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*ServiceSpec)
		want   string
	}{
		{"empty name", func(s *ServiceSpec) { s.Name = "" }, "invalid service name"},
		{"dotted name", func(s *ServiceSpec) { s.Name = "web.1" }, "invalid service name"},
		{"bad mode", func(s *ServiceSpec) { s.Mode = "daemon" }, "use replicated or global"},
		{"global with replicas", func(s *ServiceSpec) { s.Mode = ModeGlobal }, "replicas cannot be set"},
		{"too many replicas", func(s *ServiceSpec) { s.Replicas = MaxReplicas + 1 }, "at most"},
		{"no image", func(s *ServiceSpec) { s.Task.Container.Image = "" }, "an image is required"},
		{"malformed image", func(s *ServiceSpec) { s.Task.Container.Image = "Bad Image:tag" }, "invalid image reference"},
		{"uppercase image", func(s *ServiceSpec) { s.Task.Container.Image = "Web:v1" }, "invalid image reference"},
		{"uppercase first component", func(s *ServiceSpec) { s.Task.Container.Image = "Hive-Test/web" }, "must be lowercase"},
		{"bad env", func(s *ServiceSpec) { s.Task.Container.Env = []string{"=x"} }, "invalid environment variable"},
		{"relative workdir", func(s *ServiceSpec) { s.Task.Container.Dir = "app" }, "absolute path"},
		{"bad signal", func(s *ServiceSpec) { s.Task.Container.StopSignal = "sig term" }, "invalid stop signal"},
		{"mount without target", func(s *ServiceSpec) { s.Task.Container.Mounts = []Mount{{Type: MountVolume, Source: "d"}} }, "invalid mount target"},
		{"relative bind", func(s *ServiceSpec) {
			s.Task.Container.Mounts = []Mount{{Type: MountBind, Source: "data", Target: "/d"}}
		}, "invalid bind mount source"},
		{"bad mount type", func(s *ServiceSpec) { s.Task.Container.Mounts = []Mount{{Type: "nfs", Target: "/d"}} }, "invalid mount type"},
		{"tmpfs with source", func(s *ServiceSpec) {
			s.Task.Container.Mounts = []Mount{{Type: MountTmpfs, Source: "x", Target: "/d"}}
		}, "takes no source"},
		{"duplicate mount target", func(s *ServiceSpec) {
			s.Task.Container.Mounts = []Mount{{Type: MountTmpfs, Target: "/d"}, {Type: MountVolume, Source: "v", Target: "/d"}}
		}, "duplicate mount target"},
		{"negative cpu", func(s *ServiceSpec) { s.Task.Resources.Limits.NanoCPUs = -1 }, "cannot be negative"},
		{"tiny memory", func(s *ServiceSpec) { s.Task.Resources.Limits.MemoryBytes = 1024 }, "at least 6MB"},
		{"reservation over limit", func(s *ServiceSpec) {
			s.Task.Resources.Limits.MemoryBytes = 64 << 20
			s.Task.Resources.Reservations.MemoryBytes = 128 << 20
		}, "exceeds the memory limit"},
		{"bad restart condition", func(s *ServiceSpec) { s.Task.RestartPolicy.Condition = "always" }, "use none, on-failure or any"},
		{"unknown constraint key", func(s *ServiceSpec) { s.Task.Placement.Constraints = []string{"node.zone==a"} }, "unknown key"},
		{"zero target port", func(s *ServiceSpec) {
			s.Endpoint.Ports = []PortConfig{{Protocol: ProtocolTCP, PublishMode: PublishIngress}}
		}, "invalid target port"},
		{"udp through the mesh", func(s *ServiceSpec) {
			s.Endpoint.Ports = []PortConfig{{Protocol: ProtocolUDP, PublishMode: PublishIngress, TargetPort: 53}}
		}, "mode=host"},
		{"host mode without published", func(s *ServiceSpec) {
			s.Endpoint.Ports = []PortConfig{{Protocol: ProtocolTCP, PublishMode: PublishHost, TargetPort: 80}}
		}, "needs a published port"},
		{"port twice", func(s *ServiceSpec) {
			p := PortConfig{Protocol: ProtocolTCP, PublishMode: PublishIngress, TargetPort: 80, PublishedPort: 8080}
			s.Endpoint.Ports = []PortConfig{p, p}
		}, "listed twice"},
		{"bad label", func(s *ServiceSpec) { s.Labels = map[string]string{"a b": "c"} }, "invalid label key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			tt.mutate(&s)
			err := s.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestTaskStateJSONRoundTrip(t *testing.T) {
	for s := TaskStateNew; s <= TaskStateOrphaned; s++ {
		b, err := s.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var got TaskState
		if err := got.UnmarshalJSON(b); err != nil || got != s {
			t.Fatalf("round trip of %v gave %v, %v", s, got, err)
		}
	}
}
