// Package controlapi is the managers' control logic behind the HTTP API:
// it resolves references (IDs, ID prefixes, names), validates and
// normalizes service specs, allocates published ports (and, through
// core/allocator, network subnets and virtual IPs), seals secret values
// (SetDataKey) before they enter a store transaction, and turns API calls
// into store transactions. It implements the service, node, task and log
// parts of api.Backend, and on managers (SetCA) the join tokens and client
// certificates; the daemon adds Info, Plugins and Shutdown.
package controlapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/identity"
	"github.com/hiveorch/hive/core/ipam"
	"github.com/hiveorch/hive/core/seal"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// LogSource reads a task's container output, wherever the task runs.
type LogSource interface {
	TaskLogs(ctx context.Context, t *types.Task, opts runtime.LogOptions, sink func(runtime.LogEntry) error) error
}

// Server implements the store-backed part of api.Backend.
type Server struct {
	store *store.Store
	// current is closed once the local state is known to be current.
	current <-chan struct{}

	clock  clock.Clock
	nodeID string
	logs   LogSource
	logger *slog.Logger
	// IDs mints the IDs of new services, secrets and configs (and the
	// suffix of a generated service name): identity.Random unless set
	// before the Server is used (the simulator gives a seeded one).
	IDs identity.Generator
	// ca is set by SetCA on managers (see cluster.go).
	ca atomic.Pointer[clusterCA]
	// dek seals secret values; set by SetDataKey (see secrets.go).
	dek atomic.Pointer[seal.Key]
	// checkDriver vets a new secret's driver and options; set by
	// SetSecretDriverCheck (see secrets.go).
	checkDriver atomic.Pointer[DriverCheck]
	// pool is where networks get their subnets; set by SetNetworkPool
	// (see networks.go).
	pool atomic.Pointer[ipam.Pool]
	// stats samples the nodes' tasks; set by SetStatsSource (see
	// stats.go).
	stats atomic.Pointer[statsSource]
}

// New returns a Server. nodeID is the node serving requests ("self").
// current is closed once the store is known to hold every committed change
// (after a restart, Raft applies its log only once a leader is known);
// reads wait for it, at most electionWait, then answer from the local state
// whatever it holds. A nil channel means the store is current already.
func New(s *store.Store, clk clock.Clock, nodeID string, current <-chan struct{}, logs LogSource, logger *slog.Logger) *Server {
	if current == nil {
		c := make(chan struct{})
		close(c)
		current = c
	}
	return &Server{store: s, current: current, clock: clk, nodeID: nodeID, logs: logs, logger: logger, IDs: identity.Random}
}

// view reads the state, first waiting (briefly) for it to be current.
func (s *Server) view(ctx context.Context, fn func(store.ReadTx)) {
	select {
	case <-s.current:
	default:
		wctx, cancel := clock.WithTimeout(ctx, s.clock, electionWait)
		select {
		case <-s.current:
		case <-wctx.Done():
		}
		cancel()
	}
	s.store.View(fn)
}

// electionWait bounds how long a write waits for a leader, so a request
// made just after `hive up` rides out the first election but a cluster
// without a leader answers within seconds.
const electionWait = 5 * time.Second

// update writes through the store, first waiting (briefly) for this
// manager to lead when it does not yet.
//
// Only a node whose state has never been current (it is starting) waits:
// once a leader was known, a write without one fails at once with the
// store's no-quorum error instead of hanging.
func (s *Server) update(ctx context.Context, fn func(store.Tx) error) error {
	if !s.store.IsLeader() && !s.isCurrent() {
		wctx, cancel := clock.WithTimeout(ctx, s.clock, electionWait)
		s.store.AwaitLeadership(wctx)
		cancel()
	}
	return s.store.Update(ctx, fn)
}

// isCurrent reports whether the local state has been current once.
func (s *Server) isCurrent() bool {
	select {
	case <-s.current:
		return true
	default:
		return false
	}
}

// storeErr translates store errors into API error kinds.
func storeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotLeader), errors.Is(err, store.ErrNoQuorum):
		return fmt.Errorf("%w: %w", errdefs.ErrUnavailable, err)
	case errors.Is(err, store.ErrSequenceConflict), errors.Is(err, store.ErrNameConflict), errors.Is(err, store.ErrExist):
		return fmt.Errorf("%w: %w", errdefs.ErrConflict, err)
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: %w", errdefs.ErrNotFound, err)
	}
	return err
}

// ListNodes returns every node, sorted by hostname.
func (s *Server) ListNodes(ctx context.Context) ([]*types.Node, error) {
	var out []*types.Node
	s.view(ctx, func(tx store.ReadTx) {
		for _, n := range tx.Nodes() {
			out = append(out, n.Copy())
		}
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Description.Hostname != out[j].Description.Hostname {
			return out[i].Description.Hostname < out[j].Description.Hostname
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// GetNode resolves a node reference.
func (s *Server) GetNode(ctx context.Context, ref string) (*types.Node, error) {
	var n *types.Node
	var err error
	s.view(ctx, func(tx store.ReadTx) { n, err = s.resolveNode(tx, ref) })
	if err != nil {
		return nil, err
	}
	return n.Copy(), nil
}

func (s *Server) resolveNode(tx store.ReadTx, ref string) (*types.Node, error) {
	if ref == "self" {
		ref = s.nodeID
	}
	if n := tx.Node(ref); n != nil {
		return n, nil
	}
	return resolve("node", ref, tx.Nodes(), func(n *types.Node) (string, string) { return n.ID, n.Description.Hostname })
}

// resolve finds the one object whose name is ref, or whose ID starts with
// ref.
func resolve[T any](kind, ref string, all []T, key func(T) (id, name string)) (T, error) {
	var zero T
	if ref == "" {
		return zero, fmt.Errorf("%w: a %s name or ID is required", errdefs.ErrInvalidArgument, kind)
	}
	var byName, byPrefix []T
	var ids []string
	for _, o := range all {
		id, name := key(o)
		if name == ref {
			byName = append(byName, o)
		}
		if strings.HasPrefix(id, ref) {
			byPrefix = append(byPrefix, o)
			ids = append(ids, id)
		}
	}
	switch {
	case len(byName) == 1:
		return byName[0], nil
	case len(byName) > 1:
		return zero, fmt.Errorf("%w: %s name %q is ambiguous: use an ID", errdefs.ErrInvalidArgument, kind, ref)
	case len(byPrefix) == 1:
		return byPrefix[0], nil
	case len(byPrefix) > 1:
		sort.Strings(ids)
		return zero, fmt.Errorf("%w: %s ID prefix %q is ambiguous (matches %s): give more characters", errdefs.ErrInvalidArgument, kind, ref, strings.Join(ids, ", "))
	}
	return zero, fmt.Errorf("%w: %s %q not found", errdefs.ErrNotFound, kind, ref)
}

func (s *Server) resolveService(tx store.ReadTx, ref string) (*types.Service, error) {
	if svc := tx.Service(ref); svc != nil {
		return svc, nil
	}
	if svc := tx.ServiceByName(ref); svc != nil {
		return svc, nil
	}
	return resolve("service", ref, tx.Services(), func(s *types.Service) (string, string) { return s.ID, s.Spec.Name })
}

// ListServices returns every service with its task counts, sorted by name.
func (s *Server) ListServices(ctx context.Context) ([]api.ServiceSummary, error) {
	var out []api.ServiceSummary
	s.view(ctx, func(tx store.ReadTx) {
		for _, svc := range tx.Services() {
			out = append(out, summarize(svc, tx.TasksByService(svc.ID)))
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Service.Spec.Name < out[j].Service.Spec.Name })
	return out, nil
}

func summarize(svc *types.Service, tasks []*types.Task) api.ServiceSummary {
	sum := api.ServiceSummary{Service: svc.Copy()}
	for _, t := range tasks {
		if t.DesiredState == types.TaskStateRunning && t.Status.State == types.TaskStateRunning {
			sum.RunningTasks++
		}
		if svc.Spec.Mode == types.ModeGlobal && t.DesiredState <= types.TaskStateRunning {
			sum.DesiredTasks++
		}
	}
	if svc.Spec.Mode == types.ModeReplicated {
		sum.DesiredTasks = svc.Spec.Replicas
	}
	return sum
}

// GetService resolves a service reference.
func (s *Server) GetService(ctx context.Context, ref string) (*types.Service, error) {
	var svc *types.Service
	var err error
	s.view(ctx, func(tx store.ReadTx) { svc, err = s.resolveService(tx, ref) })
	if err != nil {
		return nil, err
	}
	return svc.Copy(), nil
}

// ListTasks returns the tasks matching f, by service name, slot (or node)
// and newest first within a slot.
func (s *Server) ListTasks(ctx context.Context, f api.TaskFilter) ([]*types.Task, error) {
	var want func(types.TaskState) bool
	switch f.DesiredState {
	case "":
		want = func(types.TaskState) bool { return true }
	case api.DesiredRunning:
		want = func(d types.TaskState) bool { return d <= types.TaskStateRunning }
	case api.DesiredShutdown:
		want = func(d types.TaskState) bool { return d >= types.TaskStateShutdown }
	case api.DesiredAccepted:
		want = func(d types.TaskState) bool { return d == types.TaskStateAccepted }
	default:
		return nil, fmt.Errorf("%w: invalid desired-state filter %q: use running, shutdown or accepted", errdefs.ErrInvalidArgument, f.DesiredState)
	}
	var out []*types.Task
	var err error
	s.view(ctx, func(tx store.ReadTx) {
		tasks := tx.Tasks()
		if f.Service != "" {
			var svc *types.Service
			if svc, err = s.resolveService(tx, f.Service); err != nil {
				return
			}
			tasks = tx.TasksByService(svc.ID)
		}
		nodeID := ""
		if f.Node != "" {
			var n *types.Node
			if n, err = s.resolveNode(tx, f.Node); err != nil {
				return
			}
			nodeID = n.ID
		}
		for _, t := range tasks {
			if (nodeID == "" || t.NodeID == nodeID) && want(t.DesiredState) {
				out = append(out, t.Copy())
			}
		}
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, compareTasks)
	return out, nil
}

func compareTasks(a, b *types.Task) int {
	if c := strings.Compare(a.ServiceName, b.ServiceName); c != 0 {
		return c
	}
	if a.Slot != b.Slot {
		return int(a.Slot) - int(b.Slot)
	}
	if c := strings.Compare(a.NodeID, b.NodeID); c != 0 {
		return c
	}
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// Write runs fn in a store transaction the way the API's own writes do:
// riding out a first election, forwarded to the leader from a follower,
// with errors translated to API kinds. The daemon uses it for writes that
// are not API calls (admitting a joining node).
func (s *Server) Write(ctx context.Context, fn func(store.Tx) error) error {
	return storeErr(s.update(ctx, fn))
}
