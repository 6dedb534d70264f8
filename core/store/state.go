package store

import (
	"encoding/binary"
	"fmt"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/hiveorch/hive/core/types"
)

// Tables and indexes of the memdb schema.
const (
	tableCluster  = "cluster"
	tableNodes    = "nodes"
	tableServices = "services"
	tableTasks    = "tasks"
	tableSecrets  = "secrets"
	tableConfigs  = "configs"
	tableNetworks = "networks"

	indexID        = "id"
	indexName      = "name"
	indexServiceID = "service_id"
	indexNodeID    = "node_id"
	indexSlot      = "slot"
)

// schema returns the memdb schema of the state. Every table has the unique
// id index memdb requires; the others are:
//
//	services.name        Spec.Name, unique (enforced by checkChange: memdb
//	                     does not reject duplicates of a unique index)
//	secrets.name         Spec.Name, unique likewise
//	configs.name         Spec.Name, unique likewise
//	networks.name        Spec.Name, unique likewise
//	tasks.service_id     ServiceID
//	tasks.node_id        NodeID, tasks without a node are left out
//	tasks.slot           (ServiceID, Slot)
func schema() *memdb.DBSchema {
	id := func(f func(any) string) *memdb.IndexSchema {
		return &memdb.IndexSchema{Name: indexID, Unique: true, Indexer: stringIndex(f)}
	}
	return &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		tableCluster: {
			Name:    tableCluster,
			Indexes: map[string]*memdb.IndexSchema{indexID: id(kindCluster.id)},
		},
		tableNodes: {
			Name:    tableNodes,
			Indexes: map[string]*memdb.IndexSchema{indexID: id(kindNode.id)},
		},
		tableServices: {
			Name: tableServices,
			Indexes: map[string]*memdb.IndexSchema{
				indexID: id(kindService.id),
				indexName: {
					Name: indexName, Unique: true, AllowMissing: true,
					Indexer: stringIndex(func(o any) string { return o.(*types.Service).Spec.Name }),
				},
			},
		},
		tableSecrets: {
			Name: tableSecrets,
			Indexes: map[string]*memdb.IndexSchema{
				indexID: id(kindSecret.id),
				indexName: {
					Name: indexName, Unique: true, AllowMissing: true,
					Indexer: stringIndex(func(o any) string { return o.(*types.Secret).Spec.Name }),
				},
			},
		},
		tableConfigs: {
			Name: tableConfigs,
			Indexes: map[string]*memdb.IndexSchema{
				indexID: id(kindConfig.id),
				indexName: {
					Name: indexName, Unique: true, AllowMissing: true,
					Indexer: stringIndex(func(o any) string { return o.(*types.Config).Spec.Name }),
				},
			},
		},
		tableNetworks: {
			Name: tableNetworks,
			Indexes: map[string]*memdb.IndexSchema{
				indexID: id(kindNetwork.id),
				indexName: {
					Name: indexName, Unique: true, AllowMissing: true,
					Indexer: stringIndex(func(o any) string { return o.(*types.Network).Spec.Name }),
				},
			},
		},
		tableTasks: {
			Name: tableTasks,
			Indexes: map[string]*memdb.IndexSchema{
				indexID: id(kindTask.id),
				indexServiceID: {
					Name: indexServiceID, AllowMissing: true,
					Indexer: stringIndex(func(o any) string { return o.(*types.Task).ServiceID }),
				},
				indexNodeID: {
					Name: indexNodeID, AllowMissing: true,
					Indexer: stringIndex(func(o any) string { return o.(*types.Task).NodeID }),
				},
				indexSlot: {Name: indexSlot, AllowMissing: true, Indexer: slotIndex{}},
			},
		},
	}}
}

// newDB returns an empty state database.
func newDB() *memdb.MemDB {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		// The schema is a constant of this package: an error is a bug.
		panic(fmt.Sprintf("store: invalid memdb schema: %v", err))
	}
	return db
}

// stringIndex indexes the string a function extracts from an object; an
// object for which it returns "" is left out of the index. Keys end with a
// NUL byte so that a lookup of "ab" does not match "abc" (memdb looks keys
// up by prefix).
type stringIndex func(obj any) string

// FromObject implements memdb.SingleIndexer.
func (f stringIndex) FromObject(obj any) (bool, []byte, error) {
	v := f(obj)
	if v == "" {
		return false, nil, nil
	}
	return true, append([]byte(v), 0), nil
}

// FromArgs implements memdb.Indexer.
func (f stringIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("want 1 argument, got %d", len(args))
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("argument is a %T, want a string", args[0])
	}
	return append([]byte(s), 0), nil
}

// slotIndex indexes tasks by (ServiceID, Slot).
type slotIndex struct{}

func slotKey(serviceID string, slot uint64) []byte {
	b := make([]byte, 0, len(serviceID)+9)
	b = append(b, serviceID...)
	b = append(b, 0)
	return binary.BigEndian.AppendUint64(b, slot)
}

// FromObject implements memdb.SingleIndexer.
func (slotIndex) FromObject(obj any) (bool, []byte, error) {
	t := obj.(*types.Task)
	if t.ServiceID == "" {
		return false, nil, nil
	}
	return true, slotKey(t.ServiceID, t.Slot), nil
}

// FromArgs implements memdb.Indexer: (serviceID string, slot uint64).
func (slotIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("want 2 arguments, got %d", len(args))
	}
	id, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("argument 0 is a %T, want a string", args[0])
	}
	slot, ok := args[1].(uint64)
	if !ok {
		return nil, fmt.Errorf("argument 1 is a %T, want a uint64", args[1])
	}
	return slotKey(id, slot), nil
}

// readTx is a ReadTx over a memdb transaction. The transaction may be a
// write transaction (Tx reads its own writes through it).
type readTx struct {
	txn   *memdb.Txn
	index uint64
}

var _ ReadTx = readTx{}

func (r readTx) Index() uint64 { return r.index }

func (r readTx) Cluster() *types.Cluster {
	return first[*types.Cluster](r.txn, tableCluster, indexID, types.ClusterID)
}

func (r readTx) Node(id string) *types.Node {
	return first[*types.Node](r.txn, tableNodes, indexID, id)
}

func (r readTx) Nodes() []*types.Node {
	return all[*types.Node](r.txn, tableNodes, indexID)
}

func (r readTx) Service(id string) *types.Service {
	return first[*types.Service](r.txn, tableServices, indexID, id)
}

func (r readTx) ServiceByName(name string) *types.Service {
	return first[*types.Service](r.txn, tableServices, indexName, name)
}

func (r readTx) Services() []*types.Service {
	return all[*types.Service](r.txn, tableServices, indexID)
}

func (r readTx) Task(id string) *types.Task {
	return first[*types.Task](r.txn, tableTasks, indexID, id)
}

func (r readTx) Tasks() []*types.Task {
	return all[*types.Task](r.txn, tableTasks, indexID)
}

func (r readTx) TasksByService(serviceID string) []*types.Task {
	return all[*types.Task](r.txn, tableTasks, indexServiceID, serviceID)
}

func (r readTx) TasksByNode(nodeID string) []*types.Task {
	return all[*types.Task](r.txn, tableTasks, indexNodeID, nodeID)
}

func (r readTx) TasksBySlot(serviceID string, slot uint64) []*types.Task {
	return all[*types.Task](r.txn, tableTasks, indexSlot, serviceID, slot)
}

func (r readTx) Secret(id string) *types.Secret {
	return first[*types.Secret](r.txn, tableSecrets, indexID, id)
}

func (r readTx) SecretByName(name string) *types.Secret {
	return first[*types.Secret](r.txn, tableSecrets, indexName, name)
}

func (r readTx) Secrets() []*types.Secret {
	return all[*types.Secret](r.txn, tableSecrets, indexID)
}

func (r readTx) Config(id string) *types.Config {
	return first[*types.Config](r.txn, tableConfigs, indexID, id)
}

func (r readTx) ConfigByName(name string) *types.Config {
	return first[*types.Config](r.txn, tableConfigs, indexName, name)
}

func (r readTx) Configs() []*types.Config {
	return all[*types.Config](r.txn, tableConfigs, indexID)
}

func (r readTx) Network(id string) *types.Network {
	return first[*types.Network](r.txn, tableNetworks, indexID, id)
}

func (r readTx) NetworkByName(name string) *types.Network {
	return first[*types.Network](r.txn, tableNetworks, indexName, name)
}

func (r readTx) Networks() []*types.Network {
	return all[*types.Network](r.txn, tableNetworks, indexID)
}

// first returns the first object of table whose index matches args, or the
// zero T. memdb fails only on a lookup that does not fit the schema, which
// is a bug of this package, so it panics then.
func first[T any](txn *memdb.Txn, table, index string, args ...any) T {
	obj, err := txn.First(table, index, args...)
	if err != nil {
		panic(fmt.Sprintf("store: read %s by %s: %v", table, index, err))
	}
	if obj == nil {
		var zero T
		return zero
	}
	return obj.(T)
}

// all returns the objects of table whose index matches args (every object
// for the id index without args), in index order.
func all[T any](txn *memdb.Txn, table, index string, args ...any) []T {
	it, err := txn.Get(table, index, args...)
	if err != nil {
		panic(fmt.Sprintf("store: read %s by %s: %v", table, index, err))
	}
	var out []T
	for obj := it.Next(); obj != nil; obj = it.Next() {
		out = append(out, obj.(T))
	}
	return out
}
