package daemon

import (
	"crypto/tls"
	"fmt"
	"net"
	"strconv"

	"github.com/hiveorch/hive/core/ca"
)

// listenDockerTCP listens on addr (docker_api.listen) for the Docker API
// over TCP and returns the listener, its TLS configuration (a listener
// certificate naming the address, issued with the root's key, which an
// unlocked manager holds) and the endpoint Info reports: tcp://HOST:PORT
// with the host as configured and the port the listener got.
func (d *daemon) listenDockerTCP(addr string) (net.Listener, *tls.Config, string, error) {
	fail := func(err error, hint string) (net.Listener, *tls.Config, string, error) {
		return nil, nil, "", fmt.Errorf("docker API over TCP (docker_api.listen %s): %w%s", addr, err, hint)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fail(err, ": want host:port")
	}
	dnsNames, ips, err := ca.ListenerNames(host)
	if err != nil {
		return fail(err, "")
	}
	cert, err := ca.NewListenerCert(d.id.Root(), d.state.NodeID, dnsNames, ips, d.cfg.CA.CertExpiry, d.clock.Now)
	if err != nil {
		return fail(err, "; or leave docker_api.listen empty")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fail(err, ": stop what holds the address, choose another one, or leave docker_api.listen empty")
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	return ln, cert.TLSConfig(), "tcp://" + net.JoinHostPort(host, port), nil
}
