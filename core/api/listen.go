package api

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"
)

// staleProbeTimeout bounds the dial ListenUnix makes to learn whether an
// existing socket still has a server behind it.
const staleProbeTimeout = time.Second

// ListenUnix listens on the unix socket at path for the API. It creates
// the parent directory (0700) if missing. A socket file left by a hive that
// died is removed; if something still answers on it, ListenUnix fails with
// "another hive is already listening on PATH" rather than steal it. The
// socket is made 0660 so that the owner's group may use the CLI. Closing
// the listener removes the socket file.
func ListenUnix(path string) (net.Listener, error) {
	if path == "" {
		return nil, errors.New("listen on unix socket: empty path: set host to unix:///path/to/hive.sock")
	}
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("listen on %s: create directory: %w", path, err)
		}
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("listen on %s: the path exists and is not a socket: move it away or choose another host", path)
		}
		conn, err := net.DialTimeout("unix", path, staleProbeTimeout)
		if err == nil {
			_ = conn.Close()
			return nil, fmt.Errorf("another hive is already listening on %s: stop it with 'hive down', or choose another host", path)
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("listen on %s: remove stale socket: %w", path, err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("listen on %s: set permissions: %w", path, err)
	}
	return l, nil
}
