package conformance

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/network"
)

func (s *suite) testDescribe(t *testing.T) {
	ctx := s.ctx(t)
	info, err := s.d.Describe(ctx)
	if err != nil {
		t.Fatalf("Describe = %v", err)
	}
	if info.Kind != sdk.KindNetwork {
		t.Errorf("Describe: kind %q, want %q", info.Kind, sdk.KindNetwork)
	}
	if info.Name == "" || info.Version == "" {
		t.Errorf("Describe: %+v: name and version must be set", info)
	}
	if err := s.d.Health(ctx); err != nil {
		t.Errorf("Health of a configured driver = %v, want nil", err)
	}
}

func (s *suite) testEnsure(t *testing.T) {
	n := s.ensured(t)
	s.shows(t, s.d, network.NetworkState{Network: n})
}

func (s *suite) testEnsureTwice(t *testing.T) {
	n := s.ensured(t)
	if err := s.d.EnsureNetwork(s.ctx(t), n); err != nil {
		t.Fatalf("EnsureNetwork of a network the node has = %v, want nil", err)
	}
	s.shows(t, s.d, network.NetworkState{Network: n})
}

func (s *suite) testEnsureChanges(t *testing.T) {
	n := s.ensured(t)
	a, _ := s.attach(t, s.attachment(t, n, 2))
	peers := []network.Peer{peer(n, 100, 1, 0)}
	if err := s.d.SetPeers(s.ctx(t), n.ID, peers); err != nil {
		t.Fatalf("SetPeers = %v", err)
	}
	changed := n
	changed.MTU = n.MTU - 50
	if n.MTU == 0 {
		changed.MTU = 1350
	}
	if err := s.d.EnsureNetwork(s.ctx(t), changed); err != nil {
		t.Fatalf("EnsureNetwork with the MTU %d = %v", changed.MTU, err)
	}
	s.shows(t, s.d, network.NetworkState{Network: changed, Attachments: []network.Attachment{a}, Peers: peers})
}

func (s *suite) testEnsureInvalid(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(n *network.Network)
	}{
		{"no ID", func(n *network.Network) { n.ID = "" }},
		{"no subnet", func(n *network.Network) { n.Subnet = netip.Prefix{} }},
		{"a gateway outside the subnet", func(n *network.Network) { n.Gateway = netip.MustParseAddr("203.0.113.1") }},
		{"an option the driver does not know", func(n *network.Network) { n.Options = map[string]string{"no-such-option": "x"} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := s.network(t)
			c.change(&n)
			err := s.d.EnsureNetwork(s.ctx(t), n)
			if !errors.Is(err, sdk.ErrInvalidArgument) {
				t.Fatalf("EnsureNetwork(%s) = %v, want an error wrapping sdk.ErrInvalidArgument", dump(n), err)
			}
			if err.Error() == sdk.ErrInvalidArgument.Error() {
				t.Errorf("EnsureNetwork(%s): error %q does not say what to change", dump(n), err)
			}
			s.absent(t, s.d, n.ID)
		})
	}
}

func (s *suite) testAttachNoNetwork(t *testing.T) {
	n := s.network(t)
	a := s.attachment(t, n, 2)
	if _, err := s.d.Attach(s.ctx(t), a); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("Attach to a network not made = %v, want an error wrapping sdk.ErrNotFound", err)
	}
	s.absent(t, s.d, n.ID)
}

func (s *suite) testAttach(t *testing.T) {
	n := s.ensured(t)
	a1, _ := s.attach(t, s.attachment(t, n, 2))
	a2, _ := s.attach(t, s.attachment(t, n, 3))
	if sameMAC(a1.MAC, a2.MAC) {
		t.Errorf("two tasks got the same MAC %s", a1.MAC)
	}
	s.shows(t, s.d, network.NetworkState{Network: n, Attachments: []network.Attachment{a1, a2}})
}

func (s *suite) testAttachTwice(t *testing.T) {
	n := s.ensured(t)
	a := s.attachment(t, n, 2)
	want, first := s.attach(t, a)
	_, again := s.attach(t, a)
	if again != first {
		t.Errorf("Attach again = %+v, first %+v: want the same", again, first)
	}
	s.shows(t, s.d, network.NetworkState{Network: n, Attachments: []network.Attachment{want}})
}

func (s *suite) testAttachMAC(t *testing.T) {
	n := s.ensured(t)
	a := s.attachment(t, n, 2)
	a.MAC = "02:42:0a:c8:00:99"
	want, res := s.attach(t, a)
	if !sameMAC(res.MAC, a.MAC) {
		t.Errorf("Attach with the MAC %s returned the MAC %s", a.MAC, res.MAC)
	}
	s.shows(t, s.d, network.NetworkState{Network: n, Attachments: []network.Attachment{want}})
}

func (s *suite) testAttachTwoNetworks(t *testing.T) {
	n1, n2 := s.ensured(t), s.ensured(t)
	a1 := s.attachment(t, n1, 2)
	a2 := s.attachment(t, n2, 2)
	a2.TaskID, a2.Netns = a1.TaskID, a1.Netns
	a1, r1 := s.attach(t, a1)
	a2, r2 := s.attach(t, a2)
	if r1.Interface == r2.Interface {
		t.Errorf("the task's interfaces on two networks are both named %q", r1.Interface)
	}
	s.shows(t, s.d, network.NetworkState{Network: n1, Attachments: []network.Attachment{a1}})
	s.shows(t, s.d, network.NetworkState{Network: n2, Attachments: []network.Attachment{a2}})
}

func (s *suite) testAttachGoneNetns(t *testing.T) {
	n := s.ensured(t)
	a := s.attachment(t, n, 2)
	a.Netns = s.opts.GoneNetns(t)
	if _, err := s.d.Attach(s.ctx(t), a); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("Attach into the gone namespace %s = %v, want an error wrapping sdk.ErrNotFound", a.Netns, err)
	}
	s.shows(t, s.d, network.NetworkState{Network: n})
}

func (s *suite) testAttachInvalid(t *testing.T) {
	n := s.ensured(t)
	for _, c := range []struct {
		name   string
		change func(a *network.Attachment)
	}{
		{"no task ID", func(a *network.Attachment) { a.TaskID = "" }},
		{"an address outside the subnet", func(a *network.Attachment) { a.Address = netip.MustParsePrefix("203.0.113.5/24") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := s.attachment(t, n, 2)
			c.change(&a)
			if _, err := s.d.Attach(s.ctx(t), a); !errors.Is(err, sdk.ErrInvalidArgument) {
				t.Fatalf("Attach(%s) = %v, want an error wrapping sdk.ErrInvalidArgument", dump(a), err)
			}
			s.shows(t, s.d, network.NetworkState{Network: n})
		})
	}
}

func (s *suite) testDetach(t *testing.T) {
	n := s.ensured(t)
	gone, _ := s.attach(t, s.attachment(t, n, 2))
	kept, _ := s.attach(t, s.attachment(t, n, 3))
	for range 2 {
		if err := s.d.Detach(s.ctx(t), n.ID, gone.TaskID); err != nil {
			t.Fatalf("Detach(%s, %s) = %v", n.ID, gone.TaskID, err)
		}
		s.shows(t, s.d, network.NetworkState{Network: n, Attachments: []network.Attachment{kept}})
	}
	if err := s.d.Detach(s.ctx(t), s.network(t).ID, gone.TaskID); err != nil {
		t.Errorf("Detach from a network not made = %v, want nil", err)
	}
}

func (s *suite) testSetPeersNoNetwork(t *testing.T) {
	n := s.network(t)
	if err := s.d.SetPeers(s.ctx(t), n.ID, []network.Peer{peer(n, 100, 1, 0)}); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("SetPeers of a network not made = %v, want an error wrapping sdk.ErrNotFound", err)
	}
	s.absent(t, s.d, n.ID)
}

func (s *suite) testSetPeers(t *testing.T) {
	n := s.ensured(t)
	a, _ := s.attach(t, s.attachment(t, n, 2))
	for _, c := range []struct {
		name  string
		peers []network.Peer
	}{
		{"two peers on two nodes", []network.Peer{peer(n, 100, 1, 0), peer(n, 101, 2, 4790)}},
		{"the same set again", []network.Peer{peer(n, 100, 1, 0), peer(n, 101, 2, 4790)}},
		{"one kept one gone one new", []network.Peer{peer(n, 101, 2, 4790), peer(n, 102, 1, 0)}},
		{"a peer moved to another node", []network.Peer{peer(n, 101, 3, 0), peer(n, 102, 1, 0)}},
		{"three on one node", []network.Peer{peer(n, 103, 1, 0), peer(n, 104, 1, 0), peer(n, 105, 1, 0)}},
		{"none", nil},
		{"one again after none", []network.Peer{peer(n, 100, 1, 0)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := s.d.SetPeers(s.ctx(t), n.ID, c.peers); err != nil {
				t.Fatalf("SetPeers(%s) = %v", dump(c.peers), err)
			}
			s.shows(t, s.d, network.NetworkState{Network: n, Attachments: []network.Attachment{a}, Peers: c.peers})
		})
	}
}

func (s *suite) testRemove(t *testing.T) {
	n := s.ensured(t)
	a := s.attachment(t, n, 2)
	s.attach(t, a)
	if err := s.d.SetPeers(s.ctx(t), n.ID, []network.Peer{peer(n, 100, 1, 0)}); err != nil {
		t.Fatalf("SetPeers = %v", err)
	}
	for range 2 {
		if err := s.d.RemoveNetwork(s.ctx(t), n.ID); err != nil {
			t.Fatalf("RemoveNetwork(%s) = %v", n.ID, err)
		}
		s.absent(t, s.d, n.ID)
	}
	if _, err := s.d.Attach(s.ctx(t), a); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("Attach to a removed network = %v, want an error wrapping sdk.ErrNotFound", err)
	}
	// Made again, the network has neither the old attachment nor the old peers.
	if err := s.d.EnsureNetwork(s.ctx(t), n); err != nil {
		t.Fatalf("EnsureNetwork after RemoveNetwork = %v", err)
	}
	s.shows(t, s.d, network.NetworkState{Network: n})
}

func (s *suite) testRemoveMissing(t *testing.T) {
	n := s.network(t)
	if err := s.d.RemoveNetwork(s.ctx(t), n.ID); err != nil {
		t.Fatalf("RemoveNetwork of a network not made = %v, want nil", err)
	}
}

func (s *suite) testIndependent(t *testing.T) {
	n1, n2 := s.ensured(t), s.ensured(t)
	a1, _ := s.attach(t, s.attachment(t, n1, 2))
	a2, _ := s.attach(t, s.attachment(t, n2, 2))
	p1 := []network.Peer{peer(n1, 100, 1, 0)}
	p2 := []network.Peer{peer(n2, 100, 2, 0), peer(n2, 101, 2, 0)}
	if err := s.d.SetPeers(s.ctx(t), n1.ID, p1); err != nil {
		t.Fatalf("SetPeers(%s) = %v", n1.ID, err)
	}
	if err := s.d.SetPeers(s.ctx(t), n2.ID, p2); err != nil {
		t.Fatalf("SetPeers(%s) = %v", n2.ID, err)
	}
	s.shows(t, s.d, network.NetworkState{Network: n1, Attachments: []network.Attachment{a1}, Peers: p1})
	s.shows(t, s.d, network.NetworkState{Network: n2, Attachments: []network.Attachment{a2}, Peers: p2})
	if err := s.d.RemoveNetwork(s.ctx(t), n1.ID); err != nil {
		t.Fatalf("RemoveNetwork(%s) = %v", n1.ID, err)
	}
	s.absent(t, s.d, n1.ID)
	s.shows(t, s.d, network.NetworkState{Network: n2, Attachments: []network.Attachment{a2}, Peers: p2})
}

func (s *suite) testConcurrent(t *testing.T) {
	const n = 4
	nets := make([]network.Network, n)
	atts := make([][]network.Attachment, n)
	for i := range nets {
		nets[i] = s.network(t)
		atts[i] = []network.Attachment{s.attachment(t, nets[i], 2), s.attachment(t, nets[i], 3)}
	}
	ctx := s.ctx(t)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, net := range nets {
		wg.Go(func() {
			errs[i] = s.lifecycle(ctx, net, atts[i])
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for _, net := range nets {
		s.absent(t, s.d, net.ID)
	}
}

// lifecycle makes n, attaches atts, sets a peer, lists, detaches and
// removes n, as hive does over a network's life on a node.
func (s *suite) lifecycle(ctx context.Context, n network.Network, atts []network.Attachment) error {
	if err := s.d.EnsureNetwork(ctx, n); err != nil {
		return fmt.Errorf("network %s: EnsureNetwork: %w", n.ID, err)
	}
	for _, a := range atts {
		if _, err := s.d.Attach(ctx, a); err != nil {
			return fmt.Errorf("network %s: Attach(%s): %w", n.ID, a.TaskID, err)
		}
	}
	if err := s.d.SetPeers(ctx, n.ID, []network.Peer{peer(n, 100, 1, 0)}); err != nil {
		return fmt.Errorf("network %s: SetPeers: %w", n.ID, err)
	}
	states, err := s.d.List(ctx)
	if err != nil {
		return fmt.Errorf("network %s: List: %w", n.ID, err)
	}
	if got, ok := find(states, n.ID); !ok || len(got.Attachments) != len(atts) || len(got.Peers) != 1 {
		return fmt.Errorf("network %s: List shows %s, want %d attachments and 1 peer", n.ID, dump(got), len(atts))
	}
	for _, a := range atts {
		if err := s.d.Detach(ctx, n.ID, a.TaskID); err != nil {
			return fmt.Errorf("network %s: Detach(%s): %w", n.ID, a.TaskID, err)
		}
	}
	if err := s.d.RemoveNetwork(ctx, n.ID); err != nil {
		return fmt.Errorf("network %s: RemoveNetwork: %w", n.ID, err)
	}
	return nil
}

func (s *suite) testCancelled(t *testing.T) {
	n := s.network(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.d.EnsureNetwork(ctx, n); err == nil {
		t.Fatal("EnsureNetwork with a cancelled context: no error")
	}
}

func (s *suite) testRestart(t *testing.T) {
	if s.opts.Restart == nil {
		t.Skip("Options.Restart is not set")
	}
	n := s.ensured(t)
	a := s.attachment(t, n, 2)
	want, first := s.attach(t, a)
	peers := []network.Peer{peer(n, 100, 1, 0), peer(n, 101, 2, 4790)}
	if err := s.d.SetPeers(s.ctx(t), n.ID, peers); err != nil {
		t.Fatalf("SetPeers = %v", err)
	}

	d := s.opts.Restart(t)
	state := network.NetworkState{Network: n, Attachments: []network.Attachment{want}, Peers: peers}
	s.shows(t, d, state)
	// hive's agent then makes every call again; none changes anything.
	if err := d.EnsureNetwork(s.ctx(t), n); err != nil {
		t.Fatalf("EnsureNetwork after a restart = %v", err)
	}
	again, err := d.Attach(s.ctx(t), a)
	if err != nil || again != first {
		t.Fatalf("Attach after a restart = %+v, %v; want %+v as before", again, err, first)
	}
	if err := d.SetPeers(s.ctx(t), n.ID, peers); err != nil {
		t.Fatalf("SetPeers after a restart = %v", err)
	}
	s.shows(t, d, state)
	if err := d.Detach(s.ctx(t), n.ID, a.TaskID); err != nil {
		t.Fatalf("Detach after a restart = %v", err)
	}
	state.Attachments = nil
	s.shows(t, d, state)
}
