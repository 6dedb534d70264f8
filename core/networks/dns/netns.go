package dns

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/hiveorch/hive/plugins/sdk/network/nsthread"
)

// Where a task finds its resolver, inside its network namespace, as with
// Docker.
const (
	ResolverIP   = "127.0.0.11"
	ResolverAddr = ResolverIP + ":53"
)

// ListenInNetns opens a UDP socket and a TCP listener on ResolverAddr
// inside the network namespace at netnsPath (a /proc/PID/ns/net or a bind
// mount such as /run/netns/NAME), for a Server to serve. A socket stays in
// the namespace it was made in: the host process serves them from any
// thread, and they keep the namespace alive until they are closed, so the
// caller closes them (Serve does) when the task goes. It brings the
// namespace's loopback up, and adds 127.0.0.11 to it when no address of
// the loopback covers it (the kernel gives an up loopback 127.0.0.1/8,
// which does).
func ListenInNetns(netnsPath string) (conn net.PacketConn, ln net.Listener, err error) {
	target, err := netns.GetFromPath(netnsPath)
	if err != nil {
		return nil, nil, fmt.Errorf("open network namespace %s: %w", netnsPath, err)
	}
	defer target.Close()
	if err := loopbackUp(target); err != nil {
		return nil, nil, fmt.Errorf("resolver in %s: %w", netnsPath, err)
	}
	err = inNetns(target, func() error {
		var err error
		if conn, err = net.ListenPacket("udp4", ResolverAddr); err != nil {
			return fmt.Errorf("listen on udp %s: %w", ResolverAddr, err)
		}
		if ln, err = net.Listen("tcp4", ResolverAddr); err != nil {
			conn.Close()
			conn = nil
			return fmt.Errorf("listen on tcp %s: %w", ResolverAddr, err)
		}
		return nil
	})
	if err != nil {
		if conn != nil { // opened, then the thread could not go back
			conn.Close()
			ln.Close()
		}
		return nil, nil, fmt.Errorf("resolver in %s: %w", netnsPath, err)
	}
	return conn, ln, nil
}

// loopbackUp sets the namespace's lo up, with an address that covers
// ResolverIP.
func loopbackUp(ns netns.NsHandle) error {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find lo: %w", err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	addrs, err := h.AddrList(lo, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list the addresses of lo: %w", err)
	}
	want := net.ParseIP(ResolverIP).To4()
	for _, a := range addrs {
		if a.IPNet != nil && a.IPNet.Contains(want) {
			return nil
		}
	}
	add := &netlink.Addr{IPNet: &net.IPNet{IP: want, Mask: net.CIDRMask(32, 32)}, Scope: unix.RT_SCOPE_HOST}
	if err := h.AddrAdd(lo, add); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("add %s to lo: %w", want, err)
	}
	return nil
}

// inNetns runs fn on an OS thread moved into the namespace ns, then moves
// the thread back.
func inNetns(ns netns.NsHandle, fn func() error) error {
	return nsthread.Run(func() error {
		if err := netns.Set(ns); err != nil {
			return fmt.Errorf("enter network namespace: %w", err)
		}
		return nil
	}, fn)
}
