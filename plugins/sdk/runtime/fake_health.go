package runtime

import (
	"slices"
	"time"

	"github.com/hiveorch/hive/plugins/sdk"
)

// Docker's defaults for a health check's zero fields.
const (
	defaultHealthInterval = 30 * time.Second
	defaultHealthRetries  = 3
)

// forcedHealth is a health result SetHealth imposed on a container's run.
type forcedHealth struct {
	status, log string
}

// SetImageHealthcheck gives an image of the Fake's registry a health check
// of its own, as a Dockerfile's HEALTHCHECK does; nil removes it. It
// applies to containers created afterwards.
func (f *Fake) SetImageHealthcheck(ref string, hc *Healthcheck) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if hc == nil {
		delete(f.imageHC, ref)
		return
	}
	f.imageHC[ref] = cloneCheck(hc)
}

// SetHealth makes a running container with a health check report health
// (HealthStarting, HealthHealthy or HealthUnhealthy) and log from now
// until it stops, whatever its check would say.
func (f *Fake) SetHealth(id, health, log string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookupLocked("set health", id)
	if err != nil {
		return err
	}
	switch health {
	case HealthStarting, HealthHealthy, HealthUnhealthy:
	default:
		return errorf(sdk.ErrInvalidArgument, "set health %s: unknown health %q (want starting, healthy or unhealthy)", id, health)
	}
	if !c.running() {
		return errorf(sdk.ErrFailedPrecondition, "set health %s: container is not running", id)
	}
	if c.check == nil {
		return errorf(sdk.ErrFailedPrecondition, "set health %s: container has no health check", id)
	}
	c.health = forcedHealth{status: health, log: log}
	return nil
}

// effectiveCheck merges a spec's health check with its image's, as Docker
// does: no check in the spec keeps the image's; an empty Test takes the
// image's test, and zero durations and retries take the image's values;
// ["NONE"] disables the check. It returns nil when the container has none.
func effectiveCheck(spec, image *Healthcheck) *Healthcheck {
	if spec == nil {
		return cloneCheck(image)
	}
	out := cloneCheck(spec)
	if image != nil {
		if len(out.Test) == 0 {
			out.Test = slices.Clone(image.Test)
		}
		if out.Interval == 0 {
			out.Interval = image.Interval
		}
		if out.Timeout == 0 {
			out.Timeout = image.Timeout
		}
		if out.StartPeriod == 0 {
			out.StartPeriod = image.StartPeriod
		}
		if out.Retries == 0 {
			out.Retries = image.Retries
		}
	}
	if len(out.Test) == 0 || out.Test[0] == "NONE" {
		return nil
	}
	return out
}

func cloneCheck(h *Healthcheck) *Healthcheck {
	if h == nil {
		return nil
	}
	out := *h
	out.Test = slices.Clone(h.Test)
	return &out
}

// passes reports whether the container's health check succeeds: it
// serves, and UNHEALTHY is not set (the test image's /healthz).
func (c *fakeContainer) passes() bool {
	serves := c.prog.cmd == "serve" || !c.prog.known
	return serves && c.env("UNHEALTHY") == ""
}

// healthAt is the container's health at time now (see Fake).
func (c *fakeContainer) healthAt(now time.Time) (health, log string) {
	if !c.running() || c.check == nil {
		return HealthNone, ""
	}
	if c.health.status != "" {
		return c.health.status, c.health.log
	}
	interval := c.check.Interval
	if interval <= 0 {
		interval = defaultHealthInterval
	}
	retries := c.check.Retries
	if retries <= 0 {
		retries = defaultHealthRetries
	}
	checks := int(now.Sub(c.state.StartedAt) / interval)
	switch {
	case checks < 1:
		return HealthStarting, ""
	case c.passes():
		return HealthHealthy, ""
	}
	// Failures of the checks run within the start period do not count.
	first := max(int((c.check.StartPeriod+interval-1)/interval), 1)
	if checks-first+1 >= retries {
		return HealthUnhealthy, "health check exited with 1"
	}
	return HealthStarting, ""
}
