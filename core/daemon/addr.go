package daemon

import (
	"fmt"
	"net"
)

// AdvertiseAddr is advertiseAddr for a listen address given as text, for
// commands that need it before anything listens (joining).
func AdvertiseAddr(configured, listen string) (string, error) {
	addr, err := net.ResolveTCPAddr("tcp", listen)
	if err != nil {
		return "", fmt.Errorf("listen address %s: %w", listen, err)
	}
	return advertiseAddr(configured, addr)
}

// advertiseAddr decides the address other nodes reach this one at: the
// configured one (with the listen port when it has none), else the listen
// address when it names a host, else the first non-loopback IPv4 address of
// the machine, else loopback.
func advertiseAddr(configured string, listen net.Addr) (string, error) {
	_, listenPort, err := net.SplitHostPort(listen.String())
	if err != nil {
		return "", fmt.Errorf("listen address %s: %w", listen, err)
	}
	if configured != "" {
		if _, _, err := net.SplitHostPort(configured); err == nil {
			return configured, nil
		}
		return net.JoinHostPort(configured, listenPort), nil
	}
	host, _, _ := net.SplitHostPort(listen.String())
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		return listen.String(), nil
	}
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
				return net.JoinHostPort(ipn.IP.String(), listenPort), nil
			}
		}
	}
	return net.JoinHostPort("127.0.0.1", listenPort), nil
}
