// Package conformance is the network plugin kind's conformance suite: the
// contract of network.Driver that hive's agent relies on, call by call
// (idempotency, what List shows after each call, the errors). A driver's
// author runs it from a test of their own, on a node where the driver can
// do its work:
//
//	func TestConformance(t *testing.T) {
//		testutil.RequireRoot(t)
//		conformance.Run(t, func(t *testing.T) network.Driver {
//			d := mydriver.New(logger)
//			if err := d.Configure(t.Context(), settings); err != nil {
//				t.Fatal(err)
//			}
//			return network.NewHarness(t, d)
//		}, conformance.Options{
//			// A fresh namespace per task, removed in t.Cleanup.
//			Netns: func(t *testing.T) string { return newNetns(t) },
//		})
//	}
//
// Going through network.NewHarness checks the driver as hive sees it, over
// gRPC. Every network the suite makes it removes again in t.Cleanup; the
// networks' IDs, names, VNIs and subnets come from Options.Network, so a
// test can keep the kernel objects a driver derives from them apart from
// everything else on the node.
package conformance

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hiveorch/hive/plugins/sdk/network"
)

// Options tell the suite how to use the driver's node.
type Options struct {
	// Netns returns the path of a network namespace for one task, made
	// for the call and removed in t.Cleanup. Nil: every attachment has the
	// Netns "", which only a driver that opens no namespace accepts
	// (network.Fake does).
	Netns func(t *testing.T) string
	// GoneNetns returns the path of a network namespace that no longer
	// exists. Nil: a path in t.TempDir() that was never made.
	GoneNetns func(t *testing.T) string
	// Network returns the i-th network the suite uses (i = 0, 1, ...): each
	// must have its own ID, VNI and subnet (a /24 or wider, so that
	// addresses .2 to .200 are in it), with no options. Nil: ID
	// "hivet-conformance-I", name "hivet-conf-I", VNI 0xf00000+I, subnet
	// 10.(200+I/256).(I%256).0/24, gateway .1, MTU 1400.
	Network func(i int) network.Network
	// Restart returns a second instance of the driver over the same node,
	// as hive has after the plugin process restarted: the suite checks
	// that it lists what the first instance made and takes it over. Nil:
	// not checked.
	Restart func(t *testing.T) network.Driver
	// Timeout bounds each call; 30s when zero.
	Timeout time.Duration
}

// DefaultNetwork is the network Options.Network gives when nil.
func DefaultNetwork(i int) network.Network {
	subnet := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(200 + i/256), byte(i % 256), 0}), 24)
	return network.Network{
		ID:      fmt.Sprintf("hivet-conformance-%d", i),
		Name:    fmt.Sprintf("hivet-conf-%d", i),
		VNI:     0xf00000 + uint32(i),
		Subnet:  subnet,
		Gateway: subnet.Addr().Next(),
		MTU:     1400,
	}
}

// Run runs the suite against the driver newDriver returns (called once),
// which must be configured and ready.
func Run(t *testing.T, newDriver func(t *testing.T) network.Driver, opts Options) {
	t.Helper()
	if opts.Network == nil {
		opts.Network = DefaultNetwork
	}
	if opts.GoneNetns == nil {
		opts.GoneNetns = func(t *testing.T) string { return filepath.Join(t.TempDir(), "gone", "ns", "net") }
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	s := &suite{opts: opts, d: newDriver(t)}
	for _, c := range []struct {
		name string
		run  func(t *testing.T)
	}{
		{"describe names a network plugin and health is ok", s.testDescribe},
		{"EnsureNetwork makes a network List shows", s.testEnsure},
		{"EnsureNetwork again changes nothing", s.testEnsureTwice},
		{"EnsureNetwork brings a network in line and keeps its attachments and peers", s.testEnsureChanges},
		{"a network the driver cannot make is an invalid argument and nothing is made", s.testEnsureInvalid},
		{"Attach before EnsureNetwork is not found", s.testAttachNoNetwork},
		{"Attach returns an interface and a MAC and List shows the attachment", s.testAttach},
		{"Attach again changes nothing", s.testAttachTwice},
		{"Attach keeps the MAC it is given", s.testAttachMAC},
		{"a task on two networks gets two interfaces", s.testAttachTwoNetworks},
		{"Attach into a namespace that is gone is not found", s.testAttachGoneNetns},
		{"an attachment the driver cannot make is an invalid argument", s.testAttachInvalid},
		{"Detach removes the attachment and again succeeds", s.testDetach},
		{"SetPeers before EnsureNetwork is not found", s.testSetPeersNoNetwork},
		{"SetPeers replaces the whole set", s.testSetPeers},
		{"RemoveNetwork removes its attachments and peers", s.testRemove},
		{"RemoveNetwork of a network that is not there succeeds", s.testRemoveMissing},
		{"networks are independent", s.testIndependent},
		{"concurrent calls for different networks", s.testConcurrent},
		{"a cancelled context returns an error", s.testCancelled},
		{"a restarted driver lists what the first made and takes it over", s.testRestart},
	} {
		t.Run(c.name, c.run)
	}
}

type suite struct {
	opts  Options
	d     network.Driver
	nets  atomic.Int64 // networks handed out
	tasks atomic.Int64 // task IDs handed out
}

func (s *suite) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// network returns a network no other test uses, and removes it in
// t.Cleanup, whatever the test made of it.
func (s *suite) network(t *testing.T) network.Network {
	t.Helper()
	n := s.opts.Network(int(s.nets.Add(1) - 1))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
		defer cancel()
		if err := s.d.RemoveNetwork(ctx, n.ID); err != nil {
			t.Errorf("cleanup: RemoveNetwork(%s) = %v", n.ID, err)
		}
	})
	return n
}

// ensured is network, made with EnsureNetwork.
func (s *suite) ensured(t *testing.T) network.Network {
	t.Helper()
	n := s.network(t)
	if err := s.d.EnsureNetwork(s.ctx(t), n); err != nil {
		t.Fatalf("EnsureNetwork(%s) = %v", dump(n), err)
	}
	return n
}

// netns returns a namespace for one task.
func (s *suite) netns(t *testing.T) string {
	if s.opts.Netns == nil {
		return ""
	}
	return s.opts.Netns(t)
}

// attachment returns an attachment of a new task, in a new namespace, to
// n at the subnet's host-th address.
func (s *suite) attachment(t *testing.T, n network.Network, host int) network.Attachment {
	return network.Attachment{
		NetworkID: n.ID,
		TaskID:    fmt.Sprintf("hivet-task-%d", s.tasks.Add(1)),
		Netns:     s.netns(t),
		Address:   netip.PrefixFrom(hostAddr(n, host), n.Subnet.Bits()),
	}
}

// attach attaches a and returns a as List must show it, with the MAC
// Attach returned.
func (s *suite) attach(t *testing.T, a network.Attachment) (network.Attachment, network.AttachResult) {
	t.Helper()
	res, err := s.d.Attach(s.ctx(t), a)
	if err != nil {
		t.Fatalf("Attach(%s) = %v", dump(a), err)
	}
	if res.Interface == "" {
		t.Errorf("Attach(%s) returned no interface name", dump(a))
	}
	if _, err := parseMAC(res.MAC); err != nil {
		t.Errorf("Attach(%s) returned the MAC %q: %v", dump(a), res.MAC, err)
	}
	a.MAC = res.MAC
	return a, res
}

// peer returns a peer at the subnet's host-th address on the node
// 192.0.2.node (a documentation address: the suite sends no traffic).
func peer(n network.Network, host, node int, port uint16) network.Peer {
	return network.Peer{
		Address:  hostAddr(n, host),
		MAC:      fmt.Sprintf("02:00:%02x:00:%02x:%02x", node, host/256, host%256),
		NodeAddr: netip.AddrFrom4([4]byte{192, 0, 2, byte(node)}),
		NodePort: port,
	}
}

// hostAddr is the host-th address of n's subnet.
func hostAddr(n network.Network, host int) netip.Addr {
	a := n.Subnet.Masked().Addr()
	for range host {
		a = a.Next()
	}
	return a
}

// list returns what List shows, and fails t on an error.
func (s *suite) list(t *testing.T, d network.Driver) []network.NetworkState {
	t.Helper()
	states, err := d.List(s.ctx(t))
	if err != nil {
		t.Fatalf("List = %v", err)
	}
	return states
}

// shows fails t unless d's List shows the network want, with exactly the
// attachments and peers of want.
func (s *suite) shows(t *testing.T, d network.Driver, want network.NetworkState) {
	t.Helper()
	states := s.list(t, d)
	got, ok := find(states, want.Network.ID)
	if !ok {
		t.Fatalf("List does not show network %s:\nlist: %s", want.Network.ID, dump(states))
	}
	if bad := diffState(got, want); len(bad) > 0 {
		t.Fatalf("List shows network %s otherwise than made:\n  %s\n got: %s\nwant: %s", want.Network.ID, join(bad), dump(got), dump(want))
	}
}

// absent fails t if d's List shows the network id.
func (s *suite) absent(t *testing.T, d network.Driver, id string) {
	t.Helper()
	states := s.list(t, d)
	if got, ok := find(states, id); ok {
		t.Fatalf("List shows network %q, which should not be there: %s", id, dump(got))
	}
}
