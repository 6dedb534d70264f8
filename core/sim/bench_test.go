package sim

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/orchestrator"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// runningCount is a cheap Settle condition for large clusters: the number
// of the service's tasks desired running and running reaches n.
func runningCount(c *Cluster, serviceID string, n int) func() bool {
	return func() bool {
		got := 0
		c.Store().View(func(tx store.ReadTx) {
			for _, t := range tx.TasksByService(serviceID) {
				if t.DesiredState == types.TaskStateRunning && t.Status.State == types.TaskStateRunning {
					got++
				}
			}
		})
		return got == n
	}
}

var benchSizes = []struct{ nodes, tasks int }{
	{10, 100},
	{100, 1000},
	{1000, 10000},
}

// BenchmarkConverge measures how long a cluster takes to run one
// replicated service from its creation until every task runs: in fake time
// (what the controllers' batching and timers cost) and in real time (what
// the code costs). Run it with -benchtime=1x: one convergence of the
// largest size takes seconds.
func BenchmarkConverge(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("nodes=%d/tasks=%d", size.nodes, size.tasks), func(b *testing.B) {
			var fake time.Duration
			for range b.N {
				b.StopTimer()
				c := New(b, size.nodes, WithoutStepChecks(), WithLogger(slog.New(slog.DiscardHandler)))
				c.Start()
				start := c.Elapsed()
				b.StartTimer()
				svc := c.CreateService(ReplicatedSpec("web", uint64(size.tasks)))
				if err := c.Settle(runningCount(c, svc.ID, size.tasks), 5*time.Minute); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				fake += c.Elapsed() - start
				if err := c.CheckSettled(); err != nil {
					b.Fatal(err)
				}
				c.Stop()
			}
			b.ReportMetric(float64(fake.Milliseconds())/float64(b.N), "fake-ms/op")
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "real-ms/op")
		})
	}
}

// runningOffDrained is a cheap Settle condition: n of the service's tasks
// run, none of them on a drained node.
func runningOffDrained(c *Cluster, serviceID string, n int) func() bool {
	return func() bool {
		got := 0
		c.Store().View(func(tx store.ReadTx) {
			for _, t := range tx.TasksByService(serviceID) {
				if !orchestrator.Occupies(t) {
					continue
				}
				if nd := tx.Node(t.NodeID); nd == nil || nd.Spec.Availability == types.AvailabilityDrain {
					got = -1
					return
				}
				if t.DesiredState == types.TaskStateRunning && t.Status.State == types.TaskStateRunning {
					got++
				}
			}
		})
		return got == n
	}
}

// BenchmarkDrainOneTenthOfTheNodes measures how long a converged cluster
// takes to move the tasks of one node in ten elsewhere, in fake and real
// time. Run it with -benchtime=1x.
func BenchmarkDrainOneTenthOfTheNodes(b *testing.B) {
	for _, size := range benchSizes[1:] {
		b.Run(fmt.Sprintf("nodes=%d/tasks=%d", size.nodes, size.tasks), func(b *testing.B) {
			var fake time.Duration
			for range b.N {
				b.StopTimer()
				c := New(b, size.nodes, WithoutStepChecks(), WithLogger(slog.New(slog.DiscardHandler)))
				c.Start()
				svc := c.CreateService(ReplicatedSpec("web", uint64(size.tasks)))
				if err := c.Settle(runningCount(c, svc.ID, size.tasks), 5*time.Minute); err != nil {
					b.Fatal(err)
				}
				start := c.Elapsed()
				b.StartTimer()
				for i := 1; i <= size.nodes/10; i++ {
					if err := c.SetAvailability(i, types.AvailabilityDrain); err != nil {
						b.Fatal(err)
					}
				}
				if err := c.Settle(runningOffDrained(c, svc.ID, size.tasks), 5*time.Minute); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				fake += c.Elapsed() - start
				if err := c.Settle(c.Converged, time.Minute); err != nil {
					b.Fatal(err)
				}
				if err := c.CheckSettled(); err != nil {
					b.Fatal(err)
				}
				c.Stop()
			}
			b.ReportMetric(float64(fake.Milliseconds())/float64(b.N), "fake-ms/op")
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "real-ms/op")
		})
	}
}
