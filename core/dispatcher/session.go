package dispatcher

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/mesh"
	"github.com/hiveorch/hive/core/networks"
	"github.com/hiveorch/hive/core/session"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// ManagersPoll is how often a session looks for changes of the managers
// and of the heartbeat period (Raft membership changes make no store
// event).
const ManagersPoll = time.Second

// SessionMessage is one message of a node's session stream. The first
// message carries every part; later ones carry only the parts that
// changed (nil or zero for the others).
type SessionMessage struct {
	// Assignments is the node's whole assignment set (see Assignments).
	Assignments *Assignments `json:"assignments,omitempty"`
	// Values are the changes to the values of the secrets and configs
	// the node's tasks reference; the first message of a session carries
	// them all.
	Values *Values `json:"values,omitempty"`
	// Networks is the node's view of its tasks' networks, when it
	// changed (its View nil when none of its tasks is on one any more).
	Networks *NetworkUpdate `json:"networks,omitempty"`
	// Routes is the routing table of the whole cluster, for the node's
	// mesh: every published port leads to its service's running tasks
	// wherever they run.
	Routes *RouteTable `json:"routes,omitempty"`
	// Managers is the list of managers, the leader flagged.
	Managers []ManagerInfo `json:"managers,omitempty"`
	// HeartbeatPeriod is how often the node must send heartbeats.
	HeartbeatPeriod time.Duration `json:"heartbeat_period,omitempty"`
	// Role is the node's role as the cluster has it: when it differs
	// from the role in the node's certificate (the node was promoted or
	// demoted), the node renews its certificate and restarts in that role.
	Role types.NodeRole `json:"role,omitempty"`
}

func (m *SessionMessage) empty() bool {
	return m.Assignments == nil && m.Values == nil && m.Networks == nil && m.Routes == nil && m.Managers == nil && m.HeartbeatPeriod == 0 && m.Role == ""
}

// nodeRole returns the role the store gives a node ("" if it has none).
func (d *Dispatcher) nodeRole(nodeID string) types.NodeRole {
	var role types.NodeRole
	d.store.View(func(tx store.ReadTx) {
		if n := tx.Node(nodeID); n != nil {
			role = n.Spec.Role
		}
	})
	return role
}

// Assignments is a node's assignment set.
type Assignments struct {
	Tasks []*types.Task `json:"tasks"`
}

// NetworkUpdate carries a new view of a node's networks.
type NetworkUpdate struct {
	View *networks.NodeView `json:"view"`
}

// RouteTable is a routing table as mesh.Routes computes it. It travels as
// a JSON list, since its keys are structs.
type RouteTable struct {
	Routes map[mesh.PortKey]mesh.Route
}

type routeEntry struct {
	Port  mesh.PortKey `json:"port"`
	Route mesh.Route   `json:"route"`
}

// MarshalJSON encodes the table as a list sorted by port.
func (t RouteTable) MarshalJSON() ([]byte, error) {
	list := make([]routeEntry, 0, len(t.Routes))
	for k, r := range t.Routes {
		list = append(list, routeEntry{Port: k, Route: r})
	}
	slices.SortFunc(list, func(a, b routeEntry) int {
		return cmp.Or(cmp.Compare(a.Port.Port, b.Port.Port), cmp.Compare(a.Port.Protocol, b.Port.Protocol))
	})
	return json.Marshal(list)
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (t *RouteTable) UnmarshalJSON(b []byte) error {
	var list []routeEntry
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("decode routing table: %w", err)
	}
	t.Routes = make(map[mesh.PortKey]mesh.Route, len(list))
	for _, e := range list {
		t.Routes[e.Port] = e.Route
	}
	return nil
}

// ManagerInfo is one manager as a node's session reports it.
type ManagerInfo struct {
	ID string `json:"id"`
	// Addr is the manager's cluster port.
	Addr   string `json:"addr"`
	Leader bool   `json:"leader,omitempty"`
}

// Managers returns the managers of the Raft group, by ID.
func (d *Dispatcher) Managers() []ManagerInfo {
	members := d.store.Members()
	out := make([]ManagerInfo, 0, len(members))
	for _, m := range members {
		out = append(out, ManagerInfo{ID: m.ID, Addr: m.Addr, Leader: m.Leader})
	}
	return out
}

// liveSession is a node's current session on this dispatcher.
type liveSession struct {
	cancel     context.CancelFunc
	superseded bool
}

// errSuperseded ends a session when the same node opens a newer one.
var errSuperseded = errors.New("a newer session of the same node replaced this one")

// Session registers the node and streams its session to send until ctx
// ends (it returns nil then), leadership is lost (a *store.NotLeaderError
// naming the new leader when one is known), the node opens a newer session
// (which ends this one), the store closes, or send fails.
//
// The first message carries everything: the node's assignment set, the
// routing table, the managers and the heartbeat period. Then each part is
// sent again when it changes: the assignment set at once, the routing
// table after RouteDelay (computed once for all sessions), the managers
// and the period when ManagersPoll finds them changed. send is called from
// this goroutine only.
func (d *Dispatcher) Session(ctx context.Context, reg session.Registration, send func(*SessionMessage) error) error {
	if err := checkNodeID(reg.NodeID); err != nil {
		return err
	}
	if err := d.store.CheckLeader(); err != nil {
		return fmt.Errorf("open a session for node %s: %w", reg.NodeID, err)
	}
	leading, stopLeading := d.store.LeaderWatch()
	defer stopLeading()
	if err := d.Register(ctx, reg); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	live := d.claimSession(reg.NodeID, cancel)
	defer d.releaseSession(reg.NodeID, live)

	sets, err := d.Assignments(ctx, reg.NodeID)
	if err != nil {
		return err
	}
	d.routes.acquire()
	defer d.routes.release()
	table, routesVersion, routesChanged := d.routes.current()
	tick := d.clock.NewTicker(ManagersPoll)
	defer tick.Stop()

	managers, period, role := d.Managers(), d.Period(), d.nodeRole(reg.NodeID)
	var first *session.Assignment
	select {
	case <-ctx.Done():
		return d.sessionEnd(reg.NodeID, live)
	case set, ok := <-sets:
		if !ok {
			return d.sessionEnd(reg.NodeID, live)
		}
		first = set
	}
	var sent sentValues
	err = send(&SessionMessage{
		Assignments: &Assignments{Tasks: first.Tasks}, Values: sent.diff(first), Networks: &NetworkUpdate{View: first.Networks},
		Routes:   &RouteTable{Routes: table},
		Managers: managers, HeartbeatPeriod: period, Role: role,
	})
	if err != nil {
		return fmt.Errorf("send session message to node %s: %w", reg.NodeID, err)
	}
	d.logger.Debug("session opened", "node_id", reg.NodeID, "routes", len(table), "managers", len(managers))
	last, lastView := first.Tasks, first.Networks
	for {
		msg := &SessionMessage{}
		select {
		case <-ctx.Done():
			return d.sessionEnd(reg.NodeID, live)
		case <-d.store.Done():
			return fmt.Errorf("session of node %s: %w", reg.NodeID, store.ErrClosed)
		case lead, ok := <-leading:
			if !ok {
				return fmt.Errorf("session of node %s: %w", reg.NodeID, store.ErrClosed)
			}
			if !lead {
				d.logger.Info("leadership lost: ending the node's session", "node_id", reg.NodeID)
				return fmt.Errorf("session of node %s: %w", reg.NodeID, d.store.CheckLeader())
			}
		case a, ok := <-sets:
			if !ok {
				return d.sessionEnd(reg.NodeID, live)
			}
			if !slices.Equal(a.Tasks, last) {
				last = a.Tasks
				msg.Assignments = &Assignments{Tasks: a.Tasks}
			}
			msg.Values = sent.diff(a)
			if !reflect.DeepEqual(a.Networks, lastView) {
				lastView = a.Networks
				msg.Networks = &NetworkUpdate{View: a.Networks}
			}
		case <-routesChanged:
			var t map[mesh.PortKey]mesh.Route
			var v uint64
			t, v, routesChanged = d.routes.current()
			if v != routesVersion {
				routesVersion = v
				msg.Routes = &RouteTable{Routes: t}
			}
		case <-tick.C():
			if m := d.Managers(); !slices.Equal(m, managers) {
				managers, msg.Managers = m, m
			}
			if p := d.Period(); p != period {
				period, msg.HeartbeatPeriod = p, p
			}
			if r := d.nodeRole(reg.NodeID); r != role {
				role, msg.Role = r, r
			}
		}
		if msg.empty() {
			continue
		}
		if err := send(msg); err != nil {
			return fmt.Errorf("send session message to node %s: %w", reg.NodeID, err)
		}
	}
}

// claimSession records a new session of nodeID, ending the one before.
func (d *Dispatcher) claimSession(nodeID string, cancel context.CancelFunc) *liveSession {
	live := &liveSession{cancel: cancel}
	d.mu.Lock()
	defer d.mu.Unlock()
	if old := d.sessions[nodeID]; old != nil {
		old.superseded = true
		old.cancel()
	}
	d.sessions[nodeID] = live
	return live
}

func (d *Dispatcher) releaseSession(nodeID string, live *liveSession) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sessions[nodeID] == live {
		delete(d.sessions, nodeID)
	}
}

// sessionEnd is what a session returns when its context ended: nil when
// the node went away, an error when a newer session replaced it.
func (d *Dispatcher) sessionEnd(nodeID string, live *liveSession) error {
	d.mu.Lock()
	superseded := live.superseded
	d.mu.Unlock()
	if superseded {
		return fmt.Errorf("session of node %s: %w: %w", nodeID, errSuperseded, errdefs.ErrConflict)
	}
	d.logger.Debug("session closed", "node_id", nodeID)
	return nil
}
