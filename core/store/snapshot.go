package store

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	memdb "github.com/hashicorp/go-memdb"
	"github.com/hashicorp/raft"

	"github.com/hiveorch/hive/core/types"
)

// snapshotVersion is the format version of the snapshot document this code
// writes and the newest it reads.
const snapshotVersion = 1

// snapshotDoc is the JSON document a snapshot holds: the whole state and the
// Raft index it reflects.
type snapshotDoc struct {
	Version  int              `json:"version"`
	Index    uint64           `json:"index"`
	Cluster  *types.Cluster   `json:"cluster"`
	Nodes    []*types.Node    `json:"nodes"`
	Services []*types.Service `json:"services"`
	Tasks    []*types.Task    `json:"tasks"`
	// Secrets hold their values sealed, as in the state.
	Secrets  []*types.Secret  `json:"secrets,omitempty"`
	Configs  []*types.Config  `json:"configs,omitempty"`
	Networks []*types.Network `json:"networks,omitempty"`
}

// fsmSnapshot is a point-in-time view of the state, written out by Persist
// while Apply goes on.
type fsmSnapshot struct {
	tx readTx
}

var _ raft.FSMSnapshot = (*fsmSnapshot)(nil)

// Persist writes the snapshot document to sink and closes it, or cancels
// it on error.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.write(sink); err != nil {
		return errors.Join(fmt.Errorf("persist snapshot: %w", err), sink.Cancel())
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("persist snapshot: close sink: %w", err)
	}
	return nil
}

func (s *fsmSnapshot) write(w io.Writer) error {
	doc := snapshotDoc{
		Version:  snapshotVersion,
		Index:    s.tx.Index(),
		Cluster:  s.tx.Cluster(),
		Nodes:    nonNil(s.tx.Nodes()),
		Services: nonNil(s.tx.Services()),
		Tasks:    nonNil(s.tx.Tasks()),
		Secrets:  s.tx.Secrets(),
		Configs:  s.tx.Configs(),
		Networks: s.tx.Networks(),
	}
	bw := bufio.NewWriter(w)
	if err := json.NewEncoder(bw).Encode(doc); err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	return bw.Flush()
}

// Release does nothing: the snapshot holds only an immutable view.
func (s *fsmSnapshot) Release() {}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// readSnapshot decodes a snapshot document into a new state database.
func readSnapshot(r io.Reader) (*memdb.MemDB, uint64, error) {
	var doc snapshotDoc
	if err := json.NewDecoder(bufio.NewReader(r)).Decode(&doc); err != nil {
		return nil, 0, fmt.Errorf("decode: %w", err)
	}
	if doc.Version < 1 || doc.Version > snapshotVersion {
		return nil, 0, fmt.Errorf("snapshot format version %d is not known to this hive (it reads up to %d): %w",
			doc.Version, snapshotVersion, errNewer)
	}
	db := newDB()
	txn := db.Txn(true)
	defer txn.Abort()
	insert := func(table string, obj any) error {
		if err := txn.Insert(table, obj); err != nil {
			return fmt.Errorf("load %s: %w", table, err)
		}
		return nil
	}
	if doc.Cluster != nil {
		if err := insert(tableCluster, doc.Cluster); err != nil {
			return nil, 0, err
		}
	}
	for _, n := range doc.Nodes {
		if err := insert(tableNodes, n); err != nil {
			return nil, 0, err
		}
	}
	for _, s := range doc.Services {
		if err := insert(tableServices, s); err != nil {
			return nil, 0, err
		}
	}
	for _, t := range doc.Tasks {
		if err := insert(tableTasks, t); err != nil {
			return nil, 0, err
		}
	}
	for _, s := range doc.Secrets {
		if err := insert(tableSecrets, s); err != nil {
			return nil, 0, err
		}
	}
	for _, c := range doc.Configs {
		if err := insert(tableConfigs, c); err != nil {
			return nil, 0, err
		}
	}
	for _, n := range doc.Networks {
		if err := insert(tableNetworks, n); err != nil {
			return nil, 0, err
		}
	}
	txn.Commit()
	return db, doc.Index, nil
}
