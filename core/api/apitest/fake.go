// Package apitest is the api.Backend that tests of the API server, its Go
// client and the CLI run against: the managers' real control logic
// (core/controlapi) over a memory store, with a thin layer for what a test
// needs besides: an error to return instead of calling a method (Err), a
// record of the calls made (Calls), helpers that seed the store, and what
// only a daemon knows (Info, Plugins, Shutdown, the Raft group, the logs of
// a runtime). With AutoRun it also runs the leader's controllers and an
// agent on every node that is not down (see cluster.go), so the services
// it stores converge as a real cluster's do.
package apitest

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/controlapi"
	"github.com/hiveorch/hive/core/events"
	"github.com/hiveorch/hive/core/seal"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// Backend is controlapi.Server over a memory store, with a thin test layer.
// Set its exported fields before the first call (AutoRun and Err may change
// later); the methods are safe for concurrent use. Close it when AutoRun
// was set.
type Backend struct {
	// InfoValue is what Info returns. Its NodeID is the node "self" names.
	InfoValue api.Info
	// PluginList is what Plugins returns.
	PluginList []api.PluginStatus
	// Logs are the lines ServiceLogs sends for a service, by service ID:
	// a runtime's output, which the backend has not.
	Logs map[string][]api.LogLine
	// LogsErr, when set, is returned by ServiceLogs after its lines.
	LogsErr error
	// AutoRun, when true, runs the leader's controllers and an agent over
	// a fake runtime on every node that is not down, from the next call
	// on; set back to false, they stop at the next call and the store
	// keeps what they left (see cluster.go).
	AutoRun bool
	// Images, when not nil, are the only images the nodes' runtimes can
	// pull; nil means any image.
	Images []string
	// Err, when set for a method name ("CreateService"), is returned by
	// that method instead of doing anything.
	Err map[string]error
	// CA, when set, signs client certificates and derives the join
	// tokens; ClusterAddr is the address they report.
	CA          *ca.Root
	ClusterAddr string
	// Logger receives the logs of the control logic and the controllers;
	// nil discards them.
	Logger *slog.Logger

	clock *fastClock
	store *store.Store
	dek   *seal.Key
	// ring holds the events of the store's changes (events.Feed); Events
	// streams it.
	ring *events.Ring

	once sync.Once
	srv  *controlapi.Server

	mu       sync.Mutex
	calls    []string
	shutdown int
	certReqs []api.ClientCertRequest
	cluster  *cluster
}

var _ api.Backend = (*Backend)(nil)

// New returns a Backend whose store holds the cluster record and nothing
// else.
func New() *Backend {
	clk := newFastClock()
	b := &Backend{Logs: map[string][]api.LogLine{}, Err: map[string]error{}, clock: clk, store: store.NewMemory(clk)}
	dek, err := seal.NewKey()
	if err != nil {
		panic(fmt.Sprintf("apitest: make a data key: %v", err))
	}
	b.dek = dek
	b.startEvents()
	b.write(func(tx store.Tx) error { return tx.CreateCluster(&types.Cluster{ID: types.ClusterID}) })
	return b
}

// server returns the control logic, made on first use so that InfoValue
// and Logger can be set after New.
func (b *Backend) server() *controlapi.Server {
	b.once.Do(func() {
		if b.Logger == nil {
			b.Logger = slog.New(slog.DiscardHandler)
		}
		b.srv = controlapi.New(b.store, b.clock, b.InfoValue.NodeID, nil, nil, b.Logger.With("component", "api"))
		b.srv.SetDataKey(b.dek)
		b.srv.SetStatsSource(b)
	})
	return b.srv
}

// Close stops what AutoRun runs and closes the store.
func (b *Backend) Close() {
	b.mu.Lock()
	b.converge(false)
	b.mu.Unlock()
	_ = b.store.Close()
}

// enter records a call, starts or stops the cluster as AutoRun says, and
// returns the error configured for the call.
func (b *Backend) enter(name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, name)
	b.converge(b.AutoRun)
	return b.Err[name]
}

// call records the call of method name and runs fn on the control logic,
// unless Err holds an error for name.
func call[T any](b *Backend, name string, fn func(*controlapi.Server) (T, error)) (T, error) {
	if err := b.enter(name); err != nil {
		var zero T
		return zero, err
	}
	return fn(b.server())
}

// do is call for methods that return only an error.
func (b *Backend) do(name string, fn func(*controlapi.Server) error) error {
	_, err := call(b, name, func(s *controlapi.Server) (struct{}, error) { return struct{}{}, fn(s) })
	return err
}

// Calls returns the names of the methods called so far, in order.
func (b *Backend) Calls() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.calls)
}

// Called reports whether the method name was called.
func (b *Backend) Called(name string) bool { return slices.Contains(b.Calls(), name) }

// ShutdownCalls returns how many times Shutdown was called.
func (b *Backend) ShutdownCalls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.shutdown
}

// write changes the store; a test helper that fails to is a broken test.
func (b *Backend) write(fn func(tx store.Tx) error) {
	if err := b.store.Update(context.Background(), fn); err != nil {
		panic(fmt.Sprintf("apitest: write the store: %v", err))
	}
}

// AddNode stores a node, or replaces the stored one with that ID.
func (b *Backend) AddNode(n *types.Node) {
	b.write(func(tx store.Tx) error {
		n := n.Copy()
		if cur := tx.Node(n.ID); cur != nil {
			n.Version = cur.Version
			return tx.UpdateNode(n)
		}
		return tx.CreateNode(n)
	})
}

// AddService stores a service, or replaces the stored one with that ID
// as another client's write would (the store sets its version).
func (b *Backend) AddService(s *types.Service) {
	b.write(func(tx store.Tx) error {
		s := s.Copy()
		if cur := tx.Service(s.ID); cur != nil {
			s.Version = cur.Version
			return tx.UpdateService(s)
		}
		return tx.CreateService(s)
	})
}

// AddTask stores a task, or replaces the stored one with that ID as an
// agent's report would.
func (b *Backend) AddTask(t *types.Task) {
	b.write(func(tx store.Tx) error {
		t := t.Copy()
		if cur := tx.Task(t.ID); cur != nil {
			t.Version = cur.Version
			return tx.UpdateTask(t)
		}
		return tx.CreateTask(t)
	})
}

// SetUpdateStatus sets a service's update status, as the update controller
// would (a test pauses an update with it).
func (b *Backend) SetUpdateStatus(ref string, st *types.UpdateStatus) error {
	s := b.Service(ref)
	if s == nil {
		return fmt.Errorf("set update status: service %s not found", ref)
	}
	if st != nil {
		c := *st
		st = &c
	}
	s.UpdateStatus = st
	b.AddService(s)
	return nil
}

// Service returns the stored service with that ID or name, or nil.
func (b *Backend) Service(ref string) *types.Service {
	s, err := b.server().GetService(context.Background(), ref)
	if err != nil {
		return nil
	}
	return s
}

// Services returns every stored service, by name.
func (b *Backend) Services() []*types.Service {
	var out []*types.Service
	b.store.View(func(tx store.ReadTx) {
		for _, s := range tx.Services() {
			out = append(out, s.Copy())
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.Name < out[j].Spec.Name })
	return out
}

// TasksOf returns a service's tasks, in no particular order.
func (b *Backend) TasksOf(ref string) []*types.Task {
	ts, _ := b.server().ListTasks(context.Background(), api.TaskFilter{Service: ref})
	return ts
}

// Info returns InfoValue.
func (b *Backend) Info(ctx context.Context) (*api.Info, error) {
	return call(b, "Info", func(*controlapi.Server) (*api.Info, error) { info := b.InfoValue; return &info, nil })
}

// Plugins returns PluginList.
func (b *Backend) Plugins(ctx context.Context) ([]api.PluginStatus, error) {
	return call(b, "Plugins", func(*controlapi.Server) ([]api.PluginStatus, error) { return slices.Clone(b.PluginList), nil })
}

// Shutdown counts the call.
func (b *Backend) Shutdown(ctx context.Context) error {
	return b.do("Shutdown", func(*controlapi.Server) error {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.shutdown++
		return nil
	})
}

// ServiceLogs resolves ref as the daemon does, then sends Logs[service ID]
// (filtered by Since and Tail, as a runtime does) and returns LogsErr.
// With Follow it then waits for ctx to be done.
func (b *Backend) ServiceLogs(ctx context.Context, ref string, opts api.LogOptions, sink func(api.LogLine) error) error {
	return b.do("ServiceLogs", func(srv *controlapi.Server) error {
		s, err := srv.GetService(ctx, ref)
		if err != nil {
			return err
		}
		b.mu.Lock()
		lines, logsErr := slices.Clone(b.Logs[s.ID]), b.LogsErr
		b.mu.Unlock()
		if !opts.Since.IsZero() {
			lines = slices.DeleteFunc(lines, func(l api.LogLine) bool { return l.Time.Before(opts.Since) })
		}
		if opts.Tail >= 0 && opts.Tail < len(lines) {
			lines = lines[len(lines)-opts.Tail:]
		}
		for _, l := range lines {
			if !opts.Timestamps {
				l.Time = time.Time{}
			}
			if err := sink(l); err != nil {
				return err
			}
		}
		if logsErr != nil {
			return logsErr
		}
		if opts.Follow {
			<-ctx.Done()
		}
		return nil
	})
}

// Stats is controlapi's, sampling the fake runtimes AutoRun runs (see
// TaskStats).
func (b *Backend) Stats(ctx context.Context, opts api.StatsOptions, sink func(api.StatsFrame) error) error {
	return b.do("Stats", func(srv *controlapi.Server) error { return srv.Stats(ctx, opts, sink) })
}

// ListNodes is controlapi's.
func (b *Backend) ListNodes(ctx context.Context) ([]*types.Node, error) {
	return call(b, "ListNodes", func(s *controlapi.Server) ([]*types.Node, error) { return s.ListNodes(ctx) })
}

// GetNode is controlapi's.
func (b *Backend) GetNode(ctx context.Context, ref string) (*types.Node, error) {
	return call(b, "GetNode", func(s *controlapi.Server) (*types.Node, error) { return s.GetNode(ctx, ref) })
}

// UpdateNode is controlapi's.
func (b *Backend) UpdateNode(ctx context.Context, ref string, version uint64, spec types.NodeSpec) (*types.Node, error) {
	return call(b, "UpdateNode", func(s *controlapi.Server) (*types.Node, error) { return s.UpdateNode(ctx, ref, version, spec) })
}

// RemoveNode is controlapi's.
func (b *Backend) RemoveNode(ctx context.Context, ref string, force bool) error {
	return b.do("RemoveNode", func(s *controlapi.Server) error { return s.RemoveNode(ctx, ref, force) })
}

// ListServices is controlapi's.
func (b *Backend) ListServices(ctx context.Context) ([]api.ServiceSummary, error) {
	return call(b, "ListServices", func(s *controlapi.Server) ([]api.ServiceSummary, error) { return s.ListServices(ctx) })
}

// GetService is controlapi's.
func (b *Backend) GetService(ctx context.Context, ref string) (*types.Service, error) {
	return call(b, "GetService", func(s *controlapi.Server) (*types.Service, error) { return s.GetService(ctx, ref) })
}

// CreateService is controlapi's.
func (b *Backend) CreateService(ctx context.Context, spec types.ServiceSpec) (*types.Service, error) {
	return call(b, "CreateService", func(s *controlapi.Server) (*types.Service, error) { return s.CreateService(ctx, spec) })
}

// UpdateService is controlapi's.
func (b *Backend) UpdateService(ctx context.Context, ref string, version uint64, spec types.ServiceSpec) (*types.Service, error) {
	return call(b, "UpdateService", func(s *controlapi.Server) (*types.Service, error) { return s.UpdateService(ctx, ref, version, spec) })
}

// RollbackService is controlapi's.
func (b *Backend) RollbackService(ctx context.Context, ref string) (*types.Service, error) {
	return call(b, "RollbackService", func(s *controlapi.Server) (*types.Service, error) { return s.RollbackService(ctx, ref) })
}

// RemoveService is controlapi's.
func (b *Backend) RemoveService(ctx context.Context, ref string) error {
	return b.do("RemoveService", func(s *controlapi.Server) error { return s.RemoveService(ctx, ref) })
}

// ListTasks is controlapi's.
func (b *Backend) ListTasks(ctx context.Context, f api.TaskFilter) ([]*types.Task, error) {
	return call(b, "ListTasks", func(s *controlapi.Server) ([]*types.Task, error) { return s.ListTasks(ctx, f) })
}
