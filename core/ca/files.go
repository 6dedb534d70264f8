package ca

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Files are the PEM contents of a node's certificate directory, in the
// layout Load reads: ca.crt, ca.key (managers only), node.crt, node.key.
type Files struct {
	CACert []byte
	// CAKey is set on managers only.
	CAKey []byte
	Cert  []byte
	Key   []byte
}

// Save writes the files that are set into dir (created 0700), each
// replaced atomically and readable by the owner only. The key is written
// before the certificate, so a renewal that keeps the node's key replaces
// only node.crt, in one rename. An unset field leaves its file alone; use
// RemoveCAKey when a node stops being a manager.
func Save(dir string, f Files) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create certificate directory: %w", err)
	}
	for _, w := range []struct {
		name string
		data []byte
	}{{rootCertFile, f.CACert}, {rootKeyFile, f.CAKey}, {nodeKeyFile, f.Key}, {nodeCertFile, f.Cert}} {
		if len(w.data) == 0 {
			continue
		}
		if err := writeFileAtomic(filepath.Join(dir, w.name), w.data); err != nil {
			return err
		}
	}
	return nil
}

// RemoveCAKey deletes the CA key from dir, as a node that is no longer a
// manager must. A missing key is not an error.
func RemoveCAKey(dir string) error {
	if err := os.Remove(filepath.Join(dir, rootKeyFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove CA key: %w", err)
	}
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
