package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// taskFiles puts the secrets and configs of each task in a tmpfs of its
// own, root/<task-id>, so that no value ever reaches a disk: secrets in
// its secrets/ directory, bound read-only at /run/secrets in the container,
// configs in configs/, each bound read-only at its target. Root should be
// under the node's runtime directory (/run/hive/<node-id>/secrets), never
// under the data directory.
//
// Methods are safe for concurrent use on different tasks; the runner of a
// task is the only caller for that task (the sweep takes only tasks that
// have no runner).
type taskFiles struct {
	root string
}

// dir is a task's tmpfs.
func (f *taskFiles) dir(taskID string) string { return filepath.Join(f.root, taskID) }

// page rounds tmpfs sizes: every file and directory takes at least one.
const page = 4096

// materialize mounts a fresh tmpfs for the task, writes its files with
// the owner and mode asked, and returns the mounts that show them to the
// container. A failure leaves nothing mounted.
func (f *taskFiles) materialize(taskID string, files []taskFile) (mounts []runtime.Mount, err error) {
	if f.root == "" {
		return nil, errors.New("this node has no directory for secrets and configs (no runtime directory configured)")
	}
	if err := f.release(taskID); err != nil {
		return nil, err
	}
	dir := f.dir(taskID)
	if err := os.MkdirAll(f.root, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", f.root, err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	size := 16 * page
	for _, tf := range files {
		size += (len(tf.data)+page-1)/page*page + 2*page
	}
	opts := "mode=0700,size=" + strconv.Itoa(size)
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, opts); err != nil {
		_ = os.Remove(dir)
		return nil, fmt.Errorf("mount a tmpfs at %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			_ = f.release(taskID)
		}
	}()
	secrets := filepath.Join(dir, "secrets")
	hasSecrets := false
	for i, tf := range files {
		var p string
		if tf.secret {
			if !hasSecrets {
				if err := os.Mkdir(secrets, 0o755); err != nil {
					return nil, fmt.Errorf("create %s: %w", secrets, err)
				}
				hasSecrets = true
			}
			p = filepath.Join(secrets, filepath.FromSlash(tf.Target))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return nil, fmt.Errorf("create the directory of secret file %s: %w", tf.Target, err)
			}
		} else {
			configs := filepath.Join(dir, "configs")
			if err := os.MkdirAll(configs, 0o755); err != nil {
				return nil, fmt.Errorf("create %s: %w", configs, err)
			}
			p = filepath.Join(configs, strconv.Itoa(i))
		}
		if err := writeFile(p, tf); err != nil {
			return nil, fmt.Errorf("write file for %s: %w", tf.Target, err)
		}
		if !tf.secret {
			mounts = append(mounts, runtime.Mount{Type: runtime.MountBind, Source: p, Target: tf.Target, ReadOnly: true})
		}
	}
	if hasSecrets {
		mounts = append([]runtime.Mount{{Type: runtime.MountBind, Source: secrets, Target: SecretsTarget, ReadOnly: true}}, mounts...)
	}
	return mounts, nil
}

// writeFile creates p with exactly tf's bytes, owner and mode.
func writeFile(p string, tf taskFile) error {
	fd, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = fd.Write(tf.data)
	if err == nil {
		err = fd.Chown(tf.UID, tf.GID)
	}
	if err == nil {
		// After chown, which clears set-ID bits.
		err = fd.Chmod(tf.Mode)
	}
	if cerr := fd.Close(); err == nil {
		err = cerr
	}
	return err
}

// release unmounts a task's tmpfs, which drops its files, and removes its
// directory. It does nothing when the task has none.
func (f *taskFiles) release(taskID string) error {
	if f.root == "" || taskID == "" {
		return nil
	}
	dir := f.dir(taskID)
	for {
		err := unix.Unmount(dir, unix.MNT_DETACH)
		if err == nil {
			continue // a tmpfs mounted twice over the same directory
		}
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			break // not a mount point (any more), or no directory
		}
		return fmt.Errorf("unmount %s: %w", dir, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}

// tasks lists the task IDs that have a directory under root.
func (f *taskFiles) tasks() ([]string, error) {
	if f.root == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(f.root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", f.root, err)
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}
