package commands

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hiveorch/hive/core/api"
)

func (c *cli) dockerEnvCommand() *cobra.Command {
	var unset, tcp bool
	cmd := &cobra.Command{
		Use:   "docker-env",
		Short: "Print the shell commands that point the docker CLI at this manager",
		Long: `Print the commands that set DOCKER_HOST to the Docker-compatible API the
manager serves (docker_api.socket, by default DATA_DIR/docker.sock), so that
'docker service', 'docker node', 'docker stack deploy' and other Docker clients
drive hive. Run them in your shell with eval. --unset prints the commands that
undo them. See docs/docker-api.md for what the API serves.

When the CLI talks to the manager over tcp:// (-H or HIVE_HOST), or with
--tcp, they point the docker CLI at the Docker API the manager serves over
TCP with TLS (docker_api.listen): DOCKER_HOST=tcp://HOST:PORT,
DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH, the CLI's --tls-dir, where
'hive cluster client-cert' wrote ca.pem, cert.pem and key.pem.`,
		Example: `  eval "$(hive docker-env)"
  docker service ls
  eval "$(hive docker-env --unset)"
  eval "$(HIVE_HOST=tcp://10.0.0.1:4242 hive docker-env)"
  eval "$(hive docker-env --tcp)"`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if unset {
				fmt.Fprintln(out, "unset DOCKER_HOST DOCKER_TLS_VERIFY DOCKER_CERT_PATH")
				return nil
			}
			host, err := c.endpoint()
			if err != nil {
				return err
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			info, err := cl.Info(cmd.Context())
			if err != nil {
				return err
			}
			if info.DockerAPI == "" && info.DockerAPITCP == "" && info.Role != "manager" {
				return fmt.Errorf("node %s is a worker: only managers serve the Docker API; point the CLI at a manager (-H) and run it again", info.NodeID)
			}
			remote := strings.HasPrefix(host, "tcp://")
			if !tcp && !remote {
				if info.DockerAPI == "" {
					hint := ""
					if info.DockerAPITCP != "" {
						hint = "; it serves it over TCP at " + info.DockerAPITCP + ": run 'hive docker-env --tcp'"
					}
					return errors.New("this manager serves no Docker API on a unix socket: docker_api.socket is empty; set it (or leave it unset for DATA_DIR/docker.sock) and restart hive" + hint)
				}
				fmt.Fprintf(out, "export DOCKER_HOST=%s\n# Run this command to configure your shell:\n# eval \"$(hive docker-env)\"\n", info.DockerAPI)
				return nil
			}
			if info.DockerAPITCP == "" {
				return errors.New("this manager serves no Docker API over TCP: docker_api.listen is empty; set it to HOST:PORT (for example 0.0.0.0:2376) and restart hive")
			}
			dockerHost, err := dockerTCPHost(info, host)
			if err != nil {
				return err
			}
			dir, err := c.tlsDir()
			if err != nil {
				return err
			}
			if err := checkDockerCertPath(dir); err != nil {
				return err
			}
			fmt.Fprintf(out, "export DOCKER_HOST=%s\nexport DOCKER_TLS_VERIFY=1\nexport DOCKER_CERT_PATH=%s\n# Run this command to configure your shell:\n# eval \"$(hive docker-env --tcp)\"\n", dockerHost, shellQuote(dir))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&unset, "unset", "u", false, "print the commands that unset DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH")
	cmd.Flags().BoolVar(&tcp, "tcp", false, "point the docker CLI at the Docker API over TCP with TLS (docker_api.listen) even when this CLI uses the local socket")
	return cmd
}

// dockerTCPHost is DOCKER_HOST for the Docker API a manager serves over
// TCP (info.DockerAPITCP, tcp://HOST:PORT as configured): an empty or
// unspecified host is replaced by the host the CLI reached the manager
// at (hiveHost, when tcp://), else by loopback.
func dockerTCPHost(info *api.Info, hiveHost string) (string, error) {
	host, port, err := net.SplitHostPort(strings.TrimPrefix(info.DockerAPITCP, "tcp://"))
	if err != nil {
		return "", fmt.Errorf("the manager reports its Docker API over TCP as %q: %w", info.DockerAPITCP, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		if h, _, err := net.SplitHostPort(strings.TrimPrefix(hiveHost, "tcp://")); err == nil && strings.HasPrefix(hiveHost, "tcp://") {
			host = h
		}
	}
	return "tcp://" + net.JoinHostPort(host, port), nil
}

// checkDockerCertPath checks that dir holds the files the docker CLI
// reads from DOCKER_CERT_PATH.
func checkDockerCertPath(dir string) error {
	for _, name := range []string{dockerCACertFile, dockerCertFile, dockerKeyFile} {
		_, err := os.Stat(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("no client certificate for the docker CLI: %s does not exist: run 'hive cluster client-cert' again (it writes ca.pem, cert.pem and key.pem beside ca.crt, client.crt and client.key), or point --tls-dir / HIVE_TLS_DIR at the directory that holds them", filepath.Join(dir, name))
		}
		if err != nil {
			return fmt.Errorf("client certificate for the docker CLI: %w", err)
		}
	}
	return nil
}

// shellQuote quotes s for a POSIX shell when it holds more than letters,
// digits and /._-:@+=,
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-:@+=,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
