package spread

import (
	"context"
	"fmt"
	"testing"

	"github.com/hiveorch/hive/plugins/sdk/scheduler"
)

// BenchmarkSchedule1000Nodes500Tasks places a batch of 500 tasks of five
// services, with constraints, reservations and some host ports, on 1000
// nodes that already run ten tasks each.
func BenchmarkSchedule1000Nodes500Tasks(b *testing.B) {
	req := &scheduler.Request{}
	for i := range 1000 {
		n := node(fmt.Sprintf("node-%04d", i),
			labels("zone", fmt.Sprintf("z%d", i%4), "rack", fmt.Sprint(i%40)),
			resources(16*cpu, 64*gib))
		if i%50 == 0 {
			n.Availability = "drain"
		}
		for j := range 10 {
			nt := scheduler.NodeTask{
				ServiceID:    fmt.Sprintf("svc-%d", (i+j)%20),
				Reservations: scheduler.Resources{NanoCPUs: cpu / 2, MemoryBytes: gib},
			}
			if j == 0 {
				nt.HostPorts = []scheduler.HostPort{hostPort("tcp", uint32(9000+i%10))}
			}
			n.Tasks = append(n.Tasks, nt)
		}
		req.Nodes = append(req.Nodes, n)
	}
	for i := range 500 {
		tk := task(fmt.Sprintf("task-%03d", i), fmt.Sprintf("svc-%d", i%5),
			constraints("node.labels.zone!=z3", "node.role==worker"),
			reserve(cpu/4, gib/2))
		if i%10 == 0 {
			tk.HostPorts = []scheduler.HostPort{hostPort("tcp", 9000)}
		}
		req.Tasks = append(req.Tasks, tk)
	}
	s := New(nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := s.Schedule(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		if len(resp.Decisions) != len(req.Tasks) {
			b.Fatalf("got %d decisions, want %d", len(resp.Decisions), len(req.Tasks))
		}
	}
}
