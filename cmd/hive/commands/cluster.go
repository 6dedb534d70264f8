package commands

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/api/client"
	"github.com/hiveorch/hive/core/ca"
)

func (c *cli) clusterCommand() *cobra.Command {
	return groupCommand("cluster", "Manage the cluster and remote access to it",
		"  hive cluster client-cert\n  hive cluster client-cert --name ci --out ./ci-tls\n  hive cluster update --autolock=true",
		c.clusterClientCertCommand(), c.clusterStatusCommand(), c.clusterUpdateCommand())
}

func (c *cli) clusterClientCertCommand() *cobra.Command {
	var name, out string
	cmd := &cobra.Command{
		Use:   "client-cert",
		Short: "Get a client certificate to manage the cluster from another host",
		Long: `Get a client certificate that lets the CLI manage the cluster from another
host, over a manager's cluster port: HIVE_HOST=tcp://ADDR:PORT. The private
key is generated here and never leaves this host; a manager signs the public
key. The files ca.crt, client.crt and client.key (the key readable by you
only) are written to --out, by default the directory the CLI reads them
from: --tls-dir, $HIVE_TLS_DIR, else ~/.config/hive/tls. The same
certificate is written there again as ca.pem, cert.pem and key.pem, the
names the docker CLI reads from DOCKER_CERT_PATH: with it the docker CLI
drives a manager that serves the Docker API over TCP (docker_api.listen;
'hive docker-env --tcp' prints DOCKER_HOST, DOCKER_TLS_VERIFY and
DOCKER_CERT_PATH).

A client certificate may call the API and nothing else; it lasts as long as
the cluster's node certificates (ca.cert_expiry, 90 days by default) and is
not renewed: run this command again to get a new one. Needs a manager.`,
		Example: `  hive cluster client-cert
  hive cluster client-cert --name ci --out ./ci-tls
  HIVE_HOST=tcp://10.0.0.1:4242 hive node ls
  DOCKER_HOST=tcp://10.0.0.1:2376 DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=~/.config/hive/tls docker node ls`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if name == "" {
				name = c.defaultClientName()
			}
			if err := ca.ValidateClientName(name); err != nil {
				return usageErrorf(cmd, "invalid --name: %v", err)
			}
			dir := out
			var err error
			if dir == "" {
				dir, err = c.tlsDir()
			} else {
				dir, err = expandHome(dir, c.home)
			}
			if err != nil {
				return err
			}
			key, err := ca.GenerateKey()
			if err != nil {
				return err
			}
			pub, err := ca.MarshalPublicKey(&key.PublicKey)
			if err != nil {
				return err
			}
			keyPEM, err := ca.MarshalKey(key)
			if err != nil {
				return err
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			cert, err := cl.IssueClientCert(cmd.Context(), api.ClientCertRequest{Name: name, PublicKeyPEM: string(pub)})
			if err != nil {
				return err
			}
			pair, err := tls.X509KeyPair([]byte(cert.CertPEM), keyPEM)
			if err != nil {
				return fmt.Errorf("the manager's certificate does not match the key made here: %w", err)
			}
			if err := writeClientCert(dir, []byte(cert.CACertPEM), []byte(cert.CertPEM), keyPEM); err != nil {
				return err
			}
			return c.printClientCertUsage(cmd, name, dir, cert.Addr, pair.Leaf.NotAfter.Format("2006-01-02"))
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "`NAME` in the certificate, shown in the managers' logs (default: $USER@hostname)")
	cmd.Flags().StringVar(&out, "out", "", "`DIR` to write ca.crt, client.crt and client.key (and ca.pem, cert.pem and key.pem for the docker CLI) to (default: the --tls-dir directory)")
	return cmd
}

// defaultClientName is user@host, keeping only the characters a client
// name may hold.
func (c *cli) defaultClientName() string {
	user := c.getenv("USER")
	if user == "" {
		user = "hive"
	}
	host, _ := os.Hostname()
	name := user
	if host != "" {
		name += "@" + strings.SplitN(host, ".", 2)[0]
	}
	name = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '@', r == '-':
			return r
		}
		return '-'
	}, name)
	if len(name) > 64 {
		name = name[:64]
	}
	if ca.ValidateClientName(name) != nil {
		return "client"
	}
	return name
}

// The names the docker CLI reads a client certificate under, from
// DOCKER_CERT_PATH.
const (
	dockerCACertFile = "ca.pem"
	dockerCertFile   = "cert.pem"
	dockerKeyFile    = "key.pem"
)

// writeClientCert writes the certificate under hive's names and the
// docker CLI's, each file replaced atomically: the certificates readable
// by all, the keys by the owner only.
func writeClientCert(dir string, caPEM, certPEM, keyPEM []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{client.ClientKeyFile, keyPEM, 0o600}, {client.CACertFile, caPEM, 0o644}, {client.ClientCertFile, certPEM, 0o644},
		{dockerKeyFile, keyPEM, 0o600}, {dockerCACertFile, caPEM, 0o644}, {dockerCertFile, certPEM, 0o644},
	} {
		path := filepath.Join(dir, f.name)
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, f.data, f.mode); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := os.Chmod(tmp, f.mode); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}

// printClientCertUsage says where the files are and how to use them.
func (c *cli) printClientCertUsage(cmd *cobra.Command, name, dir, addr, expires string) error {
	if addr == "" {
		addr = "MANAGER-ADDR:PORT"
	}
	env := ""
	if def, err := c.tlsDir(); err != nil || def != dir {
		env = "HIVE_TLS_DIR=" + dir + " "
	}
	_, err := fmt.Fprintf(cmd.OutOrStdout(), `Wrote a client certificate for %q to %s (ca.crt, client.crt, client.key,
and for the docker CLI ca.pem, cert.pem, key.pem); it expires on %s.

Manage the cluster with it from any host that has these files:

    %sHIVE_HOST=tcp://%s hive node ls

The CLI uses the certificate whenever the host is tcp://, reading it from
--tls-dir (or $HIVE_TLS_DIR, default ~/.config/hive/tls). The docker CLI
uses it with a manager that serves the Docker API over TCP
(docker_api.listen), with DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH=%s;
'hive docker-env --tcp' prints them. Keep client.key and key.pem
secret: they give full control of the cluster.
`, name, dir, expires, env, addr, dir)
	return err
}
