// Package dispatcher is the managers' side of the node sessions: it
// registers nodes, records heartbeats, streams each node its assigned tasks
// from the store, and writes the nodes' batched status reports through
// Raft. It implements session.Manager for an agent in the same process
// (tests, the simulation); agents reach the leader's dispatcher over gRPC
// (core/rpc), whose session stream (Session) also carries the cluster's
// routing table, the list of managers and the heartbeat period.
//
// Only the leader serves sessions and heartbeats: on another manager they
// fail with a *store.NotLeaderError naming the leader, so the agent moves
// there.
package dispatcher

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/controller"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/networks"
	"github.com/hiveorch/hive/core/nodehealth"
	"github.com/hiveorch/hive/core/session"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// DefaultHeartbeatPeriod is the shortest heartbeat period; it grows with
// the cluster (see Period).
const DefaultHeartbeatPeriod = nodehealth.MinPeriod

// Dispatcher serves node sessions from the store. Set its exported fields
// before the first call.
type Dispatcher struct {
	store  *store.Store
	clock  clock.Clock
	logger *slog.Logger
	// HeartbeatPeriod is the shortest period Period returns.
	HeartbeatPeriod time.Duration
	// RouteDelay gathers a burst of changes into one new routing table:
	// the table is computed this long after the first change of a burst
	// (default DefaultRouteDelay; 0 computes at once).
	RouteDelay time.Duration
	// RefuseUnknownNodes makes Register refuse a node that has no record
	// (one that was removed, or that joined no manager) instead of
	// creating it as a worker.
	RefuseUnknownNodes bool
	// Values supplies the values of the secrets and configs that tasks
	// reference; nil delivers none (tasks that need one wait for it).
	Values SecretSource
	// ValueRefresh is how often a session tries again to read the values
	// it could not (default DefaultValueRefresh). A new version of a value
	// is sent at once: the store's secret and config events tell.
	ValueRefresh time.Duration

	routes *routeFeed
	values *valueCache

	mu       sync.Mutex
	lastSeen map[string]time.Time
	sessions map[string]*liveSession
}

var _ session.Manager = (*Dispatcher)(nil)

// New returns a dispatcher over s.
func New(s *store.Store, clk clock.Clock, logger *slog.Logger) *Dispatcher {
	d := &Dispatcher{
		store: s, clock: clk, logger: logger,
		HeartbeatPeriod: DefaultHeartbeatPeriod, RouteDelay: DefaultRouteDelay,
		lastSeen: map[string]time.Time{}, sessions: map[string]*liveSession{},
	}
	d.routes = &routeFeed{d: d}
	d.values = newValueCache(d)
	return d
}

// Register creates the node's record, or refreshes its description and
// address, and marks it ready, or down with the reason when the node says
// it cannot run tasks (reg.Unavailable). A new node is an active worker
// unless the record already exists (the daemon creates managers' records
// itself).
// It fails with a *store.NotLeaderError on a manager that is not the
// leader.
func (d *Dispatcher) Register(ctx context.Context, reg session.Registration) error {
	if err := checkNodeID(reg.NodeID); err != nil {
		return err
	}
	if err := d.store.CheckLeader(); err != nil {
		return fmt.Errorf("register node %s: %w", reg.NodeID, err)
	}
	status := types.NodeStatus{State: types.NodeStateReady, Addr: reg.Addr}
	if reg.Unavailable != "" {
		status.State, status.Message = types.NodeStateDown, reg.Unavailable
	}
	err := d.store.Update(ctx, func(tx store.Tx) error {
		cur := tx.Node(reg.NodeID)
		if cur == nil {
			if d.RefuseUnknownNodes {
				return fmt.Errorf("node %s is not a member of this cluster (it was removed, or never joined): "+
					"join it again with 'hive join': %w", reg.NodeID, errdefs.ErrPermissionDenied)
			}
			return tx.CreateNode(&types.Node{
				ID:          reg.NodeID,
				Spec:        types.NodeSpec{Role: types.RoleWorker, Availability: types.AvailabilityActive},
				Description: reg.Description,
				Status:      status,
			})
		}
		n := cur.Copy()
		n.Description = reg.Description
		n.Status = status
		return tx.UpdateNode(n)
	})
	if err != nil {
		return fmt.Errorf("register node %s: %w", reg.NodeID, err)
	}
	d.touch(reg.NodeID)
	if reg.Unavailable != "" {
		d.logger.Warn("node registered, unable to run tasks", "node_id", reg.NodeID, "hostname", reg.Description.Hostname,
			"addr", reg.Addr, "reason", reg.Unavailable)
		return nil
	}
	d.logger.Info("node registered", "node_id", reg.NodeID, "hostname", reg.Description.Hostname, "addr", reg.Addr)
	return nil
}

// Heartbeat records that the node is alive and returns the period. It
// fails with errdefs.ErrNotFound for a node without a record (removed
// since it registered: it must register again), and with a
// *store.NotLeaderError on a manager that is not the leader.
func (d *Dispatcher) Heartbeat(ctx context.Context, nodeID string) (time.Duration, error) {
	if err := checkNodeID(nodeID); err != nil {
		return 0, err
	}
	if err := d.store.CheckLeader(); err != nil {
		return 0, fmt.Errorf("heartbeat of node %s: %w", nodeID, err)
	}
	var known bool
	var nodes int
	d.store.View(func(tx store.ReadTx) {
		known = tx.Node(nodeID) != nil
		nodes = len(tx.Nodes())
	})
	if !known {
		return 0, fmt.Errorf("heartbeat of node %s: the node has no record (it was removed); register again: %w",
			nodeID, errdefs.ErrNotFound)
	}
	d.touch(nodeID)
	return d.period(nodes), nil
}

// Period is the heartbeat period for the cluster's current size: as
// nodehealth.Period, but at least HeartbeatPeriod.
func (d *Dispatcher) Period() time.Duration {
	var nodes int
	d.store.View(func(tx store.ReadTx) { nodes = len(tx.Nodes()) })
	return d.period(nodes)
}

func (d *Dispatcher) period(nodes int) time.Duration {
	return max(d.HeartbeatPeriod, time.Duration(nodes)*time.Second/nodehealth.MaxHeartbeatsPerSec)
}

// checkNodeID refuses an empty node ID.
func checkNodeID(id string) error {
	if id == "" {
		return fmt.Errorf("no node ID given: %w", errdefs.ErrInvalidArgument)
	}
	return nil
}

func (d *Dispatcher) touch(nodeID string) {
	d.mu.Lock()
	d.lastSeen[nodeID] = d.clock.Now()
	d.mu.Unlock()
}

// LastSeen returns when the node last registered or sent a heartbeat to
// this manager (zero if never).
func (d *Dispatcher) LastSeen(nodeID string) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lastSeen[nodeID]
}

// Assigned reports whether a task belongs in its node's assignment set.
func Assigned(t *types.Task, nodeID string) bool {
	return t.NodeID == nodeID && t.Status.State >= types.TaskStateAssigned
}

// Assignments streams the node's assignment: its task set, sent again
// when it changes, with the view of its tasks' networks (sent again when
// it changes), and the values of the secrets and configs those tasks
// reference, sent again when one has a new version in the store. Values
// that could not be read are tried again every ValueRefresh. A set the
// receiver has not taken yet is replaced by the newer one. The channel
// closes when ctx is done or the store closes.
func (d *Dispatcher) Assignments(ctx context.Context, nodeID string) (<-chan *session.Assignment, error) {
	out := make(chan *session.Assignment, 1)
	var last *session.Assignment
	pass := func(ctx context.Context) (time.Time, error) {
		var set []*types.Task
		var view *networks.NodeView
		d.store.View(func(tx store.ReadTx) {
			for _, t := range tx.TasksByNode(nodeID) {
				if Assigned(t, nodeID) {
					set = append(set, t)
				}
			}
			view = networks.ComputeNodeView(nodeID, tx.Services(), tx.Tasks(), tx.Nodes(), tx.Networks())
		})
		a := d.values.collect(ctx, nodeID, set)
		if len(view.Networks) > 0 {
			a.Networks = view
		}
		if last != nil && slices.Equal(a.Tasks, last.Tasks) && sameValues(a, last) && reflect.DeepEqual(a.Networks, last.Networks) {
			return time.Time{}, nil
		}
		last = a
		select {
		case <-out: // replace a set the agent has not taken yet
		default:
		}
		out <- a
		return time.Time{}, nil
	}
	go func() {
		defer close(out)
		_ = controller.Run(ctx, controller.Config{
			Name: "assignments", Source: d.store, Resync: d.valueRefresh(), Clock: d.clock,
			Logger: d.logger.With("node_id", nodeID), Pass: pass,
			Filter: func(ev store.Event) bool {
				if ev.Secret != nil || ev.Config != nil {
					return true // a value may have a new version
				}
				if networks.Event(ev) {
					return true // the node's view of its networks may change
				}
				return ev.Task != nil && (ev.Task.NodeID == nodeID || (ev.OldTask != nil && ev.OldTask.NodeID == nodeID))
			},
		})
	}()
	return out, nil
}

// UpdateTaskStatus writes a batch of statuses in one Raft command. A
// status for a task not on the node, or behind the stored state, is
// dropped; so is one that changes nothing.
func (d *Dispatcher) UpdateTaskStatus(ctx context.Context, nodeID string, updates []session.StatusUpdate) error {
	if err := checkNodeID(nodeID); err != nil {
		return err
	}
	d.touch(nodeID)
	err := d.store.Update(ctx, func(tx store.Tx) error {
		for _, u := range updates {
			cur := tx.Task(u.TaskID)
			if cur == nil || cur.NodeID != nodeID || u.Status.State < cur.Status.State || sameStatus(cur.Status, u.Status) {
				continue
			}
			t := cur.Copy()
			t.Status = u.Status
			if err := tx.UpdateTask(t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("update task status from node %s: %w", nodeID, err)
	}
	return nil
}

func sameStatus(a, b types.TaskStatus) bool {
	return a.State == b.State && a.Message == b.Message && a.Err == b.Err && a.ContainerID == b.ContainerID &&
		a.PID == b.PID && a.ExitCode == b.ExitCode && slices.Equal(a.Addresses, b.Addresses) && a.StartedAt.Equal(b.StartedAt)
}
