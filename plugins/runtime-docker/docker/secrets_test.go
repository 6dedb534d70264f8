package docker

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// tmpfsFiles mounts a tmpfs (as the agent does for a task's secrets and
// configs) holding secrets/NAME ("v", 1000:1000, 0400) and config ("cfg",
// 0444), and returns the mounts that show them read-only in a container.
func tmpfsFiles(t *testing.T) []runtime.Mount {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0700,size=65536"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	secrets := filepath.Join(dir, "secrets")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(secrets, 0o755))
	must(os.WriteFile(filepath.Join(secrets, "NAME"), []byte("v"), 0o400))
	must(os.Chown(filepath.Join(secrets, "NAME"), 1000, 1000))
	must(os.WriteFile(filepath.Join(dir, "config"), []byte("cfg"), 0o444))
	return []runtime.Mount{
		{Type: runtime.MountBind, Source: secrets, Target: "/run/secrets", ReadOnly: true},
		{Type: runtime.MountBind, Source: filepath.Join(dir, "config"), Target: "/etc/app.conf", ReadOnly: true},
	}
}

// TestReadOnlyBindsOfFilesOnATmpfs: a directory and a single file bound
// read-only from a host tmpfs show in the container on a tmpfs, with
// their owner, mode and content, and cannot be written.
func TestReadOnlyBindsOfFilesOnATmpfs(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	mounts := tmpfsFiles(t)
	s := spec(t, "stat", "/run/secrets/NAME", "/etc/app.conf")
	s.Mounts = mounts
	id := run(t, r, s)
	waitForOutput(t, r, id, `/run/secrets/NAME uid=1000 gid=1000 mode=0400 fs=tmpfs content="v"`)
	waitForOutput(t, r, id, `/etc/app.conf uid=0 gid=0 mode=0444 fs=tmpfs content="cfg"`)
	for _, p := range []string{"/run/secrets/NAME", "/etc/app.conf", "/run/secrets/new"} {
		w := spec(t, "write", p, "x")
		w.Mounts = mounts
		id := run(t, r, w)
		waitForOutput(t, r, id, "read-only file system")
	}
}
