package dns

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"path/filepath"
	"testing"

	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/internal/testutil"
	"github.com/hiveorch/hive/plugins/sdk/network/nsthread"
)

// testNetns makes a network namespace named hivet-dns-…, removed when the
// test ends, and returns its path.
func testNetns(t *testing.T) string {
	t.Helper()
	testutil.RequireRoot(t, "a network namespace")
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "hivet-dns-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("remove network namespace %s: %v", name, err)
		}
	})
	// NewNamed moves the calling thread into the new namespace.
	err := nsthread.Run(func() error {
		ns, err := netns.NewNamed(name)
		if err == nil {
			ns.Close()
		}
		return err
	}, func() error { return nil })
	if err != nil {
		testutil.Unavailable(t, "create network namespace %s: %v", name, err)
	}
	return filepath.Join("/run/netns", name)
}

// loopback returns a netlink handle in ns, closed when the test ends, and
// the namespace's lo.
func loopback(t *testing.T, ns netns.NsHandle) (*netlink.Handle, netlink.Link) {
	t.Helper()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	lo, err := h.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	return h, lo
}

// TestListenInNetns: a resolver listening in a fresh namespace answers a
// query made inside it at 127.0.0.11:53, over UDP and TCP, for hive's
// names and, forwarded from the host's namespace, for others.
func TestListenInNetns(t *testing.T) {
	path := testNetns(t)
	conn, ln, err := ListenInNetns(path)
	if err != nil {
		t.Fatal(err)
	}
	up := newUpstream(t) // on the host's loopback, out of the task's reach
	s, err := NewServer(tableLookup("n1"), []string{up.addr}, clock.Real{}, testutil.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(startServing(t, s, conn, ln))

	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	for _, network := range []string{"udp", "tcp"} {
		for name, want := range map[string]string{"web.": "NOERROR 10.0.1.2/2", "example.com.": "NOERROR 192.0.2.1/300"} {
			var got string
			err := inNetns(ns, func() error {
				m, err := exchange(network, ResolverAddr, name, dns.TypeA)
				if err == nil {
					got = answers(m)
				}
				return err
			})
			if err != nil {
				t.Fatalf("%s %s from inside the namespace: %v", network, name, err)
			}
			if got != want {
				t.Errorf("%s %s from inside the namespace = %q, want %q", network, name, got, want)
			}
		}
	}

	_, lo := loopback(t, ns)
	if lo.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("lo is not up in the namespace: %v", lo.Attrs().Flags)
	}
}

// TestListenInNetnsAddsTheAddress: a namespace whose loopback lost
// 127.0.0.1/8 gets 127.0.0.11 on it.
func TestListenInNetnsAddsTheAddress(t *testing.T) {
	path := testNetns(t)
	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, lo := loopback(t, ns)
	if err := h.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
	addr, err := netlink.ParseAddr("127.0.0.1/8")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.AddrDel(lo, addr); err != nil {
		t.Fatal(err)
	}

	conn, ln, err := ListenInNetns(path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	defer ln.Close()
	addrs, err := h.AddrList(lo, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != 1 || addrs[0].IPNet.String() != ResolverIP+"/32" {
		t.Errorf("lo has %v, want %s/32", addrs, ResolverIP)
	}
}

func TestListenInNetnsNeedsANamespace(t *testing.T) {
	if _, _, err := ListenInNetns(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("ListenInNetns listened in a namespace that does not exist")
	}
}
