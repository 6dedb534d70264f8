package orchestrator

import (
	"testing"

	"github.com/hiveorch/hive/core/types"
)

func TestUpToDateComparesTheTaskSpecAndPorts(t *testing.T) {
	svc := &types.Service{ID: "s", SpecVersion: 5, Spec: types.ServiceSpec{
		Task: types.TaskSpec{Container: types.ContainerSpec{Image: "web:v2", Env: []string{"A=1"}}}}}
	svc.Endpoint.Ports = []types.PortConfig{{Protocol: "tcp", TargetPort: 80, PublishedPort: 8080, PublishMode: "ingress"}}
	task := func(version uint64, image string, env []string, ports []types.PortConfig) *types.Task {
		return &types.Task{SpecVersion: version, Spec: types.TaskSpec{Container: types.ContainerSpec{Image: image, Env: env}}, Ports: ports}
	}
	tests := []struct {
		name string
		t    *types.Task
		want bool
	}{
		{"same version", task(5, "whatever", nil, nil), true},
		{"older version, same spec (a scale)", task(3, "web:v2", []string{"A=1"}, svc.Endpoint.Ports), true},
		{"older version, another image", task(3, "web:v1", []string{"A=1"}, svc.Endpoint.Ports), false},
		{"older version, other ports", task(3, "web:v2", []string{"A=1"}, nil), false},
		{"older version, forced", func() *types.Task {
			x := task(3, "web:v2", []string{"A=1"}, svc.Endpoint.Ports)
			x.Spec.ForceUpdate = 1
			return x
		}(), false},
	}
	for _, tt := range tests {
		if got := UpToDate(svc, tt.t); got != tt.want {
			t.Errorf("%s: UpToDate = %v, want %v", tt.name, got, tt.want)
		}
	}
	empty := types.TaskSpec{Container: types.ContainerSpec{Image: "x", Env: []string{}}}
	if !empty.Equal(types.TaskSpec{Container: types.ContainerSpec{Image: "x"}}) {
		t.Errorf("an empty list and a missing one differ")
	}
}
