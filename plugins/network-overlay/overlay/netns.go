package overlay

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/network/nsthread"
)

// nsDir is where the networks' namespaces are bind-mounted, as `ip netns`
// does.
const nsDir = "/run/netns"

// Names inside a network's namespace.
const (
	bridgeName = "br0"
	vxlanName  = "vxlan0"
	maxIfName  = 15 // IFNAMSIZ - 1
	// maxNamePart bounds an ID in a namespace's name.
	maxNamePart = 64
)

// nsName is the name of the network's namespace on this node: the prefix,
// the node's ID and the network's. A namespace's name is a file's, not an
// interface's, so the IDs need not be cut short (and two IDs that begin
// alike do not meet).
func (c config) nsName(networkID string) string {
	return c.nsPrefix() + namePart(networkID)
}

// nsPrefix is what the names of this node's namespaces start with.
func (c config) nsPrefix() string {
	if c.nodeID != "" {
		return c.prefix + namePart(c.nodeID) + "-"
	}
	return c.prefix
}

// namePart is id, or a hash of it when it cannot be part of a file name.
func namePart(id string) string {
	if id != "" && len(id) <= maxNamePart && safeName(id) {
		return id
	}
	return "x" + hash(id)[:16]
}

// tmpVXLANName is the name a network's VXLAN device has in the underlay
// namespace between its creation and its move.
func (c config) tmpVXLANName(nsName string) string {
	return (c.prefix + "vx" + hash(nsName))[:maxIfName]
}

// vethName is the name of a task's veth in the network's namespace.
func vethName(taskID string) string { return ("vt" + hash(taskID))[:14] }

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// openNetns opens a network namespace by path, and checks it is one.
func openNetns(path string) (netns.NsHandle, error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return ns, fmt.Errorf("network namespace %s: %w", path, sdk.ErrNotFound)
		}
		return ns, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(ns), &st); err != nil || st.Type != unix.NSFS_MAGIC {
		ns.Close()
		// A file left where a namespace was unmounted.
		return netns.None(), fmt.Errorf("%s is no network namespace: %w", path, sdk.ErrNotFound)
	}
	return ns, nil
}

// netNS is a network namespace, open, with a netlink handle in it.
type netNS struct {
	path string
	ns   netns.NsHandle
	h    *netlink.Handle
}

func (n *netNS) close() { n.h.Close(); n.ns.Close() }

// openNS opens the namespace at path with a netlink handle in it.
func openNS(path string) (*netNS, error) {
	ns, err := openNetns(path)
	if err != nil {
		return nil, err
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("netlink in %s: %w", path, err)
	}
	return &netNS{path: path, ns: ns, h: h}, nil
}

// createNetns makes a new network namespace bind-mounted at nsDir/name, or
// does nothing (and returns false) when one is there.
func createNetns(name string) (bool, error) {
	path := filepath.Join(nsDir, name)
	if ns, err := openNetns(path); err == nil {
		ns.Close()
		return false, nil
	}
	if err := os.MkdirAll(nsDir, 0o755); err != nil {
		return false, fmt.Errorf("create %s: %w", nsDir, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o444)
	if err != nil {
		return false, fmt.Errorf("create %s: %w", path, err)
	}
	f.Close()
	err = nsthread.Run(func() error { return unix.Unshare(unix.CLONE_NEWNET) }, func() error {
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		return unix.Mount(self, path, "none", unix.MS_BIND, "")
	})
	if err != nil {
		_ = deleteNetns(name)
		return false, fmt.Errorf("create network namespace %s: %w", name, err)
	}
	return true, nil
}

// deleteNetns unmounts and removes nsDir/name; one that is not there is no
// error.
func deleteNetns(name string) error {
	path := filepath.Join(nsDir, name)
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount network namespace %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove network namespace %s: %w", path, err)
	}
	return nil
}

// notFound tells whether err is netlink's answer for a missing link.
func notFound(err error) bool {
	var lnf netlink.LinkNotFoundError
	return errors.As(err, &lnf) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT)
}
