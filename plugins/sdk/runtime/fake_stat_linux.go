package runtime

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// hostStat is the test image's stat line for name, a file of a bind
// mount found at host on this machine.
func hostStat(name, host string) string {
	var st syscall.Stat_t
	if err := syscall.Stat(host, &st); err != nil {
		return fmt.Sprintf("%s error=%q", name, errno(err))
	}
	var sfs syscall.Statfs_t
	if err := syscall.Statfs(host, &sfs); err != nil {
		return fmt.Sprintf("%s error=%q", name, errno(err))
	}
	head := fmt.Sprintf("%s uid=%d gid=%d mode=%04o fs=%s", name, st.Uid, st.Gid, st.Mode&0o7777, fsTypeName(sfs.Type))
	b, err := os.ReadFile(host)
	if err != nil {
		return fmt.Sprintf("%s error=%q", head, errno(err))
	}
	return fmt.Sprintf("%s content=%q", head, b)
}

// errno is err's reason without the host path.
func errno(err error) string {
	var en syscall.Errno
	if errors.As(err, &en) {
		return en.Error()
	}
	return unwrapPathErr(err).Error()
}

// fsTypeName names the filesystems a test may meet, as the test image does.
func fsTypeName(magic int64) string {
	switch uint32(magic) {
	case 0x01021994:
		return "tmpfs"
	case 0x794c7630:
		return "overlay"
	case 0xef53:
		return "ext4"
	case 0x58465342:
		return "xfs"
	case 0x9123683e:
		return "btrfs"
	}
	return fmt.Sprintf("0x%x", magic)
}
