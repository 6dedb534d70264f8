package conformance

import (
	"fmt"
	"math/rand/v2"

	"github.com/hiveorch/hive/plugins/sdk/scheduler"
)

// randomRequest generates a batch that exercises every filter: nodes down,
// paused or drained, with and without labels, capacity and tasks holding
// resources and ports; tasks with constraints, reservations, host ports
// and preassigned nodes (some missing).
func randomRequest(rng *rand.Rand) *scheduler.Request {
	pick := func(options ...string) string { return options[rng.IntN(len(options))] }
	req := &scheduler.Request{}
	nodeCount := rng.IntN(7)
	for i := range nodeCount {
		n := scheduler.Node{
			ID:           fmt.Sprintf("node-%02d", i),
			Hostname:     fmt.Sprintf("host-%02d", i),
			Role:         pick("manager", "worker", "worker"),
			Availability: pick("active", "active", "active", "pause", "drain"),
			Ready:        rng.IntN(8) > 0,
			Platform:     scheduler.Platform{OS: "linux", Architecture: pick("amd64", "arm64")},
			Resources: scheduler.Resources{
				NanoCPUs:    []int64{0, 1e9, 2e9, 4e9}[rng.IntN(4)],
				MemoryBytes: []int64{0, 1 << 30, 4 << 30}[rng.IntN(3)],
			},
		}
		if rng.IntN(3) > 0 {
			n.Labels = map[string]string{"zone": pick("east", "west")}
			if rng.IntN(2) == 0 {
				n.Labels["disk"] = "ssd"
			}
		}
		for range rng.IntN(3) {
			n.Tasks = append(n.Tasks, scheduler.NodeTask{
				ServiceID:    pick("svc-a", "svc-b", "other"),
				Reservations: randomReservations(rng),
				HostPorts:    randomPorts(rng),
			})
		}
		req.Nodes = append(req.Nodes, n)
	}
	constraints := []string{
		"node.labels.zone==east", "node.labels.zone!=east", "node.labels.disk==ssd",
		"node.role==worker", "node.role==manager", "node.platform.arch==amd64",
		"node.platform.os==linux", "node.hostname!=host-01",
	}
	for i := range rng.IntN(11) {
		t := scheduler.Task{
			ID:           fmt.Sprintf("task-%02d", i),
			ServiceID:    pick("svc-a", "svc-b"),
			Reservations: randomReservations(rng),
			HostPorts:    randomPorts(rng),
		}
		for range rng.IntN(3) {
			t.Constraints = append(t.Constraints, constraints[rng.IntN(len(constraints))])
		}
		if rng.IntN(10) == 0 {
			if nodeCount > 0 && rng.IntN(4) > 0 {
				t.NodeID = fmt.Sprintf("node-%02d", rng.IntN(nodeCount))
			} else {
				t.NodeID = "node-missing"
			}
		}
		req.Tasks = append(req.Tasks, t)
	}
	return req
}

func randomReservations(rng *rand.Rand) scheduler.Resources {
	return scheduler.Resources{
		NanoCPUs:    []int64{0, 0, 5e8, 1e9}[rng.IntN(4)],
		MemoryBytes: []int64{0, 0, 256 << 20, 1 << 30}[rng.IntN(4)],
	}
}

func randomPorts(rng *rand.Rand) []scheduler.HostPort {
	if rng.IntN(4) > 0 {
		return nil
	}
	all := []scheduler.HostPort{{Protocol: "tcp", Port: 80}, {Protocol: "", Port: 443}, {Protocol: "udp", Port: 53}, {Protocol: "TCP", Port: 80}, {Port: 0}}
	return []scheduler.HostPort{all[rng.IntN(len(all))]}
}
