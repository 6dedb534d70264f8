package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/scheduler"
)

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func fullRequest() *scheduler.Request {
	return &scheduler.Request{
		Nodes: []scheduler.Node{
			{
				ID: "n2", Hostname: "h2", Role: "manager", Labels: map[string]string{"zone": "east"},
				Availability: "active", Ready: true,
				Platform:  scheduler.Platform{OS: "linux", Architecture: "arm64"},
				Resources: scheduler.Resources{NanoCPUs: 4e9, MemoryBytes: 8 << 30},
				Tasks: []scheduler.NodeTask{{ServiceID: "db", Reservations: scheduler.Resources{NanoCPUs: 1e9, MemoryBytes: 1 << 30},
					HostPorts: []scheduler.HostPort{{Protocol: "tcp", Port: 5432}}}},
			},
			{ID: "n1", Hostname: "h1", Role: "worker", Availability: "drain", Ready: false},
		},
		Tasks: []scheduler.Task{
			{ID: "t1", ServiceID: "web", Constraints: []string{"node.labels.zone==east"},
				Reservations: scheduler.Resources{NanoCPUs: 5e8, MemoryBytes: 64 << 20},
				HostPorts:    []scheduler.HostPort{{Protocol: "tcp", Port: 80}}},
			{ID: "t2", ServiceID: "web", NodeID: "n1"},
		},
	}
}

func TestHarnessRoundTrip(t *testing.T) {
	f := scheduler.NewFake()
	s := scheduler.NewHarness(t, f)
	ctx := ctxFor(t)

	info, err := s.Describe(ctx)
	if err != nil || info.Kind != sdk.KindScheduler || info.Name != "scheduler-fake" || info.Version != scheduler.FakeVersion {
		t.Errorf("Describe = %+v, %v", info, err)
	}
	if err := s.Configure(ctx, map[string]string{"strategy": "first"}); err != nil || f.Settings()["strategy"] != "first" {
		t.Errorf("Configure = %v; settings reaching the plugin %v", err, f.Settings())
	}
	if err := s.Health(ctx); err != nil {
		t.Errorf("Health = %v", err)
	}

	req := fullRequest()
	resp, err := s.Schedule(ctx, req)
	if err != nil {
		t.Fatalf("Schedule = %v", err)
	}
	if got := f.Requests(); len(got) != 1 || !reflect.DeepEqual(got[0], req) {
		t.Errorf("request reaching the plugin:\n got %+v\nwant %+v", got, req)
	}
	want, _ := scheduler.NewFake().Schedule(ctx, req)
	if !reflect.DeepEqual(resp, want) {
		t.Errorf("response through the wire = %+v, want %+v", resp, want)
	}
	if resp.Decisions[0].NodeID != "n2" || resp.Decisions[1].NodeID != "" || resp.Decisions[1].Reason == "" {
		t.Errorf("decisions = %+v", resp.Decisions)
	}

	empty, err := s.Schedule(ctx, &scheduler.Request{})
	if err != nil || len(empty.Decisions) != 0 {
		t.Errorf("empty request = %+v, %v", empty, err)
	}
	if _, err := s.Schedule(ctx, nil); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("Schedule(nil) = %v, want invalid argument", err)
	}
}

func TestHarnessErrors(t *testing.T) {
	f := scheduler.NewFake()
	s := scheduler.NewHarness(t, f)
	ctx := ctxFor(t)
	for _, kind := range []error{sdk.ErrInvalidArgument, sdk.ErrUnavailable, sdk.ErrUnimplemented, sdk.ErrFailedPrecondition} {
		t.Run(kind.Error(), func(t *testing.T) {
			f.FailNext("Schedule", fmt.Errorf("schedule: strategy broke: %w", kind))
			_, err := s.Schedule(ctx, fullRequest())
			if !errors.Is(err, kind) || err.Error() != "schedule: strategy broke: "+kind.Error() {
				t.Errorf("Schedule = %v, want the plugin's message wrapping %v", err, kind)
			}
		})
	}
	t.Run("down", func(t *testing.T) {
		f.SetDown(true)
		defer f.SetDown(false)
		if err := s.Health(ctx); !errors.Is(err, sdk.ErrUnavailable) {
			t.Errorf("Health while down = %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Schedule(cctx, fullRequest()); !errors.Is(err, context.Canceled) {
			t.Errorf("Schedule with a cancelled context = %v, want context.Canceled", err)
		}
	})
	want := []string{"Schedule", "Schedule", "Schedule", "Schedule", "Health"}
	if got := f.Calls(); !slices.Equal(got, want) {
		t.Errorf("Calls = %q, want %q", got, want)
	}
}

func TestFakeDecisions(t *testing.T) {
	ready := func(id string, cpu int64) scheduler.Node {
		return scheduler.Node{ID: id, Availability: "active", Ready: true, Role: "worker",
			Resources: scheduler.Resources{NanoCPUs: cpu, MemoryBytes: 1 << 30}}
	}
	paused := ready("a-paused", 4e9)
	paused.Availability = "pause"
	nodes := []scheduler.Node{ready("c", 4e9), paused, ready("b", 1e9)}
	for _, tc := range []struct {
		name  string
		tasks []scheduler.Task
		want  []string // node per task; "!reason text" for an unplaced task
		nodes []scheduler.Node
	}{
		{"first ready node in ID order", []scheduler.Task{{ID: "1"}, {ID: "2"}}, []string{"b", "b"}, nodes},
		{"full nodes are skipped", []scheduler.Task{{ID: "1", Reservations: scheduler.Resources{NanoCPUs: 1e9}},
			{ID: "2", Reservations: scheduler.Resources{NanoCPUs: 1e9}}}, []string{"b", "c"}, nodes},
		{"ports are counted in the batch", []scheduler.Task{{ID: "1", HostPorts: []scheduler.HostPort{{Port: 80}}},
			{ID: "2", HostPorts: []scheduler.HostPort{{Protocol: "tcp", Port: 80}}},
			{ID: "3", HostPorts: []scheduler.HostPort{{Protocol: "TCP", Port: 80}}}},
			[]string{"b", "c", "!1 node not available for new tasks; 2 nodes with the host port in use"}, nodes},
		{"constraints", []scheduler.Task{{ID: "1", Constraints: []string{"node.id==c"}}, {ID: "2", Constraints: []string{"node.role==manager"}}},
			[]string{"c", "!1 node not available for new tasks; 2 nodes not meeting constraints"}, nodes},
		{"a bad constraint", []scheduler.Task{{ID: "1", Constraints: []string{"zone"}}}, []string{"!invalid constraint"}, nodes},
		{"preassigned", []scheduler.Task{{ID: "1", NodeID: "c"}, {ID: "2", NodeID: "a-paused"}, {ID: "3", NodeID: "zz"}},
			[]string{"c", "!1 node not available", "!node zz not found"}, nodes},
		{"no nodes", []scheduler.Task{{ID: "1"}}, []string{"!no nodes in the cluster"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := scheduler.NewFake().Schedule(ctxFor(t), &scheduler.Request{Nodes: tc.nodes, Tasks: tc.tasks})
			if err != nil {
				t.Fatal(err)
			}
			for i, d := range resp.Decisions {
				want := tc.want[i]
				if reason, ok := strings.CutPrefix(want, "!"); ok {
					if d.NodeID != "" || !strings.Contains(d.Reason, reason) {
						t.Errorf("task %s: %+v, want unplaced saying %q", d.TaskID, d, reason)
					}
				} else if d.NodeID != want {
					t.Errorf("task %s: %+v, want node %s", d.TaskID, d, want)
				}
			}
		})
	}
}
