package network_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/network"
)

func testNetwork(id string, vni uint32, subnet string) network.Network {
	p := netip.MustParsePrefix(subnet)
	return network.Network{ID: id, Name: id, VNI: vni, Subnet: p, Gateway: p.Addr().Next()}
}

func TestFakeRefusesWhatADriverCouldNotMake(t *testing.T) {
	ctx := t.Context()
	f := network.NewFake()
	n := testNetwork("n1", 10, "10.0.1.0/24")
	if err := f.EnsureNetwork(ctx, n); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		net  func(n *network.Network)
	}{
		{"a VNI of 0", func(n *network.Network) { n.VNI = 0 }},
		{"a VNI past 24 bits", func(n *network.Network) { n.VNI = 1 << 24 }},
		{"another network's VNI", func(n *network.Network) { n.VNI = 10 }},
		{"a negative MTU", func(n *network.Network) { n.MTU = -1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := testNetwork("n2", 20, "10.0.2.0/24")
			tc.net(&m)
			if err := f.EnsureNetwork(ctx, m); !errors.Is(err, sdk.ErrInvalidArgument) {
				t.Errorf("EnsureNetwork(%+v) = %v, want invalid argument", m, err)
			}
		})
	}
	for _, tc := range []struct {
		name string
		a    network.Attachment
	}{
		{"another prefix length", network.Attachment{NetworkID: "n1", TaskID: "t1", Address: netip.MustParsePrefix("10.0.1.5/16")}},
		{"a MAC that is not 6 bytes", network.Attachment{NetworkID: "n1", TaskID: "t1", Address: netip.MustParsePrefix("10.0.1.5/24"),
			MAC: "02:00:00:00:00:00:00:01"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := f.Attach(ctx, tc.a); !errors.Is(err, sdk.ErrInvalidArgument) {
				t.Errorf("Attach(%+v) = %v, want invalid argument", tc.a, err)
			}
		})
	}
	node := netip.MustParseAddr("127.0.0.2")
	for _, tc := range []struct {
		name  string
		peers []network.Peer
	}{
		{"an address outside the subnet", []network.Peer{{Address: netip.MustParseAddr("10.9.0.1"), MAC: "02:00:00:00:00:01", NodeAddr: node}}},
		{"two with one address", []network.Peer{
			{Address: netip.MustParseAddr("10.0.1.9"), MAC: "02:00:00:00:00:01", NodeAddr: node},
			{Address: netip.MustParseAddr("10.0.1.9"), MAC: "02:00:00:00:00:02", NodeAddr: node}}},
		{"no node address", []network.Peer{{Address: netip.MustParseAddr("10.0.1.9"), MAC: "02:00:00:00:00:01"}}},
		{"a malformed MAC", []network.Peer{{Address: netip.MustParseAddr("10.0.1.9"), MAC: "02:00", NodeAddr: node}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := f.SetPeers(ctx, "n1", tc.peers); !errors.Is(err, sdk.ErrInvalidArgument) {
				t.Errorf("SetPeers(%+v) = %v, want invalid argument", tc.peers, err)
			}
		})
	}
	if got := f.Networks(); len(got) != 1 || len(got[0].Attachments) != 0 || len(got[0].Peers) != 0 {
		t.Errorf("what was refused was kept: %+v", got)
	}
}

func TestFakeInterfacesMACsAndGoneNamespaces(t *testing.T) {
	ctx := t.Context()
	f := network.NewFake()
	n1, n2 := testNetwork("n1", 10, "10.0.1.0/24"), testNetwork("n2", 11, "10.0.2.0/24")
	for _, n := range []network.Network{n1, n2} {
		if err := f.EnsureNetwork(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	attach := func(netID, task, netns, addr, mac string) network.AttachResult {
		t.Helper()
		res, err := f.Attach(ctx, network.Attachment{NetworkID: netID, TaskID: task, Netns: netns, Address: netip.MustParsePrefix(addr), MAC: mac})
		if err != nil {
			t.Fatalf("Attach(%s, %s) = %v", netID, task, err)
		}
		return res
	}
	if got := attach("n1", "t1", "/ns/a", "10.0.1.5/24", ""); got != (network.AttachResult{Interface: "eth0", MAC: "02:42:0a:00:01:05"}) {
		t.Errorf("first attachment = %+v, want eth0 and the MAC derived from the address", got)
	}
	if got := attach("n2", "t1", "/ns/a", "10.0.2.5/24", "02-AA-00-00-00-01"); got != (network.AttachResult{Interface: "eth1", MAC: "02:aa:00:00:00:01"}) {
		t.Errorf("second attachment in the namespace = %+v, want eth1 and the MAC given, canonical", got)
	}
	if got := attach("n1", "t2", "/ns/b", "10.0.1.6/24", ""); got.Interface != "eth0" {
		t.Errorf("first attachment in another namespace = %+v, want eth0", got)
	}
	if got := attach("n1", "t2", "/ns/b", "10.0.1.7/24", ""); got != (network.AttachResult{Interface: "eth0", MAC: "02:42:0a:00:01:07"}) {
		t.Errorf("a new address for a task = %+v, want its attachment replaced", got)
	}

	f.SetNetnsGone("/ns/a")
	states := f.Networks()
	if len(states[0].Attachments) != 1 || states[0].Attachments[0].TaskID != "t2" || len(states[1].Attachments) != 0 {
		t.Errorf("after /ns/a went: %+v, want only t2's attachment", states)
	}
	if _, err := f.Attach(ctx, network.Attachment{NetworkID: "n1", TaskID: "t1", Netns: "/ns/a", Address: netip.MustParsePrefix("10.0.1.5/24")}); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("Attach into a gone namespace = %v, want not found", err)
	}
}
