package sim

import (
	"fmt"
	goruntime "runtime"
	"runtime/metrics"
	"time"
)

// Quiescence tuning: how many consecutive idle readings make the process
// quiescent, how many yields a wait may take before it gives up (a runaway
// goroutine then slows the simulation instead of hanging it), and the most
// yields between two readings while goroutines are ready to run.
const (
	quietReadings       = 3
	maxYields           = 4_000_000
	maxYieldsPerReading = 256
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
//
// It relies on the cluster running on one processor (Start sets
// GOMAXPROCS to 1): then the caller, running, is the only goroutine that
// can be, and a reading of no runnable goroutine means that every other
// one is blocked. With more processors an idle processor spinning for
// work would count as running and hide quiescence.
func (c *Cluster) Quiesce() {
	samples := make([]metrics.Sample, len(busyMetrics))
	for i, name := range busyMetrics {
		samples[i].Name = name
	}
	quiet := 0
	last := c.events.Load()
	// Reading the counts costs about a microsecond: while many goroutines
	// are ready to run, yield once per ready goroutine before reading
	// again.
	yieldNext := uint64(1)
	for yields := uint64(0); quiet < quietReadings; {
		if yields >= maxYields {
			c.logger.Warn("the cluster did not become quiescent; moving on", "yields", yields)
			return
		}
		for range yieldNext {
			goruntime.Gosched()
		}
		yields += yieldNext
		yieldNext = 1
		if ev := c.events.Load(); ev != last {
			quiet, last = 0, ev
			continue
		}
		if busy := busyGoroutines(samples); busy > 1 {
			quiet, yieldNext = 0, min(busy-1, maxYieldsPerReading)
			continue
		}
		quiet++
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
