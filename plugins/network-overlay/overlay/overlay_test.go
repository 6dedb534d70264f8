package overlay

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/internal/testutil"
	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/network"
)

// pair is two nodes on underlays joined by a veth, one network on both,
// and one task attached on each side.
type pair struct {
	a, b         *node
	net          network.Network
	taskA, taskB network.Attachment
	peerA, peerB network.Peer // taskA and taskB as the other node sees them
}

func newPair(t *testing.T) *pair {
	t.Helper()
	testutil.RequireRoot(t, "programming network namespaces")
	ctx := context.Background()
	ua, ub := underlays(t, "10.99.0.1", "10.99.0.2")
	p := &pair{
		a:   newNode(t, ua, "10.99.0.1", 4790),
		b:   newNode(t, ub, "10.99.0.2", 4791),
		net: testNetwork(4242),
	}
	p.taskA = network.Attachment{NetworkID: p.net.ID, TaskID: "task-a-" + randHex(8), Netns: testNetns(t, "ta"), Address: netip.MustParsePrefix("10.200.0.2/24")}
	p.taskB = network.Attachment{NetworkID: p.net.ID, TaskID: "task-b-" + randHex(8), Netns: testNetns(t, "tb"), Address: netip.MustParsePrefix("10.200.0.3/24")}
	for _, side := range []struct {
		n    *node
		task network.Attachment
		peer *network.Peer
	}{{p.a, p.taskA, &p.peerA}, {p.b, p.taskB, &p.peerB}} {
		if err := side.n.d.EnsureNetwork(ctx, p.net); err != nil {
			t.Fatalf("EnsureNetwork: %v", err)
		}
		res, err := side.n.d.Attach(ctx, side.task)
		if err != nil {
			t.Fatalf("Attach: %v", err)
		}
		*side.peer = network.Peer{Address: side.task.Address.Addr(), MAC: res.MAC, NodeAddr: side.n.addr, NodePort: side.n.port}
	}
	p.setPeers(t)
	return p
}

// setPeers gives each node the other's task.
func (p *pair) setPeers(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if err := p.a.d.SetPeers(ctx, p.net.ID, []network.Peer{p.peerB}); err != nil {
		t.Fatalf("SetPeers on a: %v", err)
	}
	if err := p.b.d.SetPeers(ctx, p.net.ID, []network.Peer{p.peerA}); err != nil {
		t.Fatalf("SetPeers on b: %v", err)
	}
}

func TestTasksOnTwoNodesTalkAcrossTheVXLAN(t *testing.T) {
	start := time.Now()
	p := newPair(t)
	ctx := context.Background()
	netnsA := filepath.Join(nsDir, p.a.d.config().nsName(p.net.ID))
	if !udpBound(t, p.a.settings[setHostNetns], p.a.port) || udpBound(t, netnsA, p.a.port) {
		t.Errorf("VXLAN socket on port %d: want it in the underlay namespace, not in the network's", p.a.port)
	}
	srv := serve(t, p.taskB.Netns, p.taskB.Address.Addr())
	txA, _ := vxlanStats(t, p.a, p.net.ID)
	_, rxB := vxlanStats(t, p.b, p.net.ID)

	if err := dial(p.taskA.Netns, srv, 5*time.Second); err != nil {
		t.Fatalf("task a → task b %s across the overlay: %v", srv, err)
	}
	txA2, _ := vxlanStats(t, p.a, p.net.ID)
	_, rxB2 := vxlanStats(t, p.b, p.net.ID)
	if txA2 <= txA || rxB2 <= rxB {
		t.Errorf("VXLAN counters: a sent %d → %d, b received %d → %d; want both to rise", txA, txA2, rxB, rxB2)
	}

	// Without b's task among a's peers, a's frames to it have nowhere to go.
	if err := p.a.d.SetPeers(ctx, p.net.ID, nil); err != nil {
		t.Fatalf("SetPeers(none): %v", err)
	}
	if err := dial(p.taskA.Netns, srv, time.Second); err == nil {
		t.Fatalf("task a reached task b with no peers set")
	}
	p.setPeers(t)
	testutil.EventuallyWhy(t, 10*time.Second, "traffic heals once the peer is back", func() (bool, string) {
		err := dial(p.taskA.Netns, srv, time.Second)
		return err == nil, ""
	})
	t.Logf("cross-namespace test took %v", time.Since(start))
}

func TestEveryCallIsIdempotent(t *testing.T) {
	p := newPair(t)
	ctx := context.Background()
	d := p.a.d
	before, err := d.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if err := d.EnsureNetwork(ctx, p.net); err != nil {
		t.Fatalf("EnsureNetwork again: %v", err)
	}
	res, err := d.Attach(ctx, p.taskA)
	if err != nil || res.Interface != "eth1" || res.MAC != p.peerA.MAC {
		t.Fatalf("Attach again = %+v, %v; want eth1 with %s", res, err, p.peerA.MAC)
	}
	if err := d.SetPeers(ctx, p.net.ID, []network.Peer{p.peerB}); err != nil {
		t.Fatalf("SetPeers again: %v", err)
	}
	after, err := d.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Errorf("List changed by repeated calls:\nbefore %+v\nafter  %+v", before, after)
	}
	srv := serve(t, p.taskB.Netns, p.taskB.Address.Addr())
	if err := dial(p.taskA.Netns, srv, 5*time.Second); err != nil {
		t.Fatalf("traffic after repeated calls: %v", err)
	}

	for range 2 {
		if err := d.Detach(ctx, p.net.ID, p.taskA.TaskID); err != nil {
			t.Fatalf("Detach: %v", err)
		}
	}
	tn := mustOpen(t, p.taskA.Netns)
	defer tn.close()
	if _, err := tn.h.LinkByName("eth1"); !notFound(err) {
		t.Errorf("eth1 in the task's namespace after Detach: %v", err)
	}
	for range 2 {
		if err := d.RemoveNetwork(ctx, p.net.ID); err != nil {
			t.Fatalf("RemoveNetwork: %v", err)
		}
	}
	if err := d.Detach(ctx, p.net.ID, p.taskA.TaskID); err != nil {
		t.Errorf("Detach from a removed network: %v", err)
	}
}

func TestAttachRepairsTheTasksInterface(t *testing.T) {
	p := newPair(t)
	ctx := context.Background()
	tn := mustOpen(t, p.taskA.Netns)
	defer tn.close()
	eth1, err := tn.h.LinkByName("eth1")
	if err != nil {
		t.Fatalf("eth1: %v", err)
	}
	if err := syncAddr(tn.h, eth1, netip.MustParsePrefix("10.200.0.77/24")); err != nil {
		t.Fatalf("spoil the address: %v", err)
	}
	if err := tn.h.LinkSetDown(eth1); err != nil {
		t.Fatalf("down: %v", err)
	}
	if _, err := p.a.d.Attach(ctx, p.taskA); err != nil {
		t.Fatalf("Attach: %v", err)
	}
	eth1, _ = tn.h.LinkByName("eth1")
	if got, _ := globalAddr(tn.h, eth1); got != p.taskA.Address {
		t.Errorf("address after repair = %v, want %v", got, p.taskA.Address)
	}
	srv := serve(t, p.taskB.Netns, p.taskB.Address.Addr())
	if err := dial(p.taskA.Netns, srv, 5*time.Second); err != nil {
		t.Fatalf("traffic after repair: %v", err)
	}
}

func TestListAfterARestartShowsWhatTheKernelHas(t *testing.T) {
	p := newPair(t)
	ctx := context.Background()
	got, err := p.a.restart(t).List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	wantNet := p.net
	wantNet.MTU = 1450 // the underlay's 1500 less VXLAN's 50
	peerB := p.peerB
	want := []network.NetworkState{{
		Network: wantNet,
		Attachments: []network.Attachment{{
			NetworkID: p.net.ID, TaskID: p.taskA.TaskID, Netns: p.taskA.Netns,
			Address: p.taskA.Address, MAC: "02:42:0a:c8:00:02",
		}},
		Peers: []network.Peer{peerB},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List after a restart:\n got %+v\nwant %+v", got, want)
	}
	// A peer at port zero is at this node's own port, and listed so.
	d := p.a.restart(t)
	own := peerB
	own.NodePort = 0
	if err := d.SetPeers(ctx, p.net.ID, []network.Peer{own}); err != nil {
		t.Fatalf("SetPeers: %v", err)
	}
	got, _ = d.List(ctx)
	if len(got) != 1 || len(got[0].Peers) != 1 || got[0].Peers[0].NodePort != p.a.port {
		t.Errorf("List with a peer at port zero: %+v; want it once with NodePort %d", got, p.a.port)
	}
}

func TestRemoveNetworkLeavesNothing(t *testing.T) {
	p := newPair(t)
	ctx := context.Background()
	if err := p.a.d.RemoveNetwork(ctx, p.net.ID); err != nil {
		t.Fatalf("RemoveNetwork: %v", err)
	}
	if ns := p.a.namespaces(t); len(ns) != 0 {
		t.Errorf("namespaces left: %v", ns)
	}
	host := mustOpen(t, p.a.settings[setHostNetns])
	defer host.close()
	links, _ := host.h.LinkList()
	for _, l := range links {
		if n := l.Attrs().Name; n != testPrefix+"ul0" && strings.HasPrefix(n, testPrefix) {
			t.Errorf("link %s left in the underlay", n)
		}
	}
	tn := mustOpen(t, p.taskA.Netns)
	defer tn.close()
	if _, err := tn.h.LinkByName("eth1"); !notFound(err) {
		t.Errorf("eth1 left in the task's namespace: %v", err)
	}
	if got, err := p.a.d.List(ctx); err != nil || len(got) != 0 {
		t.Errorf("List after RemoveNetwork = %+v, %v; want nothing", got, err)
	}
	// The VXLAN port and VNI are free again at once.
	if err := p.a.d.EnsureNetwork(ctx, p.net); err != nil {
		t.Errorf("EnsureNetwork after RemoveNetwork: %v", err)
	}
}

func TestTwoNodesOnOneUnderlayNeedTheirOwnPort(t *testing.T) {
	testutil.RequireRoot(t, "programming network namespaces")
	ctx := context.Background()
	under := testNetns(t, "u")
	a := newNode(t, under, "127.0.0.1", 4790)
	b := newNode(t, under, "127.0.0.2", 4790)
	n := testNetwork(77)
	if err := a.d.EnsureNetwork(ctx, n); err != nil {
		t.Fatalf("EnsureNetwork on a: %v", err)
	}
	err := b.d.EnsureNetwork(ctx, n)
	if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), setVXLANPort) {
		t.Fatalf("EnsureNetwork on b with a's port = %v; want an invalid argument naming %s", err, setVXLANPort)
	}
	if ns := b.namespaces(t); len(ns) != 0 {
		t.Errorf("a refused EnsureNetwork left %v", ns)
	}
	b.settings[setVXLANPort] = "4791"
	b.d = b.restart(t)
	if err := b.d.EnsureNetwork(ctx, n); err != nil {
		t.Fatalf("EnsureNetwork on b with its own port: %v", err)
	}
}

func TestCallsOnWhatIsNotThere(t *testing.T) {
	ctx := context.Background()
	n := oneNode(t)
	net := testNetwork(5)
	task := network.Attachment{NetworkID: net.ID, TaskID: "t1", Netns: filepath.Join(nsDir, testPrefix+"-none-"+randHex(6)), Address: netip.MustParsePrefix("10.200.0.2/24")}
	if _, err := n.d.Attach(ctx, task); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("Attach to a network not made = %v, want not found", err)
	}
	if err := n.d.SetPeers(ctx, net.ID, nil); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("SetPeers on a network not made = %v, want not found", err)
	}
	if err := n.d.Detach(ctx, net.ID, "t1"); err != nil {
		t.Errorf("Detach from a network not made: %v", err)
	}
	if err := n.d.RemoveNetwork(ctx, net.ID); err != nil {
		t.Errorf("RemoveNetwork of a network not made: %v", err)
	}
	if err := n.d.EnsureNetwork(ctx, net); err != nil {
		t.Fatalf("EnsureNetwork: %v", err)
	}
	if _, err := n.d.Attach(ctx, task); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("Attach of a namespace that is gone = %v, want not found", err)
	}
}

func TestAnInternalNetworksBridgeHasNoAddress(t *testing.T) {
	ctx := context.Background()
	n := oneNode(t)
	internal := testNetwork(6)
	internal.Internal = true
	if err := n.d.EnsureNetwork(ctx, internal); err != nil {
		t.Fatalf("EnsureNetwork: %v", err)
	}
	nn := mustOpen(t, filepath.Join(nsDir, n.d.config().nsName(internal.ID)))
	defer nn.close()
	br, err := nn.h.LinkByName(bridgeName)
	if err != nil {
		t.Fatalf("bridge: %v", err)
	}
	if a, ok := globalAddr(nn.h, br); ok {
		t.Errorf("internal network's bridge has %s", a)
	}
	got, err := n.restart(t).List(ctx)
	if err != nil || len(got) != 1 || !got[0].Network.Internal || got[0].Network.Gateway != internal.Gateway {
		t.Errorf("List = %+v, %v; want the internal network with its gateway", got, err)
	}
}
