package agent

import (
	"reflect"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

func TestContainerSpecCarriesTheHealthCheck(t *testing.T) {
	task := &types.Task{ID: "t1", ServiceID: "s1", ServiceName: "web", Slot: 2, NodeID: "n1"}
	if got := ContainerSpec(task, "").Healthcheck; got != nil {
		t.Errorf("no health check in the task: %+v, want nil (the image's applies)", got)
	}
	task.Spec.Container.Healthcheck = &types.HealthConfig{Test: []string{"CMD", "/web", "healthcheck"},
		Interval: types.Duration(time.Second), Timeout: types.Duration(2 * time.Second), StartPeriod: types.Duration(3 * time.Second), Retries: 4}
	want := &runtime.Healthcheck{Test: []string{"CMD", "/web", "healthcheck"}, Interval: time.Second, Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, Retries: 4}
	if got := ContainerSpec(task, "").Healthcheck; !reflect.DeepEqual(got, want) {
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
