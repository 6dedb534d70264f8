package store

import (
	"encoding/json"
	"errors"
	"fmt"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

// Command is one entry of the Raft log, encoded as JSON. Type names the
// command and Version its body's format; a manager that does not know the
// type, or knows only older versions of it, skips the command when
// Optional is set and otherwise fails it (and logs why: it must be
// upgraded).
//
// The only type today is CommandChanges, version 1, whose body is
//
//	{"changes":[{"op":"create|update|delete",
//	             "kind":"cluster|node|service|task|secret|config|network",
//	             "id":"...","object":{...}}]}
//
// The changes apply in order, all or none. A create or update carries the
// whole new object; an update's object has the Meta.Version it was read
// at. A delete carries the object as it was read, for the same check.
type Command struct {
	Type     string          `json:"type"`
	Version  int             `json:"v"`
	Optional bool            `json:"optional,omitempty"`
	Body     json.RawMessage `json:"body"`
}

// CommandChanges is the type of the command that creates, updates and
// deletes objects.
const CommandChanges = "changes"

// changesVersion is the newest version of CommandChanges this code reads
// and the one it writes.
const changesVersion = 1

// op is what a change does.
type op string

const (
	opCreate op = "create"
	opUpdate op = "update"
	opDelete op = "delete"
)

// changesBody is the body of a CommandChanges command.
type changesBody struct {
	Changes []change `json:"changes"`
}

// change is one change of a CommandChanges command.
type change struct {
	Op     op              `json:"op"`
	Kind   string          `json:"kind"`
	ID     string          `json:"id"`
	Object json.RawMessage `json:"object,omitempty"`
}

// pending is a change recorded by a Tx, before it is encoded.
type pending struct {
	op   op
	kind *kind
	id   string
	obj  any
}

// encodeChanges encodes recorded changes as a CommandChanges command.
func encodeChanges(ps []pending) ([]byte, error) {
	body := changesBody{Changes: make([]change, 0, len(ps))}
	for _, p := range ps {
		raw, err := json.Marshal(p.obj)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", p.kind.name, p.id, err)
		}
		body.Changes = append(body.Changes, change{Op: p.op, Kind: p.kind.name, ID: p.id, Object: raw})
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode changes: %w", err)
	}
	cmd, err := json.Marshal(Command{Type: CommandChanges, Version: changesVersion, Body: b})
	if err != nil {
		return nil, fmt.Errorf("encode command: %w", err)
	}
	return cmd, nil
}

// kind describes one kind of stored object, so that the checks and the
// apply code are written once for all of them.
type kind struct {
	name  string // as in a change: "node"
	table string
	id    func(obj any) string
	meta  func(obj any) *types.Meta
	clone func(obj any) any
	// decode reads an object of this kind from JSON.
	decode func(raw []byte) (any, error)
	// conflict checks the kind's unique indexes other than id.
	conflict func(txn *memdb.Txn, obj any) error
	// event fills the event's object fields: obj is the new value (the last
	// one for a delete), old the previous value of an update.
	event func(ev *Event, obj, old any)
}

func decodeAs[T any](raw []byte) (any, error) {
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, err
	}
	return v, nil
}

var (
	kindCluster = &kind{
		name:   "cluster",
		table:  tableCluster,
		id:     func(o any) string { return o.(*types.Cluster).ID },
		meta:   func(o any) *types.Meta { return &o.(*types.Cluster).Meta },
		clone:  func(o any) any { return o.(*types.Cluster).Copy() },
		decode: decodeAs[types.Cluster],
		event: func(ev *Event, o, old any) {
			ev.Cluster = o.(*types.Cluster)
			if old != nil {
				ev.OldCluster = old.(*types.Cluster)
			}
		},
	}
	kindNode = &kind{
		name:   "node",
		table:  tableNodes,
		id:     func(o any) string { return o.(*types.Node).ID },
		meta:   func(o any) *types.Meta { return &o.(*types.Node).Meta },
		clone:  func(o any) any { return o.(*types.Node).Copy() },
		decode: decodeAs[types.Node],
		event: func(ev *Event, o, old any) {
			ev.Node = o.(*types.Node)
			if old != nil {
				ev.OldNode = old.(*types.Node)
			}
		},
	}
	kindService = &kind{
		name:     "service",
		table:    tableServices,
		id:       func(o any) string { return o.(*types.Service).ID },
		meta:     func(o any) *types.Meta { return &o.(*types.Service).Meta },
		clone:    func(o any) any { return o.(*types.Service).Copy() },
		decode:   decodeAs[types.Service],
		conflict: serviceNameConflict,
		event: func(ev *Event, o, old any) {
			ev.Service = o.(*types.Service)
			if old != nil {
				ev.OldService = old.(*types.Service)
			}
		},
	}
	kindTask = &kind{
		name:   "task",
		table:  tableTasks,
		id:     func(o any) string { return o.(*types.Task).ID },
		meta:   func(o any) *types.Meta { return &o.(*types.Task).Meta },
		clone:  func(o any) any { return o.(*types.Task).Copy() },
		decode: decodeAs[types.Task],
		event: func(ev *Event, o, old any) {
			ev.Task = o.(*types.Task)
			if old != nil {
				ev.OldTask = old.(*types.Task)
			}
		},
	}
	// A secret travels in commands with its value sealed (Secret.Sealed):
	// the managers' API seals it before it records the change.
	kindSecret = &kind{
		name:     "secret",
		table:    tableSecrets,
		id:       func(o any) string { return o.(*types.Secret).ID },
		meta:     func(o any) *types.Meta { return &o.(*types.Secret).Meta },
		clone:    func(o any) any { return o.(*types.Secret).Copy() },
		decode:   decodeAs[types.Secret],
		conflict: secretNameConflict,
		event: func(ev *Event, o, old any) {
			ev.Secret = o.(*types.Secret)
			if old != nil {
				ev.OldSecret = old.(*types.Secret)
			}
		},
	}
	kindConfig = &kind{
		name:     "config",
		table:    tableConfigs,
		id:       func(o any) string { return o.(*types.Config).ID },
		meta:     func(o any) *types.Meta { return &o.(*types.Config).Meta },
		clone:    func(o any) any { return o.(*types.Config).Copy() },
		decode:   decodeAs[types.Config],
		conflict: configNameConflict,
		event: func(ev *Event, o, old any) {
			ev.Config = o.(*types.Config)
			if old != nil {
				ev.OldConfig = old.(*types.Config)
			}
		},
	}
	// A network carries what the managers allocated for it (subnet,
	// VXLAN ID); the FSM refuses one whose subnet or VXLAN ID another
	// network has, so that two creates computed from the same state
	// cannot both apply.
	kindNetwork = &kind{
		name:     "network",
		table:    tableNetworks,
		id:       func(o any) string { return o.(*types.Network).ID },
		meta:     func(o any) *types.Meta { return &o.(*types.Network).Meta },
		clone:    func(o any) any { return o.(*types.Network).Copy() },
		decode:   decodeAs[types.Network],
		conflict: networkConflict,
		event: func(ev *Event, o, old any) {
			ev.Network = o.(*types.Network)
			if old != nil {
				ev.OldNetwork = old.(*types.Network)
			}
		},
	}
	kinds = map[string]*kind{
		kindCluster.name: kindCluster,
		kindNode.name:    kindNode,
		kindService.name: kindService,
		kindTask.name:    kindTask,
		kindSecret.name:  kindSecret,
		kindConfig.name:  kindConfig,
		kindNetwork.name: kindNetwork,
	}
)

// networkConflict fails when another network has obj's name, a subnet
// that overlaps obj's, or obj's VXLAN ID. A subnet overlap and a VXLAN ID
// taken are errdefs.ErrConflict errors.
func networkConflict(txn *memdb.Txn, obj any) error {
	n := obj.(*types.Network)
	if n.Spec.Name != "" {
		other := first[*types.Network](txn, tableNetworks, indexName, n.Spec.Name)
		if other != nil && other.ID != n.ID {
			return fmt.Errorf("network name %q is used by network %s: %w", n.Spec.Name, other.ID, ErrNameConflict)
		}
	}
	for _, other := range all[*types.Network](txn, tableNetworks, indexID) {
		switch {
		case other.ID == n.ID:
		case n.Subnet.IsValid() && other.Subnet.IsValid() && n.Subnet.Overlaps(other.Subnet):
			return fmt.Errorf("network %s: subnet %s overlaps subnet %s of network %s: %w", n.Spec.Name, n.Subnet, other.Subnet, other.Spec.Name, errdefs.ErrConflict)
		case n.VNI != 0 && n.VNI == other.VNI:
			return fmt.Errorf("network %s: VXLAN ID %d is used by network %s: %w", n.Spec.Name, n.VNI, other.Spec.Name, errdefs.ErrConflict)
		}
	}
	return nil
}

// secretNameConflict fails when another secret has obj's name.
func secretNameConflict(txn *memdb.Txn, obj any) error {
	s := obj.(*types.Secret)
	if s.Spec.Name == "" {
		return nil
	}
	other := first[*types.Secret](txn, tableSecrets, indexName, s.Spec.Name)
	if other != nil && other.ID != s.ID {
		return fmt.Errorf("secret name %q is used by secret %s: %w", s.Spec.Name, other.ID, ErrNameConflict)
	}
	return nil
}

// configNameConflict fails when another config has obj's name.
func configNameConflict(txn *memdb.Txn, obj any) error {
	c := obj.(*types.Config)
	if c.Spec.Name == "" {
		return nil
	}
	other := first[*types.Config](txn, tableConfigs, indexName, c.Spec.Name)
	if other != nil && other.ID != c.ID {
		return fmt.Errorf("config name %q is used by config %s: %w", c.Spec.Name, other.ID, ErrNameConflict)
	}
	return nil
}

// serviceNameConflict fails when another service has obj's name.
func serviceNameConflict(txn *memdb.Txn, obj any) error {
	s := obj.(*types.Service)
	if s.Spec.Name == "" {
		return nil
	}
	other := first[*types.Service](txn, tableServices, indexName, s.Spec.Name)
	if other != nil && other.ID != s.ID {
		return fmt.Errorf("service name %q is used by service %s: %w", s.Spec.Name, other.ID, ErrNameConflict)
	}
	return nil
}

// validID checks an object's ID before a create.
func validID(k *kind, id string) error {
	if id == "" {
		return fmt.Errorf("%s has an empty id: %w", k.name, errdefs.ErrInvalidArgument)
	}
	if k == kindCluster && id != types.ClusterID {
		return fmt.Errorf("cluster id is %q, want %q: %w", id, types.ClusterID, errdefs.ErrInvalidArgument)
	}
	return nil
}

// checkChange checks that a change may apply to the state in txn and
// returns the stored object it replaces or deletes (nil for a create).
//
// An update's obj, and a delete's when given, must carry the version its
// base had. The base is the stored object, unless the same object was
// already changed earlier in the same command: then base holds the version
// it had before the command (0 after a create), which is what the Tx that
// recorded the command saw. base may be nil.
func checkChange(txn *memdb.Txn, k *kind, o op, id string, obj any, base map[string]uint64) (any, error) {
	old, err := txn.First(k.table, indexID, id)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", k.name, id, err)
	}
	switch o {
	case opCreate:
		if old != nil {
			return nil, fmt.Errorf("%s %s: %w", k.name, id, ErrExist)
		}
	case opUpdate, opDelete:
		if old == nil {
			return nil, fmt.Errorf("%s %s: %w", k.name, id, ErrNotFound)
		}
		if obj != nil {
			want, ok := base[k.name+"/"+id]
			if !ok {
				want = k.meta(old).Version
			}
			if got := k.meta(obj).Version; got != want {
				return nil, fmt.Errorf("%s %s: read at version %d, stored version is %d: %w",
					k.name, id, got, want, ErrSequenceConflict)
			}
		}
	default:
		return nil, fmt.Errorf("%s %s: unknown operation %q", k.name, id, o)
	}
	if o != opDelete && k.conflict != nil {
		if err := k.conflict(txn, obj); err != nil {
			return nil, err
		}
	}
	return old, nil
}

// errNewer marks a command this code is too old to apply.
var errNewer = errors.New("upgrade hive on this manager")

// applyChanges checks and applies the changes of a CommandChanges body in
// txn, stamping every written object with Version = index, and returns
// the events to publish once txn commits. On error txn holds a partial
// result and must be aborted.
func applyChanges(txn *memdb.Txn, body json.RawMessage, index uint64) ([]Event, error) {
	var b changesBody
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, fmt.Errorf("decode changes: %w", err)
	}
	events := make([]Event, 0, len(b.Changes))
	base := make(map[string]uint64)
	for _, ch := range b.Changes {
		ev, err := applyChange(txn, ch, index, base)
		if err != nil {
			return nil, fmt.Errorf("%s %w", ch.Op, err)
		}
		events = append(events, ev)
	}
	return events, nil
}

// decodeChange checks a change's form, without the state, and decodes its
// object (nil for a delete that carries none).
func decodeChange(ch change) (*kind, any, error) {
	k := kinds[ch.Kind]
	if k == nil {
		return nil, nil, fmt.Errorf("%s %s: unknown kind %q: %w", ch.Kind, ch.ID, ch.Kind, errNewer)
	}
	switch ch.Op {
	case opCreate, opUpdate, opDelete:
	default:
		return nil, nil, fmt.Errorf("%s %s: unknown operation %q: %w", k.name, ch.ID, ch.Op, errNewer)
	}
	var obj any
	if len(ch.Object) > 0 && string(ch.Object) != "null" {
		var err error
		if obj, err = k.decode(ch.Object); err != nil {
			return nil, nil, fmt.Errorf("%s %s: decode object: %w", k.name, ch.ID, err)
		}
		if id := k.id(obj); id != ch.ID {
			return nil, nil, fmt.Errorf("%s %s: object has id %q", k.name, ch.ID, id)
		}
	} else if ch.Op != opDelete {
		return nil, nil, fmt.Errorf("%s %s: no object", k.name, ch.ID)
	}
	if ch.Op == opCreate {
		if err := validID(k, ch.ID); err != nil {
			return nil, nil, err
		}
	}
	return k, obj, nil
}

// validateCommand checks that cmd is a command Update could have made: a
// CommandChanges of a version this code knows, whose changes are well
// formed. Whether they apply to the state is checked when they apply.
func validateCommand(cmd []byte) error {
	var c Command
	if err := json.Unmarshal(cmd, &c); err != nil {
		return fmt.Errorf("decode command: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	if c.Type != CommandChanges || c.Version < 1 || c.Version > changesVersion {
		return fmt.Errorf("command %q version %d is not one this manager proposes (%q up to version %d): %w",
			c.Type, c.Version, CommandChanges, changesVersion, errdefs.ErrInvalidArgument)
	}
	var b changesBody
	if err := json.Unmarshal(c.Body, &b); err != nil {
		return fmt.Errorf("decode changes: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	for _, ch := range b.Changes {
		if _, _, err := decodeChange(ch); err != nil {
			return fmt.Errorf("%s %v: %w", ch.Op, err, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

func applyChange(txn *memdb.Txn, ch change, index uint64, base map[string]uint64) (Event, error) {
	k, obj, err := decodeChange(ch)
	if err != nil {
		return Event{}, err
	}
	old, err := checkChange(txn, k, ch.Op, ch.ID, obj, base)
	if err != nil {
		return Event{}, err
	}
	key := k.name + "/" + ch.ID
	ev := Event{Index: index}
	switch ch.Op {
	case opCreate:
		base[key] = 0
		ev.Action = ActionCreate
		k.meta(obj).Version = index
		if err := txn.Insert(k.table, obj); err != nil {
			return Event{}, fmt.Errorf("%s %s: %w", k.name, ch.ID, err)
		}
		k.event(&ev, obj, nil)
	case opUpdate:
		if _, ok := base[key]; !ok {
			base[key] = k.meta(old).Version
		}
		ev.Action = ActionUpdate
		k.meta(obj).Version = index
		if err := txn.Insert(k.table, obj); err != nil {
			return Event{}, fmt.Errorf("%s %s: %w", k.name, ch.ID, err)
		}
		k.event(&ev, obj, old)
	case opDelete:
		if _, ok := base[key]; !ok {
			base[key] = k.meta(old).Version
		}
		ev.Action = ActionDelete
		if err := txn.Delete(k.table, old); err != nil {
			return Event{}, fmt.Errorf("%s %s: %w", k.name, ch.ID, err)
		}
		k.event(&ev, old, nil)
	}
	return ev, nil
}
