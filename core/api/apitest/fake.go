// Package apitest has a hand-written, in-memory api.Backend for tests of
// the API server, its Go client and the CLI. It keeps nodes, services and
// tasks in maps, resolves references the way the daemon does (ID, unique ID
// prefix, name or hostname), checks versions on update, and records every
// call so a test can assert what reached the backend.
package apitest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

// Backend is an in-memory api.Backend. Set its exported fields before use;
// the methods are safe for concurrent use.
type Backend struct {
	// Now gives the time stamped on created objects; nil means a fixed
	// time (2024-05-01T10:00:00Z).
	Now func() time.Time
	// InfoValue is what Info returns.
	InfoValue api.Info
	// PluginList is what Plugins returns.
	PluginList []api.PluginStatus
	// Logs are the lines ServiceLogs sends for a service, by service ID.
	Logs map[string][]api.LogLine
	// LogsErr, when set, is returned by ServiceLogs after its lines.
	LogsErr error
	// AutoRun, when true, makes every create and update of a replicated
	// service put a running task in each slot that lacks one and shut
	// down the tasks of slots past the replica count, as a cluster that
	// converges at once.
	AutoRun bool
	// OnChange, when set, is called after every create and update of a
	// service with a copy of it; the tasks it returns are stored. Tests use
	// it to make a service fail to converge.
	OnChange func(s *types.Service) []*types.Task
	// Err, when set for a method name ("CreateService"), is returned by
	// that method instead of doing anything.
	Err map[string]error
	// CA, when set, signs client certificates and derives the join
	// tokens; ClusterAddr is the address they report (see cluster.go).
	CA          *ca.Root
	ClusterAddr string

	mu       sync.Mutex
	nodes    map[string]*types.Node
	services map[string]*types.Service
	tasks    map[string]*types.Task
	calls    []string
	seq      int
	version  uint64
	shutdown int
	cluster  clusterState
	sec      secretState
}

// New returns an empty Backend.
func New() *Backend {
	return &Backend{
		nodes:    map[string]*types.Node{},
		services: map[string]*types.Service{},
		tasks:    map[string]*types.Task{},
		Logs:     map[string][]api.LogLine{},
		Err:      map[string]error{},
	}
}

var _ api.Backend = (*Backend)(nil)

func (b *Backend) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
}

// enter records a call and returns the error configured for it.
func (b *Backend) enter(name string) error {
	b.calls = append(b.calls, name)
	return b.Err[name]
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

// nextID returns a new 25-character ID starting with prefix.
func (b *Backend) nextID(prefix string) string {
	b.seq++
	id := fmt.Sprintf("%s%d", prefix, b.seq)
	return id + strings.Repeat("0", 25-len(id))
}

// AddNode stores a node.
func (b *Backend) AddNode(n *types.Node) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.nodes[n.ID] = n.Copy()
}

// AddService stores a service as is (its ID and version set by the caller).
func (b *Backend) AddService(s *types.Service) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.services[s.ID] = s.Copy()
}

// AddTask stores a task.
func (b *Backend) AddTask(t *types.Task) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tasks[t.ID] = t.Copy()
}

// SetTasks replaces the tasks of a service with ts.
func (b *Backend) SetTasks(serviceID string, ts []*types.Task) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for id, t := range b.tasks {
		if t.ServiceID == serviceID {
			delete(b.tasks, id)
		}
	}
	for _, t := range ts {
		b.tasks[t.ID] = t.Copy()
	}
}

// Service returns a copy of the stored service with that ID or name.
func (b *Backend) Service(ref string) *types.Service {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.findService(ref)
	if err != nil {
		return nil
	}
	return s.Copy()
}

// Services returns copies of every stored service, by name.
func (b *Backend) Services() []*types.Service {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]*types.Service, 0, len(b.services))
	for _, s := range b.services {
		out = append(out, s.Copy())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.Name < out[j].Spec.Name })
	return out
}

func (b *Backend) findService(ref string) (*types.Service, error) {
	if s, ok := b.services[ref]; ok {
		return s, nil
	}
	for _, s := range b.services {
		if s.Spec.Name == ref {
			return s, nil
		}
	}
	var found []*types.Service
	for _, s := range b.services {
		if strings.HasPrefix(s.ID, ref) {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, fmt.Errorf("service %s not found: %w", ref, errdefs.ErrNotFound)
	}
	return nil, fmt.Errorf("service prefix %s is ambiguous: %w", ref, errdefs.ErrInvalidArgument)
}

func (b *Backend) findNode(ref string) (*types.Node, error) {
	if ref == "self" {
		ref = b.InfoValue.NodeID
	}
	if n, ok := b.nodes[ref]; ok {
		return n, nil
	}
	for _, n := range b.nodes {
		if n.Description.Hostname == ref || strings.HasPrefix(n.ID, ref) {
			return n, nil
		}
	}
	return nil, fmt.Errorf("node %s not found: %w", ref, errdefs.ErrNotFound)
}

// Info returns InfoValue.
func (b *Backend) Info(ctx context.Context) (*api.Info, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("Info"); err != nil {
		return nil, err
	}
	info := b.InfoValue
	return &info, nil
}

// ListNodes returns the nodes by ID.
func (b *Backend) ListNodes(ctx context.Context) ([]*types.Node, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("ListNodes"); err != nil {
		return nil, err
	}
	out := make([]*types.Node, 0, len(b.nodes))
	for _, id := range slices.Sorted(maps.Keys(b.nodes)) {
		out = append(out, b.nodes[id].Copy())
	}
	return out, nil
}

// GetNode finds a node by ID, prefix, hostname or "self".
func (b *Backend) GetNode(ctx context.Context, ref string) (*types.Node, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("GetNode"); err != nil {
		return nil, err
	}
	n, err := b.findNode(ref)
	if err != nil {
		return nil, err
	}
	return n.Copy(), nil
}

// ListServices returns the services by name, with running counts taken
// from the stored tasks.
func (b *Backend) ListServices(ctx context.Context) ([]api.ServiceSummary, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("ListServices"); err != nil {
		return nil, err
	}
	var out []api.ServiceSummary
	for _, s := range b.services {
		sum := api.ServiceSummary{Service: s.Copy(), DesiredTasks: s.Spec.Replicas}
		var nodes uint64
		for _, t := range b.tasks {
			if t.ServiceID != s.ID || t.DesiredState != types.TaskStateRunning {
				continue
			}
			nodes++
			if t.Status.State == types.TaskStateRunning {
				sum.RunningTasks++
			}
		}
		if s.Spec.Mode == types.ModeGlobal {
			sum.DesiredTasks = nodes
		}
		out = append(out, sum)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service.Spec.Name < out[j].Service.Spec.Name })
	return out, nil
}

// GetService finds a service by ID, prefix or name.
func (b *Backend) GetService(ctx context.Context, ref string) (*types.Service, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("GetService"); err != nil {
		return nil, err
	}
	s, err := b.findService(ref)
	if err != nil {
		return nil, err
	}
	return s.Copy(), nil
}

// CreateService stores a new service; a taken name is a conflict.
func (b *Backend) CreateService(ctx context.Context, spec types.ServiceSpec) (*types.Service, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("CreateService"); err != nil {
		return nil, err
	}
	if spec.Name == "" {
		spec.Name = fmt.Sprintf("svc%d", b.seq+1)
	}
	for _, s := range b.services {
		if s.Spec.Name == spec.Name {
			return nil, fmt.Errorf("service %s already exists: %w", spec.Name, errdefs.ErrConflict)
		}
	}
	b.version++
	s := &types.Service{
		ID:          b.nextID("s"),
		Meta:        types.Meta{Version: b.version, CreatedAt: b.now(), UpdatedAt: b.now()},
		Spec:        spec.Copy(),
		SpecVersion: 1,
	}
	s.Endpoint.Ports = slices.Clone(spec.Endpoint.Ports)
	b.services[s.ID] = s
	b.autoRun(s)
	return s.Copy(), nil
}

// UpdateService replaces a service's spec when version matches.
func (b *Backend) UpdateService(ctx context.Context, ref string, version uint64, spec types.ServiceSpec) (*types.Service, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("UpdateService"); err != nil {
		return nil, err
	}
	s, err := b.findService(ref)
	if err != nil {
		return nil, err
	}
	if s.Version != version {
		return nil, fmt.Errorf("service %s changed since version %d (now %d): read it again: %w", s.Spec.Name, version, s.Version, errdefs.ErrConflict)
	}
	b.version++
	prev := s.Spec.Copy()
	s.PreviousSpec = &prev
	s.Spec = spec.Copy()
	s.Version = b.version
	s.UpdatedAt = b.now()
	s.SpecVersion++
	b.beginUpdate(s, &prev, false)
	b.autoRun(s)
	return s.Copy(), nil
}

// autoRun converges a replicated service at once when AutoRun is set,
// and stores what OnChange returns.
func (b *Backend) autoRun(s *types.Service) {
	if b.OnChange != nil {
		for _, t := range b.OnChange(s.Copy()) {
			b.tasks[t.ID] = t.Copy()
		}
	}
	if !b.AutoRun || s.Spec.Mode == types.ModeGlobal {
		return
	}
	has := map[uint64]bool{}
	for _, t := range b.tasks {
		if t.ServiceID != s.ID || t.DesiredState != types.TaskStateRunning {
			continue
		}
		if t.Slot > s.Spec.Replicas {
			t.DesiredState = types.TaskStateShutdown
			t.Status.State = types.TaskStateShutdown
			continue
		}
		has[t.Slot] = true
	}
	var nodeID string
	for _, id := range slices.Sorted(maps.Keys(b.nodes)) {
		nodeID = id
		break
	}
	for slot := uint64(1); slot <= s.Spec.Replicas; slot++ {
		if has[slot] {
			continue
		}
		t := &types.Task{
			ID:           b.nextID("t"),
			Meta:         types.Meta{CreatedAt: b.now(), UpdatedAt: b.now()},
			ServiceID:    s.ID,
			ServiceName:  s.Spec.Name,
			Slot:         slot,
			NodeID:       nodeID,
			Spec:         s.Spec.Task.Copy(),
			SpecVersion:  s.SpecVersion,
			DesiredState: types.TaskStateRunning,
			Status:       types.TaskStatus{State: types.TaskStateRunning, Timestamp: b.now(), Message: "started"},
		}
		b.tasks[t.ID] = t
	}
}

// RemoveService deletes a service and its tasks.
func (b *Backend) RemoveService(ctx context.Context, ref string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("RemoveService"); err != nil {
		return err
	}
	s, err := b.findService(ref)
	if err != nil {
		return err
	}
	delete(b.services, s.ID)
	for id, t := range b.tasks {
		if t.ServiceID == s.ID {
			delete(b.tasks, id)
		}
	}
	return nil
}

// ListTasks returns the matching tasks by service name, slot, node and
// newest first.
func (b *Backend) ListTasks(ctx context.Context, f api.TaskFilter) ([]*types.Task, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("ListTasks"); err != nil {
		return nil, err
	}
	var serviceID, nodeID string
	if f.Service != "" {
		s, err := b.findService(f.Service)
		if err != nil {
			return nil, err
		}
		serviceID = s.ID
	}
	if f.Node != "" {
		n, err := b.findNode(f.Node)
		if err != nil {
			return nil, err
		}
		nodeID = n.ID
	}
	var out []*types.Task
	for _, t := range b.tasks {
		if serviceID != "" && t.ServiceID != serviceID || nodeID != "" && t.NodeID != nodeID {
			continue
		}
		if f.DesiredState != "" && !desiredMatches(t.DesiredState, f.DesiredState) {
			continue
		}
		out = append(out, t.Copy())
	}
	sort.Slice(out, func(i, j int) bool {
		a, c := out[i], out[j]
		if a.ServiceName != c.ServiceName {
			return a.ServiceName < c.ServiceName
		}
		if a.Slot != c.Slot {
			return a.Slot < c.Slot
		}
		if a.NodeID != c.NodeID {
			return a.NodeID < c.NodeID
		}
		return a.CreatedAt.After(c.CreatedAt)
	})
	return out, nil
}

// desiredMatches applies a desired-state filter as Swarm does: "running"
// also matches tasks waiting to run (ready), "shutdown" every state past
// running.
func desiredMatches(s types.TaskState, want string) bool {
	switch want {
	case api.DesiredRunning:
		return s == types.TaskStateRunning || s == types.TaskStateReady
	case api.DesiredShutdown:
		return s > types.TaskStateRunning
	case api.DesiredAccepted:
		return s == types.TaskStateAccepted
	}
	return true
}

// ServiceLogs sends Logs[service ID] (filtered by Tail and Since), then
// returns LogsErr. With Follow it then waits for ctx to be done.
func (b *Backend) ServiceLogs(ctx context.Context, ref string, opts api.LogOptions, sink func(api.LogLine) error) error {
	b.mu.Lock()
	if err := b.enter("ServiceLogs"); err != nil {
		b.mu.Unlock()
		return err
	}
	s, err := b.findService(ref)
	if err != nil {
		b.mu.Unlock()
		return err
	}
	lines := slices.Clone(b.Logs[s.ID])
	logsErr := b.LogsErr
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
}

// Plugins returns PluginList.
func (b *Backend) Plugins(ctx context.Context) ([]api.PluginStatus, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("Plugins"); err != nil {
		return nil, err
	}
	return slices.Clone(b.PluginList), nil
}

// Shutdown counts the call.
func (b *Backend) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enter("Shutdown"); err != nil {
		return err
	}
	b.shutdown++
	return nil
}
