package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	memdb "github.com/hashicorp/go-memdb"
	"github.com/hashicorp/raft"
)

// fsm is the Raft finite-state machine: it applies committed commands to
// the memdb state and publishes their events.
//
// hashicorp/raft calls Apply, Snapshot and Restore from one goroutine, never
// concurrently. Apply is deterministic: it reads only the command and the
// state, never a clock. Readers (View, ViewAndWatch, the scratch state of
// Update) run concurrently with it.
type fsm struct {
	logger *slog.Logger

	// mu guards db, index, applied, subs and closed. Apply and Restore
	// hold it while they commit and publish, so that a reader that takes
	// the state and subscribes under it sees each change either in the
	// state or as an event, never both or neither.
	mu    sync.RWMutex
	db    *memdb.MemDB
	index uint64
	// applied is closed, and replaced, each time index moves: WaitApplied
	// waits on it.
	applied chan struct{}
	subs    map[*subscriber]struct{}
	closed  bool
}

var _ raft.FSM = (*fsm)(nil)

func newFSM(logger *slog.Logger) *fsm {
	return &fsm{logger: logger, db: newDB(), applied: make(chan struct{}), subs: make(map[*subscriber]struct{})}
}

// Apply applies one committed log entry. Its response is an error when the
// command failed (a conflict, an unknown command), nil otherwise; a failed
// command changes nothing.
func (f *fsm) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.signalLocked()
	if err := f.applyLocked(l.Index, l.Data); err != nil {
		return err
	}
	return nil
}

// applyLocal applies a command at the next index, as NewMemory's stores do
// without Raft.
func (f *fsm) applyLocal(data []byte) error {
	_, err := f.applyNext(data)
	return err
}

// applyNext is applyLocal returning the index the command applied at.
func (f *fsm) applyNext(data []byte) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.signalLocked()
	index := f.index + 1
	return index, f.applyLocked(index, data)
}

// signalLocked wakes the waiters of the applied index. f.mu must be held
// for writing.
func (f *fsm) signalLocked() {
	close(f.applied)
	f.applied = make(chan struct{})
}

// appliedIndex returns the index the state reflects and a channel closed
// when it next moves.
func (f *fsm) appliedIndex() (uint64, <-chan struct{}) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.index, f.applied
}

func (f *fsm) applyLocked(index uint64, data []byte) error {
	// The entry is applied whatever its outcome: a failed command is still
	// part of the log.
	f.index = index
	var cmd Command
	if err := json.Unmarshal(data, &cmd); err != nil {
		err = fmt.Errorf("decode command at index %d: %w", index, err)
		f.logger.Error("raft log entry is not a command", "index", index, "error", err)
		return err
	}
	switch {
	case cmd.Type == CommandChanges && cmd.Version >= 1 && cmd.Version <= changesVersion:
	case cmd.Optional:
		f.logger.Warn("skipping an optional command this hive does not know",
			"index", index, "command_type", cmd.Type, "command_version", cmd.Version)
		return nil
	default:
		err := fmt.Errorf("command %q version %d at index %d is not known to this hive: %w",
			cmd.Type, cmd.Version, index, errNewer)
		f.logger.Error("cannot apply a command", "index", index,
			"command_type", cmd.Type, "command_version", cmd.Version, "error", err)
		return err
	}

	txn := f.db.Txn(true)
	events, err := applyChanges(txn, cmd.Body, index)
	if err != nil {
		txn.Abort()
		if errors.Is(err, errNewer) {
			f.logger.Error("cannot apply a command", "index", index, "error", err)
		} else {
			f.logger.Debug("command rejected", "index", index, "error", err)
		}
		return err
	}
	txn.Commit()
	for _, ev := range events {
		f.publishLocked(ev)
	}
	return nil
}

// read returns a read transaction on the current state and its index.
func (f *fsm) read() readTx {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return readTx{txn: f.db.Txn(false), index: f.index}
}

// scratch returns a write transaction on a copy of the current state: what
// is written through it never reaches the state. The caller aborts it.
func (f *fsm) scratch() readTx {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return readTx{txn: f.db.Snapshot().Txn(true), index: f.index}
}

// Snapshot captures the current state; Persist writes it out. Taking it is
// cheap: a memdb read transaction is an immutable view.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{tx: f.read()}, nil
}

// Restore replaces the whole state with a snapshot written by Persist and
// publishes one ActionReset event.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	db, index, err := readSnapshot(rc)
	if err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.signalLocked()
	f.db = db
	f.index = index
	f.publishLocked(Event{Action: ActionReset, Index: index})
	return nil
}
