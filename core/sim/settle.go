package sim

import (
	"fmt"
	goruntime "runtime"
	"runtime/metrics"
	"time"
)

// Quiescence tuning: how many consecutive idle readings make the process
// quiescent, how many yields come between two readings (reading the
// scheduler's counts takes its lock, so reading at every yield would slow
// the very goroutines being waited for), and how many yields a wait may
// take before it gives up (a runaway goroutine then slows the simulation
// instead of hanging it).
const (
	quietReadings    = 4
	yieldsPerReading = 16
	maxYields        = 4_000_000
)

var busyMetrics = []string{
	"/sched/goroutines/running:goroutines",
	"/sched/goroutines/runnable:goroutines",
	"/sched/goroutines/not-in-go:goroutines",
}

// busyGoroutines returns how many goroutines are running, ready to run or
// in a system call, the caller included.
func busyGoroutines(samples []metrics.Sample) uint64 {
	metrics.Read(samples)
	var n uint64
	for _, s := range samples {
		if s.Value.Kind() == metrics.KindUint64 {
			n += s.Value.Uint64()
		}
	}
	return n
}

// Quiesce yields until every goroutine of the process but the caller is
// blocked and no store event has been published for several readings in a
// row: the work started by the last clock advance or API call is done.
// Settle calls it before every step; tests call it after acting outside
// Settle to let the cluster react without moving time.
func (c *Cluster) Quiesce() {
	samples := make([]metrics.Sample, len(busyMetrics))
	for i, name := range busyMetrics {
		samples[i].Name = name
	}
	quiet := 0
	last := c.events.Load()
	for yields := 0; quiet < quietReadings; yields += yieldsPerReading {
		if yields >= maxYields {
			c.logger.Warn("the cluster did not become quiescent; moving on", "yields", yields)
			return
		}
		for range yieldsPerReading {
			goruntime.Gosched()
		}
		switch ev := c.events.Load(); {
		case ev != last:
			quiet, last = 0, ev
		case busyGoroutines(samples) <= 1:
			quiet++
		default:
			quiet = 0
		}
	}
}

// Settle moves the fake clock forward one step at a time, letting the
// cluster go quiescent before each step, until cond holds or maxFake of
// fake time has passed. It checks the safety invariants (CheckSafety) at
// every step unless WithoutStepChecks was given, and returns the first
// violation. The error when cond does not hold in time describes every
// task. See the package documentation.
func (c *Cluster) Settle(cond func() bool, maxFake time.Duration) error {
	start := c.clock.Now()
	deadline := start.Add(maxFake)
	for {
		c.Quiesce()
		if c.opts.stepChecks {
			if err := c.CheckSafety(); err != nil {
				return fmt.Errorf("at sim time %s: %w\n%s", c.Elapsed(), err, c.Describe())
			}
		}
		if cond() {
			return nil
		}
		if !c.clock.Now().Before(deadline) {
			return fmt.Errorf("condition not met after %s of fake time (sim time %s)\n%s", maxFake, c.Elapsed(), c.Describe())
		}
		c.clock.Advance(c.opts.step)
	}
}

// MustSettle is Settle that fails the test on error.
func (c *Cluster) MustSettle(cond func() bool, maxFake time.Duration) {
	c.t.Helper()
	if err := c.Settle(cond, maxFake); err != nil {
		c.t.Fatal(err)
	}
}

// Advance moves the fake clock by d in steps, letting the cluster go
// quiescent before each, whatever happens. It checks the safety
// invariants as Settle does.
func (c *Cluster) Advance(d time.Duration) error {
	end := c.clock.Now().Add(d)
	return c.Settle(func() bool { return !c.clock.Now().Before(end) }, d+c.opts.step)
}
