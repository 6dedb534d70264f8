package spread

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/scheduler"
)

// expiringCtx is a context whose Err turns to err after it has answered
// nil left times, to cancel in the middle of a batch.
type expiringCtx struct {
	context.Context
	left int
	err  error
}

func (c *expiringCtx) Err() error {
	if c.left <= 0 {
		return c.err
	}
	c.left--
	return nil
}

func TestScheduleStopsWhenTheContextIsDone(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	req := &scheduler.Request{
		Nodes: []scheduler.Node{node("a")},
		Tasks: []scheduler.Task{task("web.1", "web"), task("web.2", "web"), task("web.3", "web")},
	}
	cases := []struct {
		name string
		ctx  context.Context
		want error
	}{
		{name: "cancelled before the call", ctx: cancelled, want: context.Canceled},
		{name: "cancelled mid-batch", ctx: &expiringCtx{Context: context.Background(), left: 2, err: context.Canceled}, want: context.Canceled},
		{name: "deadline passes mid-batch", ctx: &expiringCtx{Context: context.Background(), left: 3, err: context.DeadlineExceeded}, want: context.DeadlineExceeded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := newTestScheduler(t).Schedule(tc.ctx, req)
			if !errors.Is(err, tc.want) {
				t.Errorf("Schedule error = %v, want %v", err, tc.want)
			}
			if resp != nil {
				t.Errorf("Schedule response = %+v, want nil with an error", resp)
			}
		})
	}
}

func TestScheduleRejectsANilRequest(t *testing.T) {
	_, err := newTestScheduler(t).Schedule(context.Background(), nil)
	if !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("Schedule(nil) error = %v, want sdk.ErrInvalidArgument", err)
	}
}

func TestScheduleEmptyBatch(t *testing.T) {
	resp, err := newTestScheduler(t).Schedule(context.Background(), &scheduler.Request{Nodes: []scheduler.Node{node("a")}})
	if err != nil || resp == nil || len(resp.Decisions) != 0 {
		t.Errorf("Schedule(no tasks) = %+v, %v; want no decisions and no error", resp, err)
	}
}

// randomRequest builds a cluster and batch exercising every filter.
func randomRequest(r *rand.Rand, nodes, tasks int) *scheduler.Request {
	req := &scheduler.Request{}
	avail := []string{"active", "active", "active", "active", "pause", "drain"}
	services := []string{"web", "api", "db", "cache"}
	for i := range nodes {
		n := node(fmt.Sprintf("n%02d", i),
			availability(avail[r.IntN(len(avail))]),
			labels("zone", fmt.Sprintf("z%d", r.IntN(3))),
			resources(int64(r.IntN(5))*cpu, int64(r.IntN(5))*gib))
		n.Ready = r.IntN(8) != 0
		if r.IntN(4) == 0 {
			n.Role = "manager"
		}
		for range r.IntN(4) {
			nt := scheduler.NodeTask{
				ServiceID:    services[r.IntN(len(services))],
				Reservations: scheduler.Resources{NanoCPUs: int64(r.IntN(2)) * cpu / 2},
			}
			if r.IntN(3) == 0 {
				nt.HostPorts = []scheduler.HostPort{hostPort("tcp", uint32(8000+r.IntN(3)))}
			}
			n.Tasks = append(n.Tasks, nt)
		}
		req.Nodes = append(req.Nodes, n)
	}
	exprs := []string{"node.labels.zone==z1", "node.labels.zone!=z2", "node.role==worker", "node.role!=worker", "node.platform.os==linux"}
	for i := range tasks {
		t := task(fmt.Sprintf("t%03d", i), services[r.IntN(len(services))],
			reserve(int64(r.IntN(3))*cpu/2, int64(r.IntN(2))*gib/2))
		if r.IntN(3) == 0 {
			t.Constraints = []string{exprs[r.IntN(len(exprs))]}
		}
		if r.IntN(4) == 0 {
			t.HostPorts = []scheduler.HostPort{hostPort("tcp", uint32(8000+r.IntN(3)))}
		}
		if r.IntN(10) == 0 {
			t.NodeID = fmt.Sprintf("n%02d", r.IntN(nodes+2)) // sometimes unknown
		}
		req.Tasks = append(req.Tasks, t)
	}
	return req
}

// refFits is a plain restatement of the filters over a node's tasks plus
// the batch's earlier placements, written apart from the scheduler's
// incremental bookkeeping.
func refFits(n *scheduler.Node, onNode []scheduler.NodeTask, t *scheduler.Task) bool {
	if !n.Ready || n.Availability != "active" {
		return false
	}
	for _, e := range t.Constraints {
		c, err := scheduler.ParseConstraint(e)
		if err != nil || !c.Match(n) {
			return false
		}
	}
	var usedCPU, usedMem int64
	used := map[string]bool{}
	for _, nt := range onNode {
		usedCPU += nt.Reservations.NanoCPUs
		usedMem += nt.Reservations.MemoryBytes
		for _, p := range nt.HostPorts {
			used[strings.ToLower(p.Protocol)+fmt.Sprint(p.Port)] = true
		}
	}
	if t.Reservations.NanoCPUs > 0 && (n.Resources.NanoCPUs == 0 || usedCPU+t.Reservations.NanoCPUs > n.Resources.NanoCPUs) {
		return false
	}
	if t.Reservations.MemoryBytes > 0 && (n.Resources.MemoryBytes == 0 || usedMem+t.Reservations.MemoryBytes > n.Resources.MemoryBytes) {
		return false
	}
	for _, p := range t.HostPorts {
		if used[strings.ToLower(p.Protocol)+fmt.Sprint(p.Port)] {
			return false
		}
	}
	return true
}

// TestScheduleAgreesWithAPlainRestatement checks random batches against
// refFits: every placement fits, no task is refused while some node fits,
// and the node chosen is the best by service count, task count and ID.
func TestScheduleAgreesWithAPlainRestatement(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			req := randomRequest(rand.New(rand.NewPCG(seed, 1)), 12, 60)
			decisions := schedule(t, req.Nodes, req.Tasks)
			onNode := map[string][]scheduler.NodeTask{}
			for _, n := range req.Nodes {
				onNode[n.ID] = append([]scheduler.NodeTask(nil), n.Tasks...)
			}
			for i, d := range decisions {
				tk := &req.Tasks[i]
				var best *scheduler.Node
				bestKey := func(n *scheduler.Node) [2]int {
					svc := 0
					for _, nt := range onNode[n.ID] {
						if nt.ServiceID == tk.ServiceID {
							svc++
						}
					}
					return [2]int{svc, len(onNode[n.ID])}
				}
				for j := range req.Nodes {
					n := &req.Nodes[j]
					if (tk.NodeID != "" && n.ID != tk.NodeID) || !refFits(n, onNode[n.ID], tk) {
						continue
					}
					if best == nil {
						best = n
						continue
					}
					k, bk := bestKey(n), bestKey(best)
					if k[0] < bk[0] || (k[0] == bk[0] && (k[1] < bk[1] || (k[1] == bk[1] && n.ID < best.ID))) {
						best = n
					}
				}
				switch {
				case best == nil && d.NodeID != "":
					t.Fatalf("task %s placed on %s, but no node fits it", tk.ID, d.NodeID)
				case best != nil && d.NodeID != best.ID:
					t.Fatalf("task %s: got node %q (reason %q), want %s", tk.ID, d.NodeID, d.Reason, best.ID)
				case best == nil && !strings.HasPrefix(d.Reason, "no suitable node (") && !strings.HasSuffix(d.Reason, " not found"):
					t.Fatalf("task %s: unexpected reason %q", tk.ID, d.Reason)
				}
				if d.NodeID != "" {
					onNode[d.NodeID] = append(onNode[d.NodeID], scheduler.NodeTask{
						ServiceID: tk.ServiceID, Reservations: tk.Reservations, HostPorts: tk.HostPorts,
					})
				}
			}
		})
	}
}

func TestScheduleDoesNotChangeTheRequestAndIsSafeConcurrently(t *testing.T) {
	req := randomRequest(rand.New(rand.NewPCG(7, 7)), 20, 100)
	pristine := randomRequest(rand.New(rand.NewPCG(7, 7)), 20, 100)
	s := newTestScheduler(t)
	first, err := s.Schedule(context.Background(), req)
	if err != nil {
		t.Fatalf("Schedule: %v", err)
	}
	var wg sync.WaitGroup
	results := make([]*scheduler.Response, 4)
	errs := make([]error, len(results))
	for i := range results {
		wg.Go(func() { results[i], errs[i] = s.Schedule(context.Background(), req) })
	}
	wg.Wait()
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("concurrent Schedule %d: %v", i, errs[i])
		}
		if !reflect.DeepEqual(results[i], first) {
			t.Errorf("concurrent Schedule %d decided differently from the first call", i)
		}
	}
	if !reflect.DeepEqual(req, pristine) {
		t.Error("Schedule changed its request")
	}
}
