package spread

import (
	"testing"

	"github.com/hiveorch/hive/plugins/sdk/scheduler"
)

func TestScheduleChecksResources(t *testing.T) {
	const noneOf1 = "no suitable node (insufficient resources on 1 node)"
	runScheduleCases(t, []scheduleCase{
		{
			name:  "fits exactly",
			nodes: []scheduler.Node{node("a", resources(2*cpu, gib))},
			tasks: []scheduler.Task{task("web.1", "web", reserve(2*cpu, gib))},
			want:  []want{placed("a")},
		},
		{
			name:  "too much CPU",
			nodes: []scheduler.Node{node("a", resources(2*cpu, 4*gib))},
			tasks: []scheduler.Task{task("web.1", "web", reserve(3*cpu, gib))},
			want:  []want{unschedulable(noneOf1)},
		},
		{
			name:  "too much memory",
			nodes: []scheduler.Node{node("a", resources(2*cpu, gib))},
			tasks: []scheduler.Task{task("web.1", "web", reserve(cpu, gib+1))},
			want:  []want{unschedulable(noneOf1)},
		},
		{
			name:  "tasks already on the node hold their reservations",
			nodes: []scheduler.Node{node("a", resources(2*cpu, 0), running(scheduler.NodeTask{ServiceID: "db", Reservations: scheduler.Resources{NanoCPUs: 3 * cpu / 2}}))},
			tasks: []scheduler.Task{task("web.1", "web", reserve(cpu, 0)), task("web.2", "web", reserve(cpu/2, 0))},
			want:  []want{unschedulable(noneOf1), placed("a")},
		},
		{
			name:  "placements earlier in the batch hold their reservations",
			nodes: []scheduler.Node{node("a", resources(2*cpu, 2*gib))},
			tasks: []scheduler.Task{
				task("web.1", "web", reserve(cpu, gib)),
				task("web.2", "web", reserve(cpu, gib)),
				task("web.3", "web", reserve(cpu, 0)),
				task("web.4", "web", reserve(0, gib)),
				task("web.5", "web"),
			},
			want: []want{placed("a"), placed("a"), unschedulable(noneOf1), unschedulable(noneOf1), placed("a")},
		},
		{
			name:  "a full node sends the batch elsewhere",
			nodes: []scheduler.Node{node("a", resources(cpu, gib)), node("b", resources(4*cpu, 4*gib))},
			tasks: []scheduler.Task{
				task("web.1", "web", reserve(cpu, 0)),
				task("web.2", "web", reserve(cpu, 0)),
				task("web.3", "web", reserve(cpu, 0)), // a is full
			},
			want: []want{placed("a"), placed("b"), placed("b")},
		},
		{
			name:  "no capacity declared and nothing reserved fits",
			nodes: []scheduler.Node{node("a")},
			tasks: []scheduler.Task{task("web.1", "web"), task("web.2", "web")},
			want:  []want{placed("a"), placed("a")},
		},
		{
			name:  "no CPU declared does not fit a CPU reservation",
			nodes: []scheduler.Node{node("a", resources(0, 8*gib))},
			tasks: []scheduler.Task{task("web.1", "web", reserve(1, 0))},
			want:  []want{unschedulable(noneOf1)},
		},
		{
			name:  "no memory declared does not fit a memory reservation",
			nodes: []scheduler.Node{node("a", resources(8*cpu, 0))},
			tasks: []scheduler.Task{task("web.1", "web", reserve(cpu, 1))},
			want:  []want{unschedulable(noneOf1)},
		},
		{
			name:  "no memory declared is unlimited for a task reserving only CPU",
			nodes: []scheduler.Node{node("a", resources(2*cpu, 0))},
			tasks: []scheduler.Task{task("web.1", "web", reserve(2*cpu, 0))},
			want:  []want{placed("a")},
		},
		{
			name:  "an over-committed node still takes a task reserving nothing",
			nodes: []scheduler.Node{node("a", resources(cpu, gib), running(scheduler.NodeTask{ServiceID: "db", Reservations: scheduler.Resources{NanoCPUs: 2 * cpu, MemoryBytes: 2 * gib}}))},
			tasks: []scheduler.Task{task("web.1", "web")},
			want:  []want{placed("a")},
		},
	})
}

func TestScheduleChecksHostPorts(t *testing.T) {
	busy := func(ps ...scheduler.HostPort) nodeOpt {
		return running(scheduler.NodeTask{ServiceID: "old", HostPorts: ps})
	}
	runScheduleCases(t, []scheduleCase{
		{
			name:  "a port in use sends the task to a busier node",
			nodes: []scheduler.Node{node("a", busy(hostPort("tcp", 80))), node("b", runningN("db", 3))},
			tasks: []scheduler.Task{task("web.1", "web", ports(hostPort("tcp", 80)))},
			want:  []want{placed("b")},
		},
		{
			name:  "a port in use everywhere",
			nodes: []scheduler.Node{node("a", busy(hostPort("tcp", 80))), node("b", busy(hostPort("tcp", 443), hostPort("tcp", 80)))},
			tasks: []scheduler.Task{task("web.1", "web", ports(hostPort("tcp", 80)))},
			want:  []want{unschedulable("no suitable node (host-mode port already in use on 2 nodes)")},
		},
		{
			name:  "one of several ports in use is enough",
			nodes: []scheduler.Node{node("a", busy(hostPort("udp", 53)))},
			tasks: []scheduler.Task{task("dns.1", "dns", ports(hostPort("tcp", 53), hostPort("udp", 53)))},
			want:  []want{unschedulable("no suitable node (host-mode port already in use on 1 node)")},
		},
		{
			name:  "another protocol on the same port does not conflict",
			nodes: []scheduler.Node{node("a", busy(hostPort("udp", 53)))},
			tasks: []scheduler.Task{task("dns.1", "dns", ports(hostPort("tcp", 53)))},
			want:  []want{placed("a")},
		},
		{
			name:  "protocols compare case-insensitively and default to tcp",
			nodes: []scheduler.Node{node("a", busy(hostPort("", 80))), node("b", busy(hostPort("UDP", 53)))},
			tasks: []scheduler.Task{
				task("web.1", "web", ports(hostPort("TCP", 80))),
				task("dns.1", "dns", ports(hostPort("udp", 53))),
			},
			want: []want{placed("b"), placed("a")},
		},
		{
			name:  "port 0 is chosen at start and never conflicts",
			nodes: []scheduler.Node{node("a", busy(hostPort("tcp", 0)))},
			tasks: []scheduler.Task{
				task("web.1", "web", ports(hostPort("tcp", 0))),
				task("web.2", "web", ports(hostPort("tcp", 0))),
			},
			want: []want{placed("a"), placed("a")},
		},
		{
			name:  "two tasks of one batch wanting one port go to different nodes",
			nodes: []scheduler.Node{node("a"), node("b", runningN("db", 5))},
			tasks: []scheduler.Task{
				task("web.1", "web", ports(hostPort("tcp", 8080))),
				task("api.1", "api", ports(hostPort("tcp", 8080))),
				task("api.2", "api"),
			},
			want: []want{placed("a"), placed("b"), placed("a")},
		},
		{
			name:  "two tasks of one batch wanting one port on one node",
			nodes: []scheduler.Node{node("a")},
			tasks: []scheduler.Task{
				task("web.1", "web", ports(hostPort("tcp", 8080))),
				task("web.2", "web", ports(hostPort("tcp", 8080))),
				task("web.3", "web", ports(hostPort("tcp", 8081))),
			},
			want: []want{placed("a"), unschedulable("no suitable node (host-mode port already in use on 1 node)"), placed("a")},
		},
	})
}

func TestScheduleReasonCountsEachNodeUnderItsFirstFailingFilter(t *testing.T) {
	tiny := resources(cpu/2, gib)
	runScheduleCases(t, []scheduleCase{
		{
			name:  "no nodes at all",
			nodes: nil,
			tasks: []scheduler.Task{task("web.1", "web")},
			want:  []want{unschedulable("no suitable node (no nodes in the cluster)")},
		},
		{
			name: "every filter, in order",
			nodes: []scheduler.Node{
				// Unavailable nodes that would also fail every later filter.
				node("d1", availability("drain"), labels("zone", "west"), tiny),
				node("d2", notReady(), tiny),
				// Fails the constraint and resources: counted under constraints.
				node("c1", labels("zone", "west"), tiny),
				node("r1", tiny),
				node("r2", tiny),
				node("r3", resources(0, 0), running(scheduler.NodeTask{HostPorts: []scheduler.HostPort{hostPort("tcp", 80)}})),
				node("p1", resources(4*cpu, 4*gib), running(scheduler.NodeTask{HostPorts: []scheduler.HostPort{hostPort("tcp", 80)}})),
			},
			tasks: []scheduler.Task{task("web.1", "web", constraints("node.labels.zone!=west"), reserve(cpu, 0), ports(hostPort("tcp", 80)))},
			want: []want{unschedulable("no suitable node (2 nodes not available for new tasks; " +
				"scheduling constraints not satisfied on 1 node; insufficient resources on 3 nodes; " +
				"host-mode port already in use on 1 node)")},
		},
		{
			name: "only the filters that rejected a node are named",
			nodes: []scheduler.Node{
				node("a", availability("pause")),
				node("b", resources(cpu, gib)),
				node("c", resources(cpu, gib)),
			},
			tasks: []scheduler.Task{task("web.1", "web", reserve(2*cpu, 0))},
			want:  []want{unschedulable("no suitable node (1 node not available for new tasks; insufficient resources on 2 nodes)")},
		},
		{
			name:  "constraints and ports",
			nodes: []scheduler.Node{node("a", role("manager")), node("b", running(scheduler.NodeTask{HostPorts: []scheduler.HostPort{hostPort("udp", 9)}}))},
			tasks: []scheduler.Task{task("web.1", "web", constraints("node.role==worker"), ports(hostPort("udp", 9)))},
			want:  []want{unschedulable("no suitable node (scheduling constraints not satisfied on 1 node; host-mode port already in use on 1 node)")},
		},
	})
}

func TestReasonWording(t *testing.T) {
	cases := []struct {
		rejected [numVerdicts]int
		want     string
	}{
		{[numVerdicts]int{notAvailable: 1}, "no suitable node (1 node not available for new tasks)"},
		{[numVerdicts]int{notAvailable: 2}, "no suitable node (2 nodes not available for new tasks)"},
		{[numVerdicts]int{constraintsUnmet: 1}, "no suitable node (scheduling constraints not satisfied on 1 node)"},
		{[numVerdicts]int{constraintsUnmet: 12}, "no suitable node (scheduling constraints not satisfied on 12 nodes)"},
		{[numVerdicts]int{insufficientResources: 1}, "no suitable node (insufficient resources on 1 node)"},
		{[numVerdicts]int{insufficientResources: 3}, "no suitable node (insufficient resources on 3 nodes)"},
		{[numVerdicts]int{portInUse: 1}, "no suitable node (host-mode port already in use on 1 node)"},
		{[numVerdicts]int{portInUse: 1000}, "no suitable node (host-mode port already in use on 1000 nodes)"},
		{
			[numVerdicts]int{notAvailable: 1, portInUse: 2},
			"no suitable node (1 node not available for new tasks; host-mode port already in use on 2 nodes)",
		},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			if got := reason(tc.rejected); got != tc.want {
				t.Errorf("reason(%v) = %q, want %q", tc.rejected, got, tc.want)
			}
		})
	}
}
