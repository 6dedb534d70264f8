package commands

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/types"
)

func TestServiceInspectPrettyListsDependencies(t *testing.T) {
	s := &types.Service{ID: "s1", Spec: types.ServiceSpec{Name: "web", Mode: types.ModeReplicated, Replicas: 1,
		DependsOn: []types.ServiceDependency{{Service: "db", Condition: types.DependencyHealthy}, {Service: "cache"}}}}
	var b bytes.Buffer
	if err := renderServicePretty(&b, s, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	want := " Replicas:          1\nDepends on:         db (service_healthy)\nDepends on:         cache (service_started)\n"
	if !strings.Contains(b.String(), want) {
		t.Fatalf("service inspect --pretty:\n%s\nwant it to contain:\n%s", b.String(), want)
	}
}
