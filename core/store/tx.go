package store

import (
	"errors"

	"github.com/hiveorch/hive/core/types"
)

// Errors returned by transactions and Update. Callers test them with
// errors.Is; the API maps them to HTTP status codes.
var (
	// ErrNotFound: no object with that ID.
	ErrNotFound = errors.New("not found")
	// ErrExist: an object with that ID already exists.
	ErrExist = errors.New("already exists")
	// ErrNameConflict: a service, secret, config or network with that
	// name already exists.
	ErrNameConflict = errors.New("name conflicts with an existing object")
	// ErrSequenceConflict: the object changed since it was read (its
	// Version differs); read it again and retry.
	ErrSequenceConflict = errors.New("update out of sequence")
	// ErrNotLeader: this manager is not the Raft leader, so it cannot write.
	ErrNotLeader = errors.New("this manager is not the leader")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store closed")
)

// ReadTx reads a consistent snapshot of the state. Objects it returns are
// shared: copy one (its Copy method) before changing it.
type ReadTx interface {
	// Index is the Raft index the snapshot reflects.
	Index() uint64

	Cluster() *types.Cluster

	Node(id string) *types.Node
	Nodes() []*types.Node

	Service(id string) *types.Service
	ServiceByName(name string) *types.Service
	Services() []*types.Service

	Task(id string) *types.Task
	Tasks() []*types.Task
	TasksByService(serviceID string) []*types.Task
	TasksByNode(nodeID string) []*types.Task
	// TasksBySlot returns a replicated service's tasks in one slot.
	TasksBySlot(serviceID string, slot uint64) []*types.Task

	// Secrets hold their values sealed (Secret.Sealed), never in
	// plaintext.
	Secret(id string) *types.Secret
	SecretByName(name string) *types.Secret
	Secrets() []*types.Secret

	Config(id string) *types.Config
	ConfigByName(name string) *types.Config
	Configs() []*types.Config

	Network(id string) *types.Network
	NetworkByName(name string) *types.Network
	Networks() []*types.Network
}

// Tx is a read-write transaction: the changes made through it are proposed
// together as one Raft command when the function passed to Update returns
// nil, and either all apply or none do. Reads through a Tx see its own
// writes.
//
// Create sets Meta.CreatedAt and UpdatedAt from the store's clock; Update
// sets UpdatedAt. Update and Delete check the object's Meta.Version against
// the stored one and fail with ErrSequenceConflict when they differ, both
// when called and again when the command applies.
type Tx interface {
	ReadTx

	CreateCluster(c *types.Cluster) error
	UpdateCluster(c *types.Cluster) error

	CreateNode(n *types.Node) error
	UpdateNode(n *types.Node) error
	DeleteNode(id string) error

	// CreateService fails with ErrNameConflict when the name is taken.
	CreateService(s *types.Service) error
	UpdateService(s *types.Service) error
	DeleteService(id string) error

	CreateTask(t *types.Task) error
	UpdateTask(t *types.Task) error
	DeleteTask(id string) error

	// CreateSecret fails with ErrNameConflict when the name is taken. The
	// secret's value must already be sealed: whatever it holds goes into
	// the Raft log.
	CreateSecret(s *types.Secret) error
	UpdateSecret(s *types.Secret) error
	DeleteSecret(id string) error

	// CreateConfig fails with ErrNameConflict when the name is taken.
	CreateConfig(c *types.Config) error
	UpdateConfig(c *types.Config) error
	DeleteConfig(id string) error

	// CreateNetwork fails with ErrNameConflict when the name is taken,
	// and with an errdefs.ErrConflict error when another network has an
	// overlapping subnet or the same VXLAN ID (UpdateNetwork likewise).
	CreateNetwork(n *types.Network) error
	UpdateNetwork(n *types.Network) error
	DeleteNetwork(id string) error
}

// Action is what happened to an object.
type Action int

// Actions.
const (
	ActionCreate Action = iota + 1
	ActionUpdate
	ActionDelete
	// ActionReset: the whole state was replaced (a snapshot was restored);
	// every subscriber must re-read everything.
	ActionReset
)

func (a Action) String() string {
	switch a {
	case ActionCreate:
		return "create"
	case ActionUpdate:
		return "update"
	case ActionDelete:
		return "delete"
	case ActionReset:
		return "reset"
	}
	return "unknown"
}

// Event reports one change applied to the state. Exactly one of the object
// fields is set (none for ActionReset): the new value, or for a delete the
// last value. Old is the previous value on update.
type Event struct {
	Action Action
	// Index is the Raft index of the command that made the change.
	Index   uint64
	Cluster *types.Cluster
	Node    *types.Node
	Service *types.Service
	Task    *types.Task
	Secret  *types.Secret
	Config  *types.Config
	Network *types.Network
	// OldTask, OldService, OldNode, OldSecret, OldConfig, OldNetwork and
	// OldCluster are the values before an update.
	OldTask    *types.Task
	OldService *types.Service
	OldNode    *types.Node
	OldSecret  *types.Secret
	OldConfig  *types.Config
	OldNetwork *types.Network
	OldCluster *types.Cluster
}
