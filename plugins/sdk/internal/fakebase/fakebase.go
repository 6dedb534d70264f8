// Package fakebase holds what every plugin kind's Fake shares: the Base
// calls (Describe answers a fixed Info, Configure records the settings,
// Health is ok) and the test controls around them (the record of the
// calls made, the errors FailNext queued, the down switch of SetDown).
// A kind's Fake keeps a Controls, calls Begin at the start of each of its
// own methods, and forwards its Base calls and test controls to it.
package fakebase

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/hiveorch/hive/plugins/sdk"
)

// Controls records a Fake's calls and decides which of them fail. It is
// safe for concurrent use; make it with New.
type Controls struct {
	info sdk.Info

	mu       sync.Mutex
	calls    []string
	failNext map[string][]error
	down     bool
	settings map[string]string
}

var _ sdk.Base = (*Controls)(nil)

// New returns Controls whose Describe answers info.
func New(info sdk.Info) *Controls {
	return &Controls{info: info, failNext: map[string][]error{}}
}

// Begin records a call of method and returns the error it must fail
// with: one wrapping sdk.ErrUnavailable while down, else the next error
// FailNext queued for method, else nil.
func (c *Controls) Begin(method string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, method)
	if c.down {
		return fmt.Errorf("%s: %s is down: %w", method, c.info.Name, sdk.ErrUnavailable)
	}
	if q := c.failNext[method]; len(q) > 0 {
		c.failNext[method] = q[1:]
		return q[0]
	}
	return nil
}

// FailNext makes the next call of method return err. Several calls queue
// errors for as many calls.
func (c *Controls) FailNext(method string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failNext[method] = append(c.failNext[method], err)
}

// SetDown makes every call fail with an error wrapping
// sdk.ErrUnavailable (down), or work again.
func (c *Controls) SetDown(down bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down = down
}

// Calls returns the names of the methods called so far, in order.
func (c *Controls) Calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

// Settings returns a copy of the settings of the last Configure.
func (c *Controls) Settings() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.settings)
}

// Describe answers the Info given to New.
func (c *Controls) Describe(ctx context.Context) (sdk.Info, error) {
	if err := c.Begin("Describe"); err != nil {
		return sdk.Info{}, err
	}
	info := c.info
	info.Capabilities = slices.Clone(info.Capabilities)
	return info, nil
}

// Configure records a copy of settings; it accepts any.
func (c *Controls) Configure(ctx context.Context, settings map[string]string) error {
	if err := c.Begin("Configure"); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.settings = maps.Clone(settings)
	return nil
}

// Health is nil unless the Fake is down or FailNext says otherwise.
func (c *Controls) Health(ctx context.Context) error {
	return c.Begin("Health")
}
