package types

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
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
		{"bad hostname", func(s *ServiceSpec) { s.Task.Container.Hostname = "web_1" }, `invalid hostname "web_1": it is not a hostname`},
		{"unknown hostname field", func(s *ServiceSpec) { s.Task.Container.Hostname = "{{.Node.Name}}" }, `invalid hostname "{{.Node.Name}}": it names a field there is not`},
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
		{"bad failure action", func(s *ServiceSpec) { s.Update.FailureAction = "retry" }, "use pause, continue or rollback"},
		{"rollback of a rollback", func(s *ServiceSpec) { s.Rollback.FailureAction = FailureRollback }, "a rollback cannot roll back"},
		{"failure ratio above 1", func(s *ServiceSpec) { s.Update.MaxFailureRatio = 1.5 }, "from 0 to 1"},
		{"negative delay", func(s *ServiceSpec) { s.Update.Delay = -1 }, "delay -1ns: it cannot be negative"},
		{"negative monitor", func(s *ServiceSpec) { m := Duration(-1); s.Rollback.Monitor = &m }, "rollback monitor"},
		{"bad order", func(s *ServiceSpec) { s.Update.Order = "random" }, "use stop-first or start-first"},
		{"start-first with a host port", func(s *ServiceSpec) {
			s.Update.Order = OrderStartFirst
			s.Endpoint.Ports = []PortConfig{{Protocol: ProtocolTCP, PublishMode: PublishHost, TargetPort: 80, PublishedPort: 8080}}
		}, "start-first cannot be used with host-mode port 8080"},
		{"bad health test", func(s *ServiceSpec) { s.Task.Container.Healthcheck = &HealthConfig{Test: []string{"HTTP", "/"}} }, "start it with CMD, CMD-SHELL or NONE"},
		{"health command missing", func(s *ServiceSpec) { s.Task.Container.Healthcheck = &HealthConfig{Test: []string{"CMD-SHELL", " "}} }, "has no command"},
		{"NONE with settings", func(s *ServiceSpec) {
			s.Task.Container.Healthcheck = &HealthConfig{Test: []string{"NONE"}, Retries: 3}
		}, "disabled health check"},
		{"health interval under 1ms", func(s *ServiceSpec) {
			s.Task.Container.Healthcheck = &HealthConfig{Interval: Duration(time.Microsecond)}
		}, "at least 1ms"},
		{"negative retries", func(s *ServiceSpec) { s.Task.Container.Healthcheck = &HealthConfig{Retries: -1} }, "retries -1"},
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

func TestNormalizeFillsTheUpdatePolicyDefaults(t *testing.T) {
	five := Duration(5 * time.Second)
	ten := Duration(10 * time.Second)
	tests := []struct {
		name string
		in   *UpdateConfig
		want *UpdateConfig
	}{
		{"left out", nil, &UpdateConfig{Parallelism: 1, FailureAction: FailurePause, Monitor: &five, Order: OrderStopFirst}},
		{"partly set", &UpdateConfig{Parallelism: 0, Delay: Duration(time.Second)},
			&UpdateConfig{Parallelism: 0, Delay: Duration(time.Second), FailureAction: FailurePause, Monitor: &five, Order: OrderStopFirst}},
		{"fully set", &UpdateConfig{Parallelism: 2, FailureAction: FailureContinue, Monitor: &ten, MaxFailureRatio: 0.5, Order: OrderStartFirst},
			&UpdateConfig{Parallelism: 2, FailureAction: FailureContinue, Monitor: &ten, MaxFailureRatio: 0.5, Order: OrderStartFirst}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ServiceSpec{Name: "web", Task: TaskSpec{Container: ContainerSpec{Image: "hive-test/web:v1"}}, Update: tt.in, Rollback: tt.in.copy()}
			s.Normalize()
			if !reflect.DeepEqual(s.Update, tt.want) || !reflect.DeepEqual(s.Rollback, tt.want) {
				t.Errorf("Normalize: update %+v rollback %+v, want %+v", s.Update, s.Rollback, tt.want)
			}
			if err := s.Validate(); err != nil {
				t.Errorf("Validate() = %v", err)
			}
		})
	}
}

func TestUpdateStatusStates(t *testing.T) {
	tests := []struct {
		state                        UpdateState
		active, running, rollingBack bool
	}{
		{UpdateUpdating, true, true, false},
		{UpdatePaused, true, false, false},
		{UpdateCompleted, false, false, false},
		{UpdateRollbackStarted, true, true, true},
		{UpdateRollbackPaused, true, false, true},
		{UpdateRollbackCompleted, false, false, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.state), func(t *testing.T) {
			u := &UpdateStatus{State: tt.state}
			if u.Active() != tt.active || u.Running() != tt.running || u.RollingBack() != tt.rollingBack {
				t.Errorf("Active %v Running %v RollingBack %v, want %v %v %v", u.Active(), u.Running(), u.RollingBack(), tt.active, tt.running, tt.rollingBack)
			}
		})
	}
	var none *UpdateStatus
	if none.Active() || none.Running() || none.RollingBack() {
		t.Errorf("a nil status reports an update")
	}
}

func TestServiceCopyIsDeep(t *testing.T) {
	s := &Service{ID: "s1", Spec: validSpec(), UpdateStatus: &UpdateStatus{State: UpdatePaused, Failures: []string{"t1"}}}
	s.Spec.Task.Container.Healthcheck = &HealthConfig{Test: []string{"CMD", "true"}}
	c := s.Copy()
	c.UpdateStatus.Failures[0] = "x"
	*c.Spec.Update.Monitor = 0
	c.Spec.Task.Container.Healthcheck.Test[1] = "false"
	if s.UpdateStatus.Failures[0] != "t1" || s.Spec.Update.Monitor.D() != 5*time.Second || s.Spec.Task.Container.Healthcheck.Test[1] != "true" {
		t.Errorf("changing the copy changed the original: %+v", s)
	}
}

func TestHealthConfigJSON(t *testing.T) {
	h := HealthConfig{Test: []string{"CMD", "/web", "healthcheck"}, Interval: Duration(time.Second), Retries: 2}
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"test":["CMD","/web","healthcheck"],"interval":"1s","retries":2}`; string(b) != want {
		t.Errorf("JSON = %s, want %s", b, want)
	}
	if !(&HealthConfig{Test: []string{"NONE"}}).Disabled() || h.Disabled() {
		t.Errorf("Disabled is wrong")
	}
}

func TestNormalizeDefaultsADependencyToServiceStarted(t *testing.T) {
	s := validSpec()
	s.DependsOn = []ServiceDependency{{Service: "db"}, {Service: "init", Condition: DependencyCompleted}}
	s.Normalize()
	if s.DependsOn[0].Condition != DependencyStarted || s.DependsOn[1].Condition != DependencyCompleted {
		t.Fatalf("Normalize: depends_on = %+v, want db service_started and init kept", s.DependsOn)
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("Validate() = %v, want nil", err)
	}
}

func TestValidateDependsOn(t *testing.T) {
	tests := []struct {
		name string
		deps []ServiceDependency
		want string // "" for valid
	}{
		{"each condition", []ServiceDependency{{"db", DependencyHealthy}, {"cache", DependencyStarted}, {"init", DependencyCompleted}}, ""},
		{"stack-prefixed name", []ServiceDependency{{"app_db", DependencyStarted}}, ""},
		{"no service", []ServiceDependency{{"", DependencyStarted}}, "invalid depends_on entry 1: it names no service"},
		{"itself", []ServiceDependency{{"web", DependencyStarted}}, `invalid depends_on service "web": a service cannot depend on itself`},
		{"twice", []ServiceDependency{{"db", DependencyStarted}, {"db", DependencyHealthy}}, `invalid depends_on service "db": it is listed twice`},
		{"bad name", []ServiceDependency{{"db.1", DependencyStarted}}, `depends_on: invalid service name "db.1"`},
		{"bad condition", []ServiceDependency{{"db", "service_ready"}}, `invalid depends_on condition "service_ready" for service "db": use service_started, service_healthy or service_completed_successfully`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			s.DependsOn = tt.deps
			err := s.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestServiceSpecCopyClonesDependsOn(t *testing.T) {
	s := validSpec()
	s.DependsOn = []ServiceDependency{{"db", DependencyHealthy}}
	c := s.Copy()
	c.DependsOn[0].Service = "other"
	if s.DependsOn[0].Service != "db" {
		t.Fatalf("changing the copy's depends_on changed the original: %+v", s.DependsOn)
	}
}
