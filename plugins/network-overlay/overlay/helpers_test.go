package overlay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/hiveorch/hive/internal/testutil"
	"github.com/hiveorch/hive/plugins/sdk/network"
	"github.com/hiveorch/hive/plugins/sdk/network/nsthread"
)

// testPrefix starts the name of every kernel object a test makes.
const testPrefix = "hivet"

// randHex returns n random hex digits, to keep the kernel objects of
// concurrent test runs apart.
func randHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// testNetns makes a namespace hivet-WHAT-RAND with lo up, removed when
// the test ends, and returns its path.
func testNetns(t *testing.T, what string) string {
	t.Helper()
	name := testPrefix + "-" + what + "-" + randHex(6)
	if _, err := createNetns(name); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() {
		if err := deleteNetns(name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	path := filepath.Join(nsDir, name)
	nn := mustOpen(t, path)
	defer nn.close()
	lo, err := nn.h.LinkByName("lo")
	if err == nil {
		err = nn.h.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("lo up in %s: %v", name, err)
	}
	return path
}

func mustOpen(t *testing.T, path string) *netNS {
	t.Helper()
	nn, err := openNS(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return nn
}

// underlays makes two namespaces joined by a veth, with addrA and addrB
// (a /24 each) on its ends: two nodes' underlays.
func underlays(t *testing.T, addrA, addrB string) (pathA, pathB string) {
	t.Helper()
	pathA, pathB = testNetns(t, "ua"), testNetns(t, "ub")
	a, b := mustOpen(t, pathA), mustOpen(t, pathB)
	defer a.close()
	defer b.close()
	if err := a.h.LinkAdd(&netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: testPrefix + "ul0"},
		PeerName:      testPrefix + "ul1",
		PeerNamespace: netlink.NsFd(int(b.ns)),
	}); err != nil {
		t.Fatalf("underlay veth: %v", err)
	}
	for _, end := range []struct {
		nn   *netNS
		name string
		addr string
	}{{a, testPrefix + "ul0", addrA}, {b, testPrefix + "ul1", addrB}} {
		l, err := end.nn.h.LinkByName(end.name)
		if err == nil {
			err = end.nn.h.AddrAdd(l, &netlink.Addr{IPNet: ipNet(netip.MustParsePrefix(end.addr + "/24"))})
		}
		if err == nil {
			err = end.nn.h.LinkSetUp(l)
		}
		if err != nil {
			t.Fatalf("underlay %s: %v", end.name, err)
		}
	}
	return pathA, pathB
}

// oneNode is a node on an underlay of its own, with nothing on it.
func oneNode(t *testing.T) *node {
	t.Helper()
	testutil.RequireRoot(t, "programming network namespaces")
	return newNode(t, testNetns(t, "u"), "10.99.0.1", 4790)
}

// node is one hive node's driver, on its underlay.
type node struct {
	d        *Driver
	settings map[string]string
	addr     netip.Addr
	port     uint16
}

// newNode configures a driver on the underlay at path, with its own node
// ID (so its namespaces are apart from every other test's).
func newNode(t *testing.T, underlay, addr string, port uint16) *node {
	t.Helper()
	n := &node{
		settings: map[string]string{
			setHostNetns: underlay, setNodeID: "n" + randHex(7), setPrefix: testPrefix,
			setVXLANPort: fmt.Sprint(port), setLocalAddr: addr,
		},
		addr: netip.MustParseAddr(addr),
		port: port,
	}
	n.d = n.restart(t)
	t.Cleanup(func() { sweep(t, n) })
	return n
}

// restart returns a fresh driver with the node's settings, as after a
// restart of the plugin.
func (n *node) restart(t *testing.T) *Driver {
	t.Helper()
	d := New(testutil.Logger(t))
	if err := d.Configure(context.Background(), n.settings); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return d
}

// namespaces lists the node's namespaces in nsDir.
func (n *node) namespaces(t *testing.T) []string {
	t.Helper()
	dir, err := os.ReadDir(nsDir)
	if err != nil {
		t.Fatalf("read %s: %v", nsDir, err)
	}
	var out []string
	for _, f := range dir {
		if strings.HasPrefix(f.Name(), n.d.config().nsPrefix()) {
			out = append(out, f.Name())
		}
	}
	return out
}

// sweep removes whatever the node's driver left, even when the test failed.
func sweep(t *testing.T, n *node) {
	for _, name := range n.namespaces(t) {
		if err := removeNetns(name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}
}

// testNetwork is a network with a fresh ID.
func testNetwork(vni uint32) network.Network {
	return network.Network{
		ID: "net" + randHex(13), Name: "web", VNI: vni,
		Subnet: netip.MustParsePrefix("10.200.0.0/24"), Gateway: netip.MustParseAddr("10.200.0.1"),
	}
}

// inNetns runs fn on a thread in the namespace at path.
func inNetns(path string, fn func() error) error {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return err
	}
	defer ns.Close()
	return nsthread.Run(func() error { return netns.Set(ns) }, fn)
}

// serve listens on addr:port in the namespace at path and answers every
// connection with "hello".
func serve(t *testing.T, path string, addr netip.Addr) netip.AddrPort {
	t.Helper()
	var ln net.Listener
	if err := inNetns(path, func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(addr, 0).String())
		return err
	}); err != nil {
		t.Fatalf("listen in %s: %v", path, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("hello"))
			c.Close()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String())
}

// dial connects from the namespace at path and reads the greeting.
func dial(path string, to netip.AddrPort, within time.Duration) error {
	return inNetns(path, func() error {
		c, err := net.DialTimeout("tcp", to.String(), within)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(within))
		b, err := io.ReadAll(c)
		if err != nil {
			return err
		}
		if string(b) != "hello" {
			return fmt.Errorf("read %q, want hello", b)
		}
		return nil
	})
}

// vxlanStats returns the packets vxlan0 of the network sent and received.
func vxlanStats(t *testing.T, n *node, networkID string) (tx, rx uint64) {
	t.Helper()
	nn := mustOpen(t, filepath.Join(nsDir, n.d.config().nsName(networkID)))
	defer nn.close()
	l, err := nn.h.LinkByName(vxlanName)
	if err != nil {
		t.Fatalf("vxlan0: %v", err)
	}
	s := l.Attrs().Statistics
	return s.TxPackets, s.RxPackets
}

// udpBound tells whether a UDP socket is bound to port in the namespace
// at path.
func udpBound(t *testing.T, path string, port uint16) bool {
	t.Helper()
	var found bool
	if err := inNetns(path, func() error {
		for _, f := range []string{"/proc/thread-self/net/udp", "/proc/thread-self/net/udp6"} {
			b, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			found = found || strings.Contains(strings.ToUpper(string(b)), fmt.Sprintf(":%04X 00000000", port))
		}
		return nil
	}); err != nil {
		t.Fatalf("read UDP sockets in %s: %v", path, err)
	}
	return found
}
