package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/hiveorch/hive/core/identity"
	"github.com/hiveorch/hive/core/types"
)

// nodeState is what a node keeps of itself in its data directory, next to
// its Raft files and certificates.
type nodeState struct {
	NodeID string         `json:"node_id"`
	Role   types.NodeRole `json:"role"`
	// Managers are the managers' cluster addresses last known, where the
	// node's session starts after a restart.
	Managers []string `json:"managers,omitempty"`
}

const (
	stateFile = "node.json"
	lockFile  = "hive.lock"
	certDir   = "certs"
)

// loadOrCreateState returns the node's identity, creating it on a new data
// directory. fresh reports whether it was created now.
func loadOrCreateState(dataDir string) (st nodeState, fresh bool, err error) {
	path := filepath.Join(dataDir, stateFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &st); err != nil || st.NodeID == "" {
			return st, false, fmt.Errorf("read %s: the file is damaged (%v); move the data directory aside to start a new cluster", path, err)
		}
		return st, false, nil
	case !errors.Is(err, os.ErrNotExist):
		return st, false, fmt.Errorf("read node state: %w", err)
	}
	st = nodeState{NodeID: identity.NewID(), Role: types.RoleManager}
	if err := writeState(dataDir, st); err != nil {
		return st, false, err
	}
	return st, true, nil
}

func writeState(dataDir string, st nodeState) error {
	path := filepath.Join(dataDir, stateFile)
	b, _ := json.MarshalIndent(st, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write node state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write node state: %w", err)
	}
	return nil
}

// Initialized reports whether dataDir already holds a node.
func Initialized(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, stateFile))
	return err == nil
}

// InitJoined records a node that has just joined a cluster, so that
// `hive up` on dataDir runs it in its role. Its certificates are saved
// beside, in CertDir(dataDir).
func InitJoined(dataDir, nodeID string, role types.NodeRole, managers []string) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	return writeState(dataDir, nodeState{NodeID: nodeID, Role: role, Managers: managers})
}

// StatePath is the file that records the node.
func StatePath(dataDir string) string { return filepath.Join(dataDir, stateFile) }

// CertDir is where a node keeps its certificates.
func CertDir(dataDir string) string { return filepath.Join(dataDir, certDir) }

// lockDataDir takes an exclusive lock on the data directory so that two
// daemons never share one. The lock goes with the process, even on kill -9.
func lockDataDir(dataDir string) (release func(), err error) {
	path := filepath.Join(dataDir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		pid := strings.TrimSpace(string(b))
		if pid != "" {
			pid = " (pid " + pid + ")"
		}
		return nil, fmt.Errorf("another hive is already running with data directory %s%s: stop it with 'hive down', or use another --data-dir", dataDir, pid)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() { f.Close() }, nil
}
