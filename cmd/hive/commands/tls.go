package commands

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hiveorch/hive/core/api/client"
)

// tlsDir resolves the client certificate directory: --tls-dir, then
// HIVE_TLS_DIR, then ~/.config/hive/tls.
func (c *cli) tlsDir() (string, error) {
	dir := c.tlsDirFlag
	if dir == "" {
		dir = c.getenv("HIVE_TLS_DIR")
	}
	if dir != "" {
		return expandHome(dir, c.home)
	}
	home, err := c.home()
	if err != nil {
		return "", fmt.Errorf("find the client certificate directory: %w; pass --tls-dir DIR", err)
	}
	return filepath.Join(home, ".config", "hive", "tls"), nil
}

// home returns the user's home directory from the CLI's environment.
func (c *cli) home() (string, error) {
	if h := c.getenv("HOME"); h != "" {
		return h, nil
	}
	return os.UserHomeDir()
}

// expandHome expands a leading ~/ and makes p absolute.
func expandHome(p string, home func() (string, error)) (string, error) {
	if p == "~" || strings.HasPrefix(p, "~/") {
		h, err := home()
		if err != nil {
			return "", fmt.Errorf("expand %s: %w; write the full path", p, err)
		}
		p = filepath.Join(h, strings.TrimPrefix(p, "~"))
	}
	return filepath.Abs(p)
}

// clientOptions returns the client options for host: a tcp:// host is a
// manager's cluster port, reached with TLS and the client certificate in
// the TLS directory.
func (c *cli) clientOptions(host string) ([]client.Option, error) {
	if !strings.HasPrefix(host, "tcp://") {
		return nil, nil
	}
	dir, err := c.tlsDir()
	if err != nil {
		return nil, err
	}
	cfg, err := client.LoadTLS(dir)
	if err != nil {
		return nil, err
	}
	return []client.Option{client.WithTLS(cfg)}, nil
}
