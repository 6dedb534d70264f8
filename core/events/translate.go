package events

import (
	"maps"
	"strconv"

	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// Actions that are not a task state or a node state.
const (
	ActionCreate       = "create"
	ActionUpdate       = "update"
	ActionRemove       = "remove"
	ActionAvailability = "availability"
	ActionPromote      = "promote"
	ActionDemote       = "demote"
	ActionLock         = "lock"
	ActionUnlock       = "unlock"
	ActionLeader       = "leader"
	ActionUnlocked     = "unlocked"
)

// NodeNames resolves a node ID to its hostname ("" when unknown), so that
// a task event can name its node.
type NodeNames func(nodeID string) string

// FromStore translates one store change into the events it means, in
// order; none for a change nobody needs to hear of (a task updated without
// changing state, an ActionReset). It is pure: the same change and names
// give the same events. Seq and Time are left for the ring to set.
func FromStore(ev store.Event, names NodeNames) []Event {
	var out []Event
	add := func(typ, action, id string, attrs map[string]string) {
		out = append(out, Event{Type: typ, Action: action, Actor: Actor{ID: id, Attributes: attrs}, Index: ev.Index})
	}
	switch {
	case ev.Action == store.ActionReset:
	case ev.Task != nil:
		fromTask(ev, names, add)
	case ev.Service != nil:
		fromService(ev, add)
	case ev.Node != nil:
		fromNode(ev, add)
	case ev.Secret != nil:
		attrs := labelled(ev.Secret.Spec.Name, ev.Secret.Spec.Labels)
		add(TypeSecret, crud(ev.Action), ev.Secret.ID, attrs)
	case ev.Config != nil:
		attrs := labelled(ev.Config.Spec.Name, ev.Config.Spec.Labels)
		add(TypeConfig, crud(ev.Action), ev.Config.ID, attrs)
	case ev.Network != nil:
		if ev.Action == store.ActionUpdate {
			// Address allocations update networks: not news.
			break
		}
		n := ev.Network
		attrs := map[string]string{"name": n.Spec.Name, "driver": n.Spec.Driver}
		if n.Subnet.IsValid() {
			attrs["subnet"] = n.Subnet.String()
		}
		add(TypeNetwork, crud(ev.Action), n.ID, attrs)
	case ev.Cluster != nil:
		fromCluster(ev, add)
	}
	return out
}

type adder func(typ, action, id string, attrs map[string]string)

// crud names a create, update or delete.
func crud(a store.Action) string {
	switch a {
	case store.ActionCreate:
		return ActionCreate
	case store.ActionDelete:
		return ActionRemove
	}
	return ActionUpdate
}

// labelled is a name and the object's labels as attributes (the name wins
// over a label called "name"), as docker events does.
func labelled(name string, labels map[string]string) map[string]string {
	attrs := maps.Clone(labels)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs["name"] = name
	return attrs
}

// fromTask: create, one event per state change (named after the new
// state), remove.
func fromTask(ev store.Event, names NodeNames, add adder) {
	t := ev.Task
	action := crud(ev.Action)
	if ev.Action == store.ActionUpdate {
		if ev.OldTask != nil && ev.OldTask.Status.State == t.Status.State {
			return
		}
		action = t.Status.State.String()
	}
	add(TypeTask, action, t.ID, TaskAttributes(t, names))
}

// TaskAttributes are the attributes of every task event.
func TaskAttributes(t *types.Task, names NodeNames) map[string]string {
	attrs := map[string]string{
		"name":          t.Name(),
		"service":       t.ServiceName,
		"service_id":    t.ServiceID,
		"slot":          strconv.FormatUint(t.Slot, 10),
		"state":         t.Status.State.String(),
		"desired_state": t.DesiredState.String(),
	}
	if t.NodeID != "" {
		attrs["node_id"] = t.NodeID
		if names != nil {
			if h := names(t.NodeID); h != "" {
				attrs["node"] = h
			}
		}
	}
	switch s := t.Status.State; {
	case t.Status.ExitCode != 0, s == types.TaskStateComplete, s == types.TaskStateFailed && t.Status.ContainerID != "":
		attrs["exit_code"] = strconv.Itoa(t.Status.ExitCode)
	}
	if t.Status.Err != "" {
		attrs["error"] = t.Status.Err
	}
	return attrs
}

// fromService: create, update (with what changed of the replicas and the
// image), remove.
func fromService(ev store.Event, add adder) {
	s := ev.Service
	attrs := map[string]string{"name": s.Spec.Name}
	if old := ev.OldService; ev.Action == store.ActionUpdate && old != nil {
		if old.Spec.Replicas != s.Spec.Replicas {
			attrs["replicas.old"] = strconv.FormatUint(old.Spec.Replicas, 10)
			attrs["replicas.new"] = strconv.FormatUint(s.Spec.Replicas, 10)
		}
		if old.Spec.Task.Container.Image != s.Spec.Task.Container.Image {
			attrs["image.old"], attrs["image.new"] = old.Spec.Task.Container.Image, s.Spec.Task.Container.Image
		}
		if old.SpecVersion == s.SpecVersion && len(attrs) == 1 {
			// Only status (endpoint, update progress) changed.
			return
		}
	}
	add(TypeService, crud(ev.Action), s.ID, attrs)
}

// fromNode: create (join), remove, and for an update one event per thing
// that changed: its state (ready, down, ...), its availability, its role
// (promote, demote); "update" when only something else of its spec or
// description changed.
func fromNode(ev store.Event, add adder) {
	n := ev.Node
	attrs := func() map[string]string {
		a := map[string]string{
			"name": n.Description.Hostname, "role": string(n.Spec.Role),
			"availability": string(n.Spec.Availability), "state": string(n.Status.State),
		}
		if n.Status.Message != "" {
			a["message"] = n.Status.Message
		}
		return a
	}
	old := ev.OldNode
	if ev.Action != store.ActionUpdate || old == nil {
		add(TypeNode, crud(ev.Action), n.ID, attrs())
		return
	}
	specific := false
	if old.Status.State != n.Status.State {
		specific = true
		add(TypeNode, string(n.Status.State), n.ID, attrs())
	}
	if old.Spec.Availability != n.Spec.Availability {
		specific = true
		add(TypeNode, ActionAvailability, n.ID, attrs())
	}
	if old.Spec.Role != n.Spec.Role {
		specific = true
		action := ActionDemote
		if n.Spec.Role == types.RoleManager {
			action = ActionPromote
		}
		add(TypeNode, action, n.ID, attrs())
	}
	if !specific && (!maps.Equal(old.Spec.Labels, n.Spec.Labels) || old.Description != n.Description) {
		add(TypeNode, ActionUpdate, n.ID, attrs())
	}
}

// fromCluster: create, lock or unlock when autolock flips, update when
// anything else of the cluster's settings changed.
func fromCluster(ev store.Event, add adder) {
	c := ev.Cluster
	attrs := map[string]string{"autolock": strconv.FormatBool(c.Encryption.Autolock)}
	old := ev.OldCluster
	if ev.Action != store.ActionUpdate || old == nil {
		add(TypeCluster, crud(ev.Action), c.ID, attrs)
		return
	}
	switch {
	case old.Encryption.Autolock != c.Encryption.Autolock && c.Encryption.Autolock:
		add(TypeCluster, ActionLock, c.ID, attrs)
	case old.Encryption.Autolock != c.Encryption.Autolock:
		add(TypeCluster, ActionUnlock, c.ID, attrs)
	default:
		add(TypeCluster, ActionUpdate, c.ID, attrs)
	}
}
