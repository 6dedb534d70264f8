package conformance

import (
	"testing"
	"time"

	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// healthCheck is the test image's own check (/web healthcheck asks its
// /healthz), run often so that the tests are quick.
func healthCheck() *runtime.Healthcheck {
	return &runtime.Healthcheck{
		Test:     []string{"CMD", "/web", "healthcheck"},
		Interval: 200 * time.Millisecond,
		Timeout:  5 * time.Second,
		Retries:  2,
	}
}

// testHealth checks what hive's agent relies on to hold a task in
// "starting" until it is healthy and to fail it when it turns unhealthy:
// a spec's check replaces the image's, Inspect and List report the health
// of a running container, a failing check ends in "unhealthy" with a log,
// and ["NONE"] or no check at all reports no health.
func (s *suite) testHealth(t *testing.T) {
	if s.opts.SkipHealth {
		t.Skip("Options.SkipHealth: the runtime does not run health checks")
	}
	t.Run("no check reports no health", func(t *testing.T) {
		id := s.run(t, s.spec("health-none", "serve"))
		if c := s.inspect(t, id); c.Health != runtime.HealthNone {
			t.Errorf("Inspect of a container without a health check: Health = %q, want none", c.Health)
		}
	})
	t.Run("NONE disables the check", func(t *testing.T) {
		spec := s.spec("health-disabled", "serve")
		spec.Healthcheck = &runtime.Healthcheck{Test: []string{"NONE"}}
		id := s.run(t, spec)
		if c := s.inspect(t, id); c.Health != runtime.HealthNone {
			t.Errorf("Inspect with Healthcheck [NONE]: Health = %q, want none", c.Health)
		}
	})
	t.Run("a passing check makes the container healthy", func(t *testing.T) {
		spec := s.spec("health-ok", "serve")
		spec.Healthcheck = healthCheck()
		id := s.run(t, spec)
		if c := s.inspect(t, id); c.Health != runtime.HealthStarting && c.Health != runtime.HealthHealthy {
			t.Errorf("Inspect right after Start: Health = %q, want starting (or already healthy)", c.Health)
		}
		s.waitHealth(t, id, runtime.HealthHealthy)
		list, err := s.rt.List(s.ctx(t), runtime.ListFilter{Labels: map[string]string{s.opts.LabelPrefix + "run": s.runID}})
		if err != nil {
			t.Fatalf("List = %v", err)
		}
		found := false
		for _, c := range list {
			if c.ID == id {
				found = true
				if c.Health != runtime.HealthHealthy {
					t.Errorf("List: Health = %q, want %q as Inspect says", c.Health, runtime.HealthHealthy)
				}
			}
		}
		if !found {
			t.Errorf("List did not return container %s", id)
		}
		s.stop(t, id, runtime.StopOptions{Timeout: 10 * time.Second})
		if c := s.inspect(t, id); c.Running() {
			t.Errorf("Inspect after Stop: still running")
		}
	})
	t.Run("a failing check makes the container unhealthy", func(t *testing.T) {
		spec := s.spec("health-bad", "serve")
		spec.Env = []string{"UNHEALTHY=1"}
		spec.Healthcheck = healthCheck()
		id := s.run(t, spec)
		c := s.waitHealth(t, id, runtime.HealthUnhealthy)
		if c.HealthLog == "" {
			t.Errorf("Inspect of an unhealthy container: HealthLog is empty; want what the last check said")
		}
		if !c.Running() {
			t.Errorf("an unhealthy container must keep running until it is stopped; State = %q", c.State)
		}
	})
}

// waitHealth polls Inspect until the container reports health.
func (s *suite) waitHealth(t *testing.T, id, health string) *runtime.Container {
	t.Helper()
	var c *runtime.Container
	s.poll(t, "health "+health, func() (bool, string) {
		c = s.inspect(t, id)
		return c.Health == health, "health " + c.Health + ", state " + c.State
	})
	return c
}
