package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/hiveorch/hive/plugins/sdk"
)

// volumeNameRE is what a named volume may be called (Docker's rule).
var volumeNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// volume returns the host directory of the named volume, creating it on
// first use: root/volumes/NAME/_data, as Docker lays out its local
// volumes. A new volume is empty (the image's files at the mount point
// are not copied into it).
func (e *engine) volume(name string) (string, error) {
	if !volumeNameRE.MatchString(name) {
		return "", fmt.Errorf("volume name %q: want at least two letters, digits, '_', '.' or '-', starting with a letter or digit: %w", name, sdk.ErrInvalidArgument)
	}
	dir := filepath.Join(e.volumesDir(), name, "_data")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create volume %s: %w", name, err)
	}
	return dir, nil
}

// RemoveVolume deletes a named volume and its data. The Runtime interface
// has no call for it; tests and operators use it (or remove the
// directory under root/volumes). A missing volume is not an error.
func (r *Runtime) RemoveVolume(ctx context.Context, name string) error {
	if !volumeNameRE.MatchString(name) {
		return fmt.Errorf("remove volume %q: not a volume name: %w", name, sdk.ErrInvalidArgument)
	}
	eng, err := r.engine()
	if err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(eng.volumesDir(), name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	return nil
}
