package agent

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

func TestContainerSpecCarriesTheHealthCheck(t *testing.T) {
	task := &types.Task{ID: "t1", ServiceID: "s1", ServiceName: "web", Slot: 2, NodeID: "n1"}
	if got := mustSpec(t, task, Host{}).Healthcheck; got != nil {
		t.Errorf("no health check in the task: %+v, want nil (the image's applies)", got)
	}
	task.Spec.Container.Healthcheck = &types.HealthConfig{Test: []string{"CMD", "/web", "healthcheck"},
		Interval: types.Duration(time.Second), Timeout: types.Duration(2 * time.Second), StartPeriod: types.Duration(3 * time.Second), Retries: 4}
	want := &runtime.Healthcheck{Test: []string{"CMD", "/web", "healthcheck"}, Interval: time.Second, Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, Retries: 4}
	if got := mustSpec(t, task, Host{}).Healthcheck; !reflect.DeepEqual(got, want) {
		t.Errorf("health check %+v, want %+v", got, want)
	}
}

func TestRoutedTasksArePublishedThroughTheMesh(t *testing.T) {
	tests := []struct {
		ports []types.PortConfig
		want  bool
	}{
		{nil, false},
		{[]types.PortConfig{{PublishMode: types.PublishHost, TargetPort: 80, PublishedPort: 8080}}, false},
		{[]types.PortConfig{{PublishMode: types.PublishIngress, TargetPort: 80, PublishedPort: 8080}}, true},
		{[]types.PortConfig{{TargetPort: 80, PublishedPort: 8080}}, true},
	}
	for _, tt := range tests {
		if got := routed(&types.Task{Ports: tt.ports}); got != tt.want {
			t.Errorf("routed(%+v) = %v, want %v", tt.ports, got, tt.want)
		}
	}
}

func mustSpec(t *testing.T, task *types.Task, host Host) *runtime.ContainerSpec {
	t.Helper()
	spec, err := ContainerSpec(task, host)
	if err != nil {
		t.Fatalf("ContainerSpec: %v", err)
	}
	return spec
}

func TestContainerHostnameTemplates(t *testing.T) {
	task := &types.Task{ID: "t1", ServiceID: "s1", ServiceName: "web", Slot: 2, NodeID: "n1"}
	host := Host{Hostname: "laptop"}
	for _, tc := range []struct{ tmpl, want, err string }{
		{"", "", ""},
		{"db", "db", ""},
		{"{{.Service.Name}}-{{.Task.Slot}}", "web-2", ""},
		{"{{.Node.Hostname}}.{{.Service.Name}}", "laptop.web", ""},
		{"{{.Task.ID}}-{{.Node.ID}}-{{.Service.ID}}-{{.Task.Name}}", "t1-n1-s1-web.2", ""},
		{"{{.Task.Nope}}", "", `container hostname "{{.Task.Nope}}": it names a field there is not`},
		{"{{.Service.Name}}_x", "", `it gives "web_x", which is not a hostname`},
	} {
		spec, err := ContainerSpec(&types.Task{ID: task.ID, ServiceID: task.ServiceID, ServiceName: task.ServiceName, Slot: task.Slot, NodeID: task.NodeID,
			Spec: types.TaskSpec{Container: types.ContainerSpec{Hostname: tc.tmpl}}}, host)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want one containing %q", tc.tmpl, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.tmpl, err)
		case tc.err == "" && spec.Hostname != tc.want:
			t.Errorf("%q: hostname %q, want %q", tc.tmpl, spec.Hostname, tc.want)
		}
	}
}

func TestTasksOnNetworksUseTheirResolver(t *testing.T) {
	task := &types.Task{ID: "t1", ServiceID: "s1", ServiceName: "web", Slot: 1, NodeID: "n1"}
	if got := mustSpec(t, task, Host{}).DNS; got != nil {
		t.Errorf("a task on no network: DNS %v, want the node's (nil)", got)
	}
	task.Networks = []types.NetworkAttachment{{NetworkID: "n1"}}
	if got := mustSpec(t, task, Host{}).DNS; !reflect.DeepEqual(got, []string{"127.0.0.11"}) {
		t.Errorf("a task on a network: DNS %v, want its resolver 127.0.0.11", got)
	}
}
