package mesh

import (
	"net"
	"net/netip"
	"strings"
)

// BindAddr chooses the IP a node binds its published ports on:
//
//   - configured (mesh.bind_addr) when it is set;
//   - else the host of listenAddr, the cluster port's address, when it is
//     one specific IP (not 0.0.0.0 or ::), loopback ones included, so that
//     several nodes on one host started with --listen-addr 127.0.0.x each
//     answer on their own address;
//   - else the host of advertiseAddr when it is a loopback IP, for nodes
//     that listen everywhere but advertise 127.0.0.x;
//   - else "", every address of the node.
//
// listenAddr is host:port; advertiseAddr is host or host:port. Host names
// are not resolved: only IP literals count.
func BindAddr(configured, listenAddr, advertiseAddr string) string {
	if configured != "" {
		return configured
	}
	if ip, ok := hostIP(listenAddr); ok && !ip.IsUnspecified() {
		return ip.String()
	}
	if ip, ok := hostIP(advertiseAddr); ok && ip.IsLoopback() {
		return ip.String()
	}
	return ""
}

// hostIP returns the IP literal that addr (host, [host] or host:port)
// names.
func hostIP(addr string) (netip.Addr, bool) {
	if addr == "" {
		return netip.Addr{}, false
	}
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}
