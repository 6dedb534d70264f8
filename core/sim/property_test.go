package sim

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// The property test drives a cluster with random operations (create, scale
// and remove services, kill containers, restart agents or stop them for a
// while, drain, pause and reactivate nodes), a few at a time without
// letting the cluster settle in between, then restarts any stopped agent,
// settles the cluster and checks every invariant. A failure names
// the seed and the operations that led to it.

var (
	seedCount = flag.Int("sim.seeds", 8, "how many seeds the random-operations test runs")
	onlySeed  = flag.Uint64("sim.seed", 0, "run the random-operations test with this seed only (to replay a failure)")
	opSteps   = flag.Int("sim.steps", 25, "how many settle rounds each seed of the random-operations test runs")
)

// randomRun is one seeded run.
type randomRun struct {
	t        *testing.T
	c        *Cluster
	rng      *rand.Rand
	services []string
	next     int
	log      []string
	// stopped holds the nodes whose agent is stopped until the next
	// settle.
	stopped map[int]bool
}

func (r *randomRun) logf(format string, args ...any) {
	line := fmt.Sprintf("[%s] ", r.c.Elapsed()) + fmt.Sprintf(format, args...)
	r.log = append(r.log, line)
	r.t.Log(line)
}

func (r *randomRun) pick(xs []string) string { return xs[r.rng.IntN(len(xs))] }

var restartDelays = []*types.Duration{nil, dur(0), dur(time.Second), dur(300 * time.Millisecond)}

func (r *randomRun) createService() {
	r.next++
	name := fmt.Sprintf("svc%d", r.next)
	var spec types.ServiceSpec
	if r.rng.IntN(4) == 0 {
		spec = GlobalSpec(name)
		if r.rng.IntN(2) == 0 {
			spec.Task.Placement.Constraints = []string{"node.role==worker"}
		}
	} else {
		spec = ReplicatedSpec(name, uint64(r.rng.IntN(7)))
	}
	spec.Task.RestartPolicy = types.RestartPolicy{Condition: types.RestartAny, Delay: restartDelays[r.rng.IntN(len(restartDelays))]}
	r.logf("create %s service %s replicas %d constraints %v delay %v", spec.Mode, name, spec.Replicas, spec.Task.Placement.Constraints, spec.Task.RestartPolicy.Delay)
	r.c.CreateService(spec)
	r.services = append(r.services, name)
}

func (r *randomRun) replicated() []string {
	var out []string
	for _, name := range r.services {
		if svc, err := r.c.Control().GetService(r.c.Context(), name); err == nil && svc.Spec.Mode == types.ModeReplicated {
			out = append(out, name)
		}
	}
	return out
}

func (r *randomRun) step() {
	switch op := r.rng.IntN(100); {
	case op < 20 || len(r.services) == 0:
		r.createService()
	case op < 40:
		if names := r.replicated(); len(names) > 0 {
			name, n := r.pick(names), uint64(r.rng.IntN(9))
			r.logf("scale %s to %d", name, n)
			r.c.ScaleService(name, n)
		}
	case op < 50:
		name := r.pick(r.services)
		r.logf("remove %s", name)
		r.c.RemoveService(name)
		r.services = slices.DeleteFunc(r.services, func(s string) bool { return s == name })
	case op < 75:
		r.killOne()
	case op < 80:
		i := r.rng.IntN(r.c.Nodes())
		if r.stopped[i] {
			return
		}
		r.logf("restart the agent of %s", r.c.Node(i).ID)
		r.c.RestartNode(i)
	case op < 85:
		i := r.rng.IntN(r.c.Nodes())
		if r.stopped[i] {
			return
		}
		r.logf("stop the agent of %s until the next settle", r.c.Node(i).ID)
		r.c.StopNode(i)
		r.stopped[i] = true
	default:
		r.changeAvailability()
	}
}

// killOne makes a random running container exit, whatever the store
// knows of it yet.
func (r *randomRun) killOne() {
	type victim struct {
		node int
		name string
		id   string
	}
	var running []victim
	for i := range r.c.Nodes() {
		for _, ct := range r.c.Node(i).Runtime.Containers() {
			if ct.Running() {
				running = append(running, victim{i, ct.Name, ct.ID})
			}
		}
	}
	if len(running) == 0 {
		return
	}
	v := running[r.rng.IntN(len(running))]
	code := []int{0, 1, 137}[r.rng.IntN(3)]
	r.logf("kill container %s on %s with exit code %d", v.name, r.c.Node(v.node).ID, code)
	if err := r.c.Node(v.node).Runtime.Exit(v.id, code); err != nil {
		r.t.Fatal(err)
	}
}

// changeAvailability drains, pauses or reactivates a node, keeping at
// least two nodes active so that every service can converge.
func (r *randomRun) changeAvailability() {
	i := r.rng.IntN(r.c.Nodes())
	want := []types.Availability{types.AvailabilityActive, types.AvailabilityPause, types.AvailabilityDrain}[r.rng.IntN(3)]
	active := 0
	r.c.Store().View(func(tx store.ReadTx) {
		for _, n := range tx.Nodes() {
			if n.Spec.Availability == types.AvailabilityActive && n.ID != r.c.Node(i).ID {
				active++
			}
		}
	})
	if want != types.AvailabilityActive && active < 2 {
		want = types.AvailabilityActive
	}
	r.logf("set %s %s", r.c.Node(i).ID, want)
	if err := r.c.SetAvailability(i, want); err != nil {
		r.t.Fatal(err)
	}
}

func TestRandomOperationsKeepEveryInvariant(t *testing.T) {
	seeds := make([]uint64, 0, *seedCount)
	for s := range *seedCount {
		seeds = append(seeds, uint64(s+1))
	}
	if *onlySeed != 0 {
		seeds = []uint64{*onlySeed}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			r := &randomRun{t: t, rng: rand.New(rand.NewPCG(seed, 0x5157)), stopped: map[int]bool{}}
			r.c = startCluster(t, 4)
			for range *opSteps {
				for range 1 + r.rng.IntN(3) {
					r.step()
					// Let part of the work happen before the next
					// operation: some, none in fake time, or none at all.
					if r.rng.IntN(4) == 0 {
						continue
					}
					if err := r.c.Advance(time.Duration(r.rng.IntN(4)) * 20 * time.Millisecond); err != nil {
						t.Fatalf("seed %d: %v", seed, err)
					}
				}
				for i := range r.stopped {
					r.logf("start the agent of %s", r.c.Node(i).ID)
					r.c.StartNode(i)
					delete(r.stopped, i)
				}
				if err := r.c.Settle(r.c.Converged, time.Minute); err != nil {
					t.Fatalf("seed %d: did not converge: %v", seed, err)
				}
				if err := r.c.CheckSettled(); err != nil {
					t.Fatalf("seed %d: invariant violated after settling: %v\n%s", seed, err, r.c.Describe())
				}
			}
		})
	}
}
