package vip

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/testutil"
)

// The test network: a client and two backends on one bridge, each in a
// namespace of its own, on a subnet that exists only there. The virtual
// IP is on no interface: the client reaches it on-link, through its
// subnet's route, as a task reaches a VIP of its overlay network.
var (
	clientAddr = netip.MustParseAddr("10.98.0.1")
	b1Addr     = netip.MustParseAddr("10.98.0.11")
	b2Addr     = netip.MustParseAddr("10.98.0.12")
	testVIP    = netip.MustParseAddr("10.98.0.100")
)

const testPort = 8080

type lab struct {
	client string // the client's namespace, as a path
	// answers maps each backend's address to the name its server
	// answers with.
	answers map[netip.Addr]string
}

// newLab builds the test network, removed when the test ends, with a TCP
// server in each backend on testPort answering its name and the address
// the connection came from.
func newLab(t *testing.T) *lab {
	t.Helper()
	testutil.RequireRoot(t, "network namespaces and nftables")
	hub := newNetns(t, "hub")
	h := handleIn(t, hub)
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "hivetbr0"}}
	if err := h.LinkAdd(br); err != nil {
		testutil.Unavailable(t, "add a bridge: %v", err)
	}
	if err := h.LinkSetUp(br); err != nil {
		t.Fatal(err)
	}
	l := &lab{answers: map[netip.Addr]string{b1Addr: "b1", b2Addr: "b2"}}
	for i, m := range []struct {
		role string
		addr netip.Addr
	}{{"client", clientAddr}, {"b1", b1Addr}, {"b2", b2Addr}} {
		path := newNetns(t, m.role)
		plug(t, h, br, path, i, m.addr)
		if m.role == "client" {
			l.client = path
		} else {
			serve(t, path, m.role)
		}
	}
	return l
}

// newNetns makes a network namespace named hivet-vip-ROLE-…, removed
// when the test ends, and returns its path.
func newNetns(t *testing.T, role string) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "hivet-vip-" + role + "-" + hex.EncodeToString(b)
	errc := make(chan error, 1)
	go func() {
		// NewNamed moves the thread into the new namespace; it stays
		// locked, and ends with this goroutine.
		runtime.LockOSThread()
		ns, err := netns.NewNamed(name)
		if err == nil {
			ns.Close()
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		testutil.Unavailable(t, "create network namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("remove network namespace %s: %v", name, err)
		}
	})
	return filepath.Join("/run/netns", name)
}

// handleIn returns a netlink handle in the namespace at path, closed when
// the test ends, after setting its loopback up.
func handleIn(t *testing.T, path string) *netlink.Handle {
	t.Helper()
	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// plug joins the namespace at path to the bridge with a veth pair, its
// end there holding addr/24.
func plug(t *testing.T, hub *netlink.Handle, br *netlink.Bridge, path string, i int, addr netip.Addr) {
	t.Helper()
	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	inner := fmt.Sprintf("hivetp%d", i)
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: fmt.Sprintf("hivetv%d", i), MasterIndex: br.Attrs().Index},
		PeerName:      inner,
		PeerNamespace: netlink.NsFd(ns),
	}
	if err := hub.LinkAdd(veth); err != nil {
		testutil.Unavailable(t, "add a veth pair: %v", err)
	}
	if err := hub.LinkSetUp(veth); err != nil {
		t.Fatal(err)
	}
	h := handleIn(t, path)
	link, err := h.LinkByName(inner)
	if err != nil {
		t.Fatal(err)
	}
	ipnet := &net.IPNet{IP: addr.AsSlice(), Mask: net.CIDRMask(24, 32)}
	if err := h.AddrAdd(link, &netlink.Addr{IPNet: ipnet}); err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(link); err != nil {
		t.Fatal(err)
	}
}

// inNetns runs fn on an OS thread moved into the namespace at path; the
// thread is never handed back, and ends with fn. A socket fn opens stays
// in that namespace wherever it is used afterwards.
func inNetns(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		ns, err := netns.GetFromPath(path)
		if err != nil {
			errc <- err
			return
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// serve runs a TCP server on testPort in the namespace at path until the
// test ends; it answers each connection with "NAME SOURCE-ADDRESS".
func serve(t *testing.T, path, name string) {
	t.Helper()
	var ln net.Listener
	err := inNetns(path, func() (err error) {
		ln, err = net.Listen("tcp4", fmt.Sprintf(":%d", testPort))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			src := c.RemoteAddr().(*net.TCPAddr).IP
			fmt.Fprintf(c, "%s %s", name, src)
			c.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
}

// ask connects from the client to the virtual IP on port and returns the
// answer.
func (l *lab) ask(port int) (string, error) {
	var answer string
	err := inNetns(l.client, func() error {
		c, err := net.DialTimeout("tcp4", net.JoinHostPort(testVIP.String(), fmt.Sprint(port)), 3*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		b, err := io.ReadAll(c)
		answer = string(b)
		return err
	})
	return answer, err
}

// spread makes n connections to the virtual IP and counts the answers by
// backend name, checking that each backend saw the client's own address.
func (l *lab) spread(t *testing.T, n int) map[string]int {
	t.Helper()
	seen := make(map[string]int)
	for range n {
		answer, err := l.ask(testPort)
		if err != nil {
			t.Fatalf("connect to %s:%d: %v", testVIP, testPort, err)
		}
		name, src, _ := strings.Cut(answer, " ")
		if src != clientAddr.String() {
			t.Errorf("backend %s saw the connection come from %q, want the client's %s", name, src, clientAddr)
		}
		seen[name]++
	}
	return seen
}

func rulesTo(backends ...netip.Addr) Rules {
	return Rules{{VIP: testVIP, Protocol: types.ProtocolTCP, Port: testPort}: backends}
}

// wantRefused checks that a connection to port on the virtual IP is
// refused at once.
func (l *lab) wantRefused(t *testing.T, port int) {
	t.Helper()
	start := time.Now()
	answer, err := l.ask(port)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("connect to %s:%d = %q, %v; want connection refused", testVIP, port, answer, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("connect to %s:%d took %v to be refused", testVIP, port, d)
	}
}

func wantCurrent(t *testing.T, path string, want Rules) {
	t.Helper()
	got, err := Current(path)
	if err != nil {
		t.Fatalf("Current: %v", err)
	}
	if !got.Equal(want) {
		t.Errorf("Current = %v, want %v", got, want)
	}
}

// TestApplyBalancesAcrossBackends: connections from the client to the
// virtual IP go to both backends in turn, each seeing the client's own
// address; a port the service does not publish is refused; the rules
// read back as applied, and applying them again changes nothing.
func TestApplyBalancesAcrossBackends(t *testing.T) {
	l := newLab(t)
	r := rulesTo(b1Addr, b2Addr)
	if err := Apply(l.client, r); err != nil {
		t.Fatal(err)
	}
	seen := l.spread(t, 10)
	if seen["b1"] != 5 || seen["b2"] != 5 {
		t.Errorf("10 connections went %v, want 5 to each backend in turn", seen)
	}
	l.wantRefused(t, testPort+1)
	wantCurrent(t, l.client, r)

	if err := Apply(l.client, r); err != nil {
		t.Fatalf("Apply again: %v", err)
	}
	wantCurrent(t, l.client, r)
	if seen := l.spread(t, 4); seen["b1"] != 2 || seen["b2"] != 2 {
		t.Errorf("after Apply again, 4 connections went %v, want 2 to each", seen)
	}
	if n := hiveTables(t, l.client); n != 1 {
		t.Errorf("%d tables named %s after Apply twice, want 1", n, TableName)
	}
}

// TestApplyReplacesTheSet: after the set shrinks to one backend every new
// connection goes there; with none, connections are refused at once.
func TestApplyReplacesTheSet(t *testing.T) {
	l := newLab(t)
	if err := Apply(l.client, rulesTo(b1Addr, b2Addr)); err != nil {
		t.Fatal(err)
	}
	l.spread(t, 2)
	if err := Apply(l.client, rulesTo(b2Addr)); err != nil {
		t.Fatal(err)
	}
	if seen := l.spread(t, 6); seen["b2"] != 6 {
		t.Errorf("with b2 alone, 6 connections went %v", seen)
	}
	wantCurrent(t, l.client, rulesTo(b2Addr))

	empty := rulesTo()
	if err := Apply(l.client, empty); err != nil {
		t.Fatal(err)
	}
	l.wantRefused(t, testPort)
	wantCurrent(t, l.client, empty)
}

// TestApplyEveryPort: a service that publishes no port has its virtual IP
// forwarded on every port.
func TestApplyEveryPort(t *testing.T) {
	l := newLab(t)
	r := Rules{{VIP: testVIP}: {b1Addr}}
	if err := Apply(l.client, r); err != nil {
		t.Fatal(err)
	}
	if seen := l.spread(t, 2); seen["b1"] != 2 {
		t.Errorf("2 connections went %v, want both to b1", seen)
	}
	wantCurrent(t, l.client, r)
}

// TestRemove: Remove deletes hive's table, and does nothing where there is
// none.
func TestRemove(t *testing.T) {
	l := newLab(t)
	wantCurrent(t, l.client, Rules{})
	if err := Remove(l.client); err != nil {
		t.Fatalf("Remove with no table: %v", err)
	}
	if err := Apply(l.client, rulesTo(b1Addr)); err != nil {
		t.Fatal(err)
	}
	if err := Remove(l.client); err != nil {
		t.Fatal(err)
	}
	if n := hiveTables(t, l.client); n != 0 {
		t.Errorf("%d tables named %s after Remove", n, TableName)
	}
	wantCurrent(t, l.client, Rules{})
}

// TestApplyRepairsATouchedTable: a rule added to hive's table by someone
// else makes Current fail, and Apply puts the table back as it should be.
func TestApplyRepairsATouchedTable(t *testing.T) {
	l := newLab(t)
	r := rulesTo(b1Addr, b2Addr)
	if err := Apply(l.client, r); err != nil {
		t.Fatal(err)
	}
	err := inNamespace(l.client, func(c *nftables.Conn) error {
		tb := newTable()
		c.AddRule(&nftables.Rule{Table: tb, Chain: &nftables.Chain{Name: dnatChain, Table: tb},
			Exprs: []expr.Any{&expr.Counter{}}})
		return c.Flush()
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Current(l.client); !errors.Is(err, errForeign) {
		t.Fatalf("Current of a touched table = %v, %v; want an error", got, err)
	}
	if err := Apply(l.client, r); err != nil {
		t.Fatal(err)
	}
	wantCurrent(t, l.client, r)
	if seen := l.spread(t, 2); seen["b1"] != 1 || seen["b2"] != 1 {
		t.Errorf("after the repair, 2 connections went %v", seen)
	}
}

// hiveTables counts the tables named TableName in the namespace at path.
func hiveTables(t *testing.T, path string) int {
	t.Helper()
	n := 0
	err := inNamespace(path, func(c *nftables.Conn) error {
		tables, err := c.ListTables()
		for _, tb := range tables {
			if tb.Name == TableName {
				n++
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestApplyConcurrently: Applies racing on one namespace each replace the
// whole table: what is left is one of them, never a mix.
func TestApplyConcurrently(t *testing.T) {
	l := newLab(t)
	sets := []Rules{rulesTo(b1Addr), rulesTo(b2Addr), rulesTo(b1Addr, b2Addr), rulesTo()}
	errc := make(chan error, len(sets))
	for _, r := range sets {
		go func() { errc <- Apply(l.client, r) }()
	}
	for range sets {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	got, err := Current(l.client)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(sets, got.Equal) {
		t.Errorf("after concurrent Applies, Current = %v, none of %v", got, sets)
	}
}
