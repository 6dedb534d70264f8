package client

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/transport"
)

// Files of a client certificate directory, as `hive cluster client-cert`
// writes them.
const (
	CACertFile     = "ca.crt"
	ClientCertFile = "client.crt"
	ClientKeyFile  = "client.key"
)

// LoadTLS reads a client certificate directory (ca.crt, client.crt,
// client.key) and returns the TLS configuration for a tcp:// endpoint: the
// cluster's API on a manager's cluster port (ALPN http/1.1, server name
// ca.ServerName, the server verified against ca.crt). A missing file is an
// error that says how to get one.
func LoadTLS(dir string) (*tls.Config, error) {
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no client certificate for a tcp:// host: %s does not exist: on a manager, run 'hive cluster client-cert --out %s' (or copy its files here), or point --tls-dir / HIVE_TLS_DIR at the directory holding ca.crt, client.crt and client.key", filepath.Join(dir, name), dir)
		}
		if err != nil {
			return nil, fmt.Errorf("read client certificate: %w", err)
		}
		return b, nil
	}
	caPEM, err := read(CACertFile)
	if err != nil {
		return nil, err
	}
	certPEM, err := read(ClientCertFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := read(ClientKeyFile)
	if err != nil {
		return nil, err
	}
	root, err := ca.ParseRoot(caPEM, nil)
	if err != nil {
		return nil, fmt.Errorf("client certificate in %s: %w", dir, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("client certificate in %s: %w: issue a new one with 'hive cluster client-cert'", dir, err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		RootCAs:      root.Pool(),
		ServerName:   ca.ServerName,
		NextProtos:   []string{transport.ProtoAPI},
	}, nil
}
