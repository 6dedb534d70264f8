package store

import (
	"fmt"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

// writeTx is the Tx Update hands to its function. It writes to a scratch
// copy of the state (so that reads see its own writes) and records every
// change in order; Update encodes the record as one command. It checks each
// change as the FSM will, so that most conflicts surface at the call that
// causes them. A writeTx is valid only while the function runs.
//
// Objects it stores are copies of the caller's: the caller may go on
// changing what it passed in. Written objects keep the version they were
// read at until the command applies and stamps them with its index.
type writeTx struct {
	readTx
	clock   clock.Clock
	changes []pending
}

var _ Tx = (*writeTx)(nil)

func (tx *writeTx) CreateCluster(c *types.Cluster) error {
	if c == nil {
		return nilObject(opCreate, kindCluster)
	}
	if c.ID == "" {
		c.ID = types.ClusterID
	}
	return tx.create(kindCluster, c)
}

func (tx *writeTx) UpdateCluster(c *types.Cluster) error {
	if c == nil {
		return nilObject(opUpdate, kindCluster)
	}
	return tx.update(kindCluster, c)
}

func (tx *writeTx) CreateNode(n *types.Node) error {
	if n == nil {
		return nilObject(opCreate, kindNode)
	}
	return tx.create(kindNode, n)
}

func (tx *writeTx) UpdateNode(n *types.Node) error {
	if n == nil {
		return nilObject(opUpdate, kindNode)
	}
	return tx.update(kindNode, n)
}

func (tx *writeTx) DeleteNode(id string) error { return tx.delete(kindNode, id) }

func (tx *writeTx) CreateService(s *types.Service) error {
	if s == nil {
		return nilObject(opCreate, kindService)
	}
	return tx.create(kindService, s)
}

func (tx *writeTx) UpdateService(s *types.Service) error {
	if s == nil {
		return nilObject(opUpdate, kindService)
	}
	return tx.update(kindService, s)
}

func (tx *writeTx) DeleteService(id string) error { return tx.delete(kindService, id) }

func (tx *writeTx) CreateTask(t *types.Task) error {
	if t == nil {
		return nilObject(opCreate, kindTask)
	}
	return tx.create(kindTask, t)
}

func (tx *writeTx) UpdateTask(t *types.Task) error {
	if t == nil {
		return nilObject(opUpdate, kindTask)
	}
	return tx.update(kindTask, t)
}

func (tx *writeTx) DeleteTask(id string) error { return tx.delete(kindTask, id) }

func (tx *writeTx) CreateSecret(s *types.Secret) error {
	if s == nil {
		return nilObject(opCreate, kindSecret)
	}
	return tx.create(kindSecret, s)
}

func (tx *writeTx) UpdateSecret(s *types.Secret) error {
	if s == nil {
		return nilObject(opUpdate, kindSecret)
	}
	return tx.update(kindSecret, s)
}

func (tx *writeTx) DeleteSecret(id string) error { return tx.delete(kindSecret, id) }

func (tx *writeTx) CreateConfig(c *types.Config) error {
	if c == nil {
		return nilObject(opCreate, kindConfig)
	}
	return tx.create(kindConfig, c)
}

func (tx *writeTx) UpdateConfig(c *types.Config) error {
	if c == nil {
		return nilObject(opUpdate, kindConfig)
	}
	return tx.update(kindConfig, c)
}

func (tx *writeTx) DeleteConfig(id string) error { return tx.delete(kindConfig, id) }

func (tx *writeTx) CreateNetwork(n *types.Network) error {
	if n == nil {
		return nilObject(opCreate, kindNetwork)
	}
	return tx.create(kindNetwork, n)
}

func (tx *writeTx) UpdateNetwork(n *types.Network) error {
	if n == nil {
		return nilObject(opUpdate, kindNetwork)
	}
	return tx.update(kindNetwork, n)
}

func (tx *writeTx) DeleteNetwork(id string) error { return tx.delete(kindNetwork, id) }

func nilObject(o op, k *kind) error {
	return fmt.Errorf("%s %s: nil object: %w", o, k.name, errdefs.ErrInvalidArgument)
}

// create checks and records the creation of obj, setting its CreatedAt and
// UpdatedAt.
func (tx *writeTx) create(k *kind, obj any) error {
	id := k.id(obj)
	if err := validID(k, id); err != nil {
		return fmt.Errorf("create %w", err)
	}
	if _, err := checkChange(tx.txn, k, opCreate, id, obj, nil); err != nil {
		return fmt.Errorf("create %w", err)
	}
	now := tx.clock.Now()
	m := k.meta(obj)
	m.CreatedAt, m.UpdatedAt = now, now
	stored := k.clone(obj)
	k.meta(stored).Version = 0
	return tx.write(opCreate, k, id, stored)
}

// update checks and records the update of obj, setting its UpdatedAt and
// keeping the stored CreatedAt.
func (tx *writeTx) update(k *kind, obj any) error {
	id := k.id(obj)
	old, err := checkChange(tx.txn, k, opUpdate, id, obj, nil)
	if err != nil {
		return fmt.Errorf("update %w", err)
	}
	if old == obj {
		return fmt.Errorf("update %s %s: the object is the stored one, which is shared: Copy it before changing it: %w",
			k.name, id, errdefs.ErrInvalidArgument)
	}
	m := k.meta(obj)
	m.CreatedAt = k.meta(old).CreatedAt
	m.UpdatedAt = tx.clock.Now()
	return tx.write(opUpdate, k, id, k.clone(obj))
}

// delete checks and records the deletion of the object id. The change
// carries the object as read, so the FSM checks it did not change since.
func (tx *writeTx) delete(k *kind, id string) error {
	old, err := checkChange(tx.txn, k, opDelete, id, nil, nil)
	if err != nil {
		return fmt.Errorf("delete %w", err)
	}
	if err := tx.txn.Delete(k.table, old); err != nil {
		return fmt.Errorf("delete %s %s: %w", k.name, id, err)
	}
	tx.changes = append(tx.changes, pending{op: opDelete, kind: k, id: id, obj: old})
	return nil
}

// write stores obj in the scratch state and records the change.
func (tx *writeTx) write(o op, k *kind, id string, obj any) error {
	if err := tx.txn.Insert(k.table, obj); err != nil {
		return fmt.Errorf("%s %s %s: %w", o, k.name, id, err)
	}
	tx.changes = append(tx.changes, pending{op: o, kind: k, id: id, obj: obj})
	return nil
}
