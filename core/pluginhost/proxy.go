package pluginhost

import (
	"context"
	"errors"
	"fmt"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/network"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
	"github.com/hiveorch/hive/plugins/sdk/scheduler"
	"github.com/hiveorch/hive/plugins/sdk/secrets"
)

// call runs fn against the plugin's live process. With no live process it
// fails at once with an error wrapping sdk.ErrUnavailable. A call whose
// process was given up while it ran (killed by the supervisor, which
// closes the connection) also ends wrapping sdk.ErrUnavailable, whatever
// the transport said.
func call[T any](ctx context.Context, e *entry, fn func(sdk.Base) (T, error)) (T, error) {
	inst, err := e.current()
	if err != nil {
		var zero T
		return zero, err
	}
	v, err := fn(inst.impl)
	if err != nil && ctx.Err() == nil && inst.isGone() && !errors.Is(err, sdk.ErrUnavailable) {
		return v, fmt.Errorf("plugin %s went down during the call: %v: %w", e.name, err, sdk.ErrUnavailable)
	}
	return v, err
}

// call0 is call for methods that return only an error.
func call0(ctx context.Context, e *entry, fn func(sdk.Base) error) error {
	_, err := call(ctx, e, func(b sdk.Base) (struct{}, error) { return struct{}{}, fn(b) })
	return err
}

// base holds what both proxies share: the Base methods, status and
// readiness.
type base struct{ e *entry }

// Describe asks the live process for its identity.
func (p base) Describe(ctx context.Context) (sdk.Info, error) {
	return call(ctx, p.e, func(b sdk.Base) (sdk.Info, error) { return b.Describe(ctx) })
}

// Configure hands settings to the live process and keeps them for every
// later start of the plugin.
func (p base) Configure(ctx context.Context, settings map[string]string) error {
	p.e.setSettings(settings)
	return call0(ctx, p.e, func(b sdk.Base) error { return b.Configure(ctx, settings) })
}

// Health asks the live process for its health.
func (p base) Health(ctx context.Context) error {
	return call0(ctx, p.e, func(b sdk.Base) error { return b.Health(ctx) })
}

// WaitReady blocks until the plugin serves calls (running or unhealthy).
// It returns an error when the plugin failed, the host was closed, or ctx
// ended first.
func (p base) WaitReady(ctx context.Context) error { return p.e.waitReady(ctx) }

// Status reports the plugin's current state.
func (p base) Status() Status { return p.e.status() }

// Runtime is a stable handle on a runtime plugin. It survives the plugin's
// restarts: each call goes to the process running at that moment. Safe for
// concurrent use.
type Runtime struct{ base }

var _ runtime.Runtime = (*Runtime)(nil)

func rt(b sdk.Base) runtime.Runtime { return b.(runtime.Runtime) }

// EnsureImage calls the plugin's EnsureImage, passing auth (nil for an
// anonymous pull) on to it.
func (r *Runtime) EnsureImage(ctx context.Context, ref string, auth *runtime.RegistryAuth, progress func(runtime.PullProgress)) error {
	return call0(ctx, r.e, func(b sdk.Base) error { return rt(b).EnsureImage(ctx, ref, auth, progress) })
}

// Create calls the plugin's Create.
func (r *Runtime) Create(ctx context.Context, spec *runtime.ContainerSpec) (string, error) {
	return call(ctx, r.e, func(b sdk.Base) (string, error) { return rt(b).Create(ctx, spec) })
}

// Start calls the plugin's Start.
func (r *Runtime) Start(ctx context.Context, id string) error {
	return call0(ctx, r.e, func(b sdk.Base) error { return rt(b).Start(ctx, id) })
}

// Stop calls the plugin's Stop.
func (r *Runtime) Stop(ctx context.Context, id string, opts runtime.StopOptions) error {
	return call0(ctx, r.e, func(b sdk.Base) error { return rt(b).Stop(ctx, id, opts) })
}

// Kill calls the plugin's Kill.
func (r *Runtime) Kill(ctx context.Context, id string, signal string) error {
	return call0(ctx, r.e, func(b sdk.Base) error { return rt(b).Kill(ctx, id, signal) })
}

// Remove calls the plugin's Remove.
func (r *Runtime) Remove(ctx context.Context, id string, opts runtime.RemoveOptions) error {
	return call0(ctx, r.e, func(b sdk.Base) error { return rt(b).Remove(ctx, id, opts) })
}

// Inspect calls the plugin's Inspect.
func (r *Runtime) Inspect(ctx context.Context, id string) (*runtime.Container, error) {
	return call(ctx, r.e, func(b sdk.Base) (*runtime.Container, error) { return rt(b).Inspect(ctx, id) })
}

// List calls the plugin's List.
func (r *Runtime) List(ctx context.Context, filter runtime.ListFilter) ([]*runtime.Container, error) {
	return call(ctx, r.e, func(b sdk.Base) ([]*runtime.Container, error) { return rt(b).List(ctx, filter) })
}

// Wait calls the plugin's Wait. If the plugin goes down meanwhile, Wait
// ends with an error wrapping sdk.ErrUnavailable; the container may well
// still run, so the caller waits again once the plugin is back.
func (r *Runtime) Wait(ctx context.Context, id string) (*runtime.ExitStatus, error) {
	return call(ctx, r.e, func(b sdk.Base) (*runtime.ExitStatus, error) { return rt(b).Wait(ctx, id) })
}

// Logs calls the plugin's Logs.
func (r *Runtime) Logs(ctx context.Context, id string, opts runtime.LogOptions, sink func(runtime.LogEntry) error) error {
	return call0(ctx, r.e, func(b sdk.Base) error { return rt(b).Logs(ctx, id, opts, sink) })
}

// Stats calls the plugin's Stats.
func (r *Runtime) Stats(ctx context.Context, id string) (*runtime.Stats, error) {
	return call(ctx, r.e, func(b sdk.Base) (*runtime.Stats, error) { return rt(b).Stats(ctx, id) })
}

// Scheduler is a stable handle on a scheduler plugin. It survives the
// plugin's restarts: each call goes to the process running at that moment.
// Safe for concurrent use.
type Scheduler struct{ base }

var _ scheduler.Scheduler = (*Scheduler)(nil)

// Schedule calls the plugin's Schedule.
func (s *Scheduler) Schedule(ctx context.Context, req *scheduler.Request) (*scheduler.Response, error) {
	return call(ctx, s.e, func(b sdk.Base) (*scheduler.Response, error) {
		return b.(scheduler.Scheduler).Schedule(ctx, req)
	})
}

// Secrets is a stable handle on a secrets plugin. It survives the plugin's
// restarts: each call goes to the process running at that moment. Safe for
// concurrent use.
type Secrets struct{ base }

var _ secrets.Driver = (*Secrets)(nil)

// Get calls the plugin's Get.
func (s *Secrets) Get(ctx context.Context, ref secrets.Ref) (secrets.Value, error) {
	return call(ctx, s.e, func(b sdk.Base) (secrets.Value, error) {
		return b.(secrets.Driver).Get(ctx, ref)
	})
}

// Network is a stable handle on a network plugin. It survives the
// plugin's restarts: each call goes to the process running at that moment.
// Safe for concurrent use.
type Network struct{ base }

var _ network.Driver = (*Network)(nil)

func nd(b sdk.Base) network.Driver { return b.(network.Driver) }

// EnsureNetwork calls the plugin's EnsureNetwork.
func (n *Network) EnsureNetwork(ctx context.Context, nw network.Network) error {
	return call0(ctx, n.e, func(b sdk.Base) error { return nd(b).EnsureNetwork(ctx, nw) })
}

// RemoveNetwork calls the plugin's RemoveNetwork.
func (n *Network) RemoveNetwork(ctx context.Context, networkID string) error {
	return call0(ctx, n.e, func(b sdk.Base) error { return nd(b).RemoveNetwork(ctx, networkID) })
}

// Attach calls the plugin's Attach.
func (n *Network) Attach(ctx context.Context, a network.Attachment) (network.AttachResult, error) {
	return call(ctx, n.e, func(b sdk.Base) (network.AttachResult, error) { return nd(b).Attach(ctx, a) })
}

// Detach calls the plugin's Detach.
func (n *Network) Detach(ctx context.Context, networkID, taskID string) error {
	return call0(ctx, n.e, func(b sdk.Base) error { return nd(b).Detach(ctx, networkID, taskID) })
}

// SetPeers calls the plugin's SetPeers.
func (n *Network) SetPeers(ctx context.Context, networkID string, peers []network.Peer) error {
	return call0(ctx, n.e, func(b sdk.Base) error { return nd(b).SetPeers(ctx, networkID, peers) })
}

// List calls the plugin's List.
func (n *Network) List(ctx context.Context) ([]network.NetworkState, error) {
	return call(ctx, n.e, func(b sdk.Base) ([]network.NetworkState, error) { return nd(b).List(ctx) })
}
