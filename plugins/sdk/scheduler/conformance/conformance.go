// Package conformance is the scheduler plugin kind's conformance suite:
// the properties hive relies on from any scheduler, whatever its strategy
// (see Check). A scheduler plugin's author runs it from a test of their
// own:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, func(t *testing.T) scheduler.Scheduler {
//			return scheduler.NewHarness(t, myscheduler.New())
//		}, conformance.Options{})
//	}
//
// Going through scheduler.NewHarness checks the plugin as hive sees it,
// over gRPC. The suite checks fixed cases, then random batches generated
// from Options.Seed, so a failure can be replayed.
package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/scheduler"
)

// Options tune Run.
type Options struct {
	// Seed seeds the random batches; 1 when zero. A failure names the
	// seed and round to replay.
	Seed uint64
	// Rounds is the number of random batches; 200 when zero.
	Rounds int
	// Timeout bounds each call; 30s when zero.
	Timeout time.Duration
}

// Run runs the suite against the scheduler newScheduler returns (it is
// called once).
func Run(t *testing.T, newScheduler func(t *testing.T) scheduler.Scheduler, opts Options) {
	t.Helper()
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.Rounds <= 0 {
		opts.Rounds = 200
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	s := &suite{opts: opts, sched: newScheduler(t)}
	for _, c := range []struct {
		name string
		run  func(t *testing.T)
	}{
		{"describe names a scheduler plugin and health is ok", s.testDescribe},
		{"places a task when a node fits", s.testPlaces},
		{"one decision per task in order", s.testOneDecisionPerTask},
		{"never places on a node that is not ready and active", s.testAvailability},
		{"constraints hold", s.testConstraints},
		{"reservations fit including within the batch", s.testReservations},
		{"host ports do not conflict including within the batch", s.testHostPorts},
		{"a preassigned node is honoured or refused with a reason", s.testPreassigned},
		{"a cancelled context returns an error", s.testCancelled},
		{"the request is not modified", s.testNotModified},
		{"random batches keep every property", s.testRandom},
	} {
		t.Run(c.name, c.run)
	}
}

type suite struct {
	opts  Options
	sched scheduler.Scheduler
}

func (s *suite) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), s.opts.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// schedule calls the scheduler and fails t on an error or on any broken
// property.
func (s *suite) schedule(t *testing.T, req *scheduler.Request) *scheduler.Response {
	t.Helper()
	resp, err := s.sched.Schedule(s.ctx(t), req)
	if err != nil {
		t.Fatalf("Schedule = %v\nrequest: %s", err, dump(req))
	}
	if bad := Check(req, resp); len(bad) > 0 {
		t.Fatalf("Schedule broke the scheduler contract:\n  %s\nrequest: %s\nresponse: %s", join(bad), dump(req), dump(resp))
	}
	return resp
}

func join(lines []string) string { return strings.Join(lines, "\n  ") }

func dump(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// node returns a ready, active worker with room for a few tasks.
func node(id string) scheduler.Node {
	return scheduler.Node{
		ID:           id,
		Hostname:     "host-" + id,
		Role:         "worker",
		Availability: "active",
		Ready:        true,
		Platform:     scheduler.Platform{OS: "linux", Architecture: "amd64"},
		Resources:    scheduler.Resources{NanoCPUs: 4e9, MemoryBytes: 8 << 30},
	}
}

func task(id string) scheduler.Task {
	return scheduler.Task{ID: id, ServiceID: "svc"}
}

func (s *suite) testDescribe(t *testing.T) {
	info, err := s.sched.Describe(s.ctx(t))
	if err != nil {
		t.Fatalf("Describe = %v", err)
	}
	if info.Kind != sdk.KindScheduler {
		t.Errorf("Describe().Kind = %q, want %q", info.Kind, sdk.KindScheduler)
	}
	if info.Name == "" {
		t.Errorf("Describe().Name is empty; a plugin must name itself")
	}
	if err := s.sched.Health(s.ctx(t)); err != nil {
		t.Errorf("Health = %v, want nil", err)
	}
}

func (s *suite) testPlaces(t *testing.T) {
	req := &scheduler.Request{Nodes: []scheduler.Node{node("n1")}, Tasks: []scheduler.Task{task("t1")}}
	resp := s.schedule(t, req)
	if resp.Decisions[0].NodeID != "n1" {
		t.Errorf("the only task on the only fitting node: decision %+v, want n1", resp.Decisions[0])
	}
}

func (s *suite) testOneDecisionPerTask(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes int
		tasks int
	}{
		{"more tasks than nodes", 3, 7},
		{"no nodes", 0, 3},
		{"no tasks", 3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := &scheduler.Request{}
			for i := range tc.nodes {
				req.Nodes = append(req.Nodes, node(string(rune('a'+i))))
			}
			for i := range tc.tasks {
				req.Tasks = append(req.Tasks, task(string(rune('z'-i))))
			}
			resp := s.schedule(t, req)
			if tc.nodes == 0 {
				for _, d := range resp.Decisions {
					if d.NodeID != "" {
						t.Errorf("placed %s with no nodes", d.TaskID)
					}
				}
			}
		})
	}
}

func (s *suite) testAvailability(t *testing.T) {
	down := node("down")
	down.Ready = false
	paused := node("paused")
	paused.Availability = "pause"
	drained := node("drain")
	drained.Availability = "drain"
	unavailable := []scheduler.Node{down, paused, drained}

	t.Run("only unavailable nodes", func(t *testing.T) {
		resp := s.schedule(t, &scheduler.Request{Nodes: unavailable, Tasks: []scheduler.Task{task("t1"), task("t2")}})
		for _, d := range resp.Decisions {
			if d.NodeID != "" {
				t.Errorf("task %s placed on %s", d.TaskID, d.NodeID)
			}
		}
	})
	t.Run("one available node", func(t *testing.T) {
		nodes := append(append([]scheduler.Node{}, unavailable...), node("ok"))
		resp := s.schedule(t, &scheduler.Request{Nodes: nodes, Tasks: []scheduler.Task{task("t1"), task("t2"), task("t3")}})
		for _, d := range resp.Decisions {
			if d.NodeID != "ok" {
				t.Errorf("task %s: %+v, want it on the one available node", d.TaskID, d)
			}
		}
	})
}

func (s *suite) testConstraints(t *testing.T) {
	east := node("east")
	east.Labels = map[string]string{"zone": "east", "disk": "ssd"}
	west := node("west")
	west.Labels = map[string]string{"zone": "west"}
	mgr := node("mgr")
	mgr.Role = "manager"
	mgr.Platform.Architecture = "arm64"
	nodes := []scheduler.Node{east, west, mgr}
	for _, tc := range []struct {
		constraints []string
		want        string // the one node that satisfies them; "" for none
	}{
		{[]string{"node.labels.zone==east"}, "east"},
		{[]string{"node.labels.zone!=east", "node.role==worker"}, "west"},
		{[]string{"node.role==manager"}, "mgr"},
		{[]string{"node.platform.arch==arm64"}, "mgr"},
		{[]string{"node.hostname==host-west"}, "west"},
		{[]string{"node.id==east", "node.labels.disk==ssd"}, "east"},
		{[]string{"node.labels.zone==north"}, ""},
		{[]string{"node.role==manager", "node.labels.zone==east"}, ""},
	} {
		t.Run(dump(tc.constraints), func(t *testing.T) {
			tk := task("t1")
			tk.Constraints = tc.constraints
			resp := s.schedule(t, &scheduler.Request{Nodes: nodes, Tasks: []scheduler.Task{tk}})
			if got := resp.Decisions[0].NodeID; got != tc.want {
				t.Errorf("placed on %q, want %q (the only node that satisfies them, or none)", got, tc.want)
			}
		})
	}
	t.Run("invalid constraints are refused", func(t *testing.T) {
		tk := task("t1")
		tk.Constraints = []string{"node.colour==blue"}
		req := &scheduler.Request{Nodes: nodes, Tasks: []scheduler.Task{tk}}
		resp, err := s.sched.Schedule(s.ctx(t), req)
		if err != nil {
			if !errors.Is(err, sdk.ErrInvalidArgument) {
				t.Errorf("Schedule = %v; an error for a bad constraint must wrap sdk.ErrInvalidArgument", err)
			}
			return
		}
		if bad := Check(req, resp); len(bad) > 0 {
			t.Errorf("broke the contract: %s", join(bad))
		}
	})
}

func (s *suite) testReservations(t *testing.T) {
	n := node("n1")
	n.Resources = scheduler.Resources{NanoCPUs: 2e9, MemoryBytes: 1 << 30}
	n.Tasks = []scheduler.NodeTask{{ServiceID: "old", Reservations: scheduler.Resources{NanoCPUs: 1e9}}}
	tiny := node("tiny")
	tiny.Resources = scheduler.Resources{}
	req := &scheduler.Request{Nodes: []scheduler.Node{n, tiny}}
	for _, id := range []string{"t1", "t2", "t3"} {
		tk := task(id)
		tk.Reservations = scheduler.Resources{NanoCPUs: 5e8, MemoryBytes: 256 << 20}
		req.Tasks = append(req.Tasks, tk)
	}
	resp := s.schedule(t, req)
	placed := 0
	for _, d := range resp.Decisions {
		if d.NodeID != "" {
			placed++
		}
	}
	if placed != 2 {
		t.Errorf("placed %d tasks of 0.5 CPU where 1 CPU is left, want 2", placed)
	}
	free := task("free")
	resp = s.schedule(t, &scheduler.Request{Nodes: []scheduler.Node{tiny}, Tasks: []scheduler.Task{free}})
	if resp.Decisions[0].NodeID != "tiny" {
		t.Errorf("a task reserving nothing on a node declaring no capacity: %+v, want it placed", resp.Decisions[0])
	}
}

func (s *suite) testHostPorts(t *testing.T) {
	a, b := node("a"), node("b")
	a.Tasks = []scheduler.NodeTask{{ServiceID: "old", HostPorts: []scheduler.HostPort{{Protocol: "tcp", Port: 80}}}}
	req := &scheduler.Request{Nodes: []scheduler.Node{a, b}}
	for _, id := range []string{"t1", "t2", "t3"} {
		tk := task(id)
		tk.HostPorts = []scheduler.HostPort{{Protocol: "tcp", Port: 80}}
		req.Tasks = append(req.Tasks, tk)
	}
	udp := task("udp")
	udp.HostPorts = []scheduler.HostPort{{Protocol: "udp", Port: 80}}
	req.Tasks = append(req.Tasks, udp)
	resp := s.schedule(t, req)
	if resp.Decisions[0].NodeID != "b" {
		t.Errorf("first task wanting 80/tcp: %+v, want b (a holds the port)", resp.Decisions[0])
	}
	if resp.Decisions[3].NodeID == "" {
		t.Errorf("a task wanting 80/udp: %+v, want it placed (80/tcp is another port)", resp.Decisions[3])
	}
}

func (s *suite) testPreassigned(t *testing.T) {
	down := node("down")
	down.Ready = false
	full := node("full")
	full.Resources = scheduler.Resources{NanoCPUs: 1e9, MemoryBytes: 1 << 30}
	nodes := []scheduler.Node{node("n1"), node("n2"), down, full}
	for _, tc := range []struct {
		nodeID string
		placed bool
	}{
		{"n2", true},
		{"down", false},
		{"full", false},
		{"missing", false},
	} {
		t.Run(tc.nodeID, func(t *testing.T) {
			tk := task("t1")
			tk.NodeID = tc.nodeID
			tk.Reservations = scheduler.Resources{NanoCPUs: 2e9}
			resp := s.schedule(t, &scheduler.Request{Nodes: nodes, Tasks: []scheduler.Task{tk}})
			if got := resp.Decisions[0].NodeID != ""; got != tc.placed {
				t.Errorf("task preassigned to %s: %+v, want placed %v", tc.nodeID, resp.Decisions[0], tc.placed)
			}
		})
	}
}

func (s *suite) testCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	req := &scheduler.Request{Nodes: []scheduler.Node{node("n1")}, Tasks: []scheduler.Task{task("t1")}}
	if _, err := s.sched.Schedule(ctx, req); err == nil {
		t.Errorf("Schedule with a cancelled context = nil error, want one")
	}
}

func (s *suite) testNotModified(t *testing.T) {
	rng := rand.New(rand.NewPCG(s.opts.Seed, 99))
	req := randomRequest(rng)
	before := dump(req)
	s.schedule(t, req)
	if after := dump(req); after != before {
		t.Errorf("Schedule modified its request:\nbefore %s\nafter  %s", before, after)
	}
}

func (s *suite) testRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(s.opts.Seed, 0))
	for round := range s.opts.Rounds {
		req := randomRequest(rng)
		resp, err := s.sched.Schedule(s.ctx(t), req)
		if err != nil {
			t.Fatalf("seed %d round %d: Schedule = %v\nrequest: %s", s.opts.Seed, round, err, dump(req))
		}
		if bad := Check(req, resp); len(bad) > 0 {
			t.Fatalf("seed %d round %d broke the scheduler contract:\n  %s\nrequest: %s\nresponse: %s",
				s.opts.Seed, round, join(bad), dump(req), dump(resp))
		}
	}
}
