package network

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/internal/fakebase"
)

// Fake is an in-memory Driver for hive's core tests (the agent's network
// reconciliation). It keeps networks, attachments and peers in maps, as a
// real driver keeps them in the kernel, and follows every rule of the
// Driver contract: each call is idempotent; Attach and SetPeers on a
// network EnsureNetwork has not made are sdk.ErrNotFound; EnsureNetwork on
// an existing network keeps its attachments and peers; RemoveNetwork takes
// them with it; Detach and RemoveNetwork of what is not there succeed;
// SetPeers replaces the whole set. It passes the network conformance
// suite.
//
// It refuses with sdk.ErrInvalidArgument what a real driver could not
// make: a network with no ID, no valid subnet, a gateway outside its
// subnet, a VNI of 0, past 24 bits or already another network's, a
// negative MTU, or any option (the Fake knows none); an attachment with no
// task ID, an address outside the network's subnet or with another prefix
// length, or a MAC that is not 6 bytes; peers with an address outside the
// subnet, no node address, a MAC that is not 6 bytes, or two with one
// address.
//
// Namespaces are paths the Fake never opens: each exists until
// SetNetnsGone says it is gone (the task's process exited); then its
// attachments vanish, and Attach into it is sdk.ErrNotFound. Attach names
// the interfaces of a namespace eth0, eth1, ... (the lowest free), and
// derives a MAC from the address when the attachment has none (02:42 and
// the address's last four bytes, as Docker does). Attaching a task again
// with another namespace, address or MAC replaces its attachment. List
// sorts networks by ID, attachments by task ID and peers by address.
//
// Test controls: FailNext (the next call of a method returns a given
// error), SetDown (every call fails wrapping sdk.ErrUnavailable), Calls
// (the methods called), Settings, SetNetnsGone, and Networks (what List
// would return, without counting as a call). A Fake is safe for concurrent
// use; the zero value is not usable, call NewFake.
type Fake struct {
	ctl *fakebase.Controls

	mu       sync.Mutex
	networks map[string]*fakeNetwork
	gone     map[string]bool // namespaces that are gone
}

type fakeNetwork struct {
	net         Network
	attachments map[string]fakeAttachment // by task ID
	peers       []Peer                    // sorted by address
}

type fakeAttachment struct {
	Attachment // MAC filled in
	iface      string
}

var _ Driver = (*Fake)(nil)

// FakeVersion is the version the Fake's Describe reports.
const FakeVersion = "1.0.0"

// maxVNI is the largest VXLAN network identifier (24 bits).
const maxVNI = 1<<24 - 1

// NewFake returns a Fake with no networks.
func NewFake() *Fake {
	return &Fake{
		ctl:      fakebase.New(sdk.Info{Name: "network-fake", Kind: sdk.KindNetwork, Version: FakeVersion}),
		networks: map[string]*fakeNetwork{},
		gone:     map[string]bool{},
	}
}

// FailNext makes the next call of method ("Attach", "Health", ...) return
// err. Several calls queue errors for as many calls.
func (f *Fake) FailNext(method string, err error) { f.ctl.FailNext(method, err) }

// SetDown makes every call fail with an error wrapping sdk.ErrUnavailable
// (down), or work again.
func (f *Fake) SetDown(down bool) { f.ctl.SetDown(down) }

// Calls returns the names of the methods called so far, in order.
func (f *Fake) Calls() []string { return f.ctl.Calls() }

// Settings returns the settings of the last Configure.
func (f *Fake) Settings() map[string]string { return f.ctl.Settings() }

// SetNetnsGone marks the namespace at path as gone, as when its task's
// process exits: its attachments vanish, and Attach into it is
// sdk.ErrNotFound from now on.
func (f *Fake) SetNetnsGone(path string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gone[path] = true
	for _, n := range f.networks {
		maps.DeleteFunc(n.attachments, func(_ string, a fakeAttachment) bool { return a.Netns == path })
	}
}

// Networks returns what List would, without counting as a call.
func (f *Fake) Networks() []NetworkState {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]NetworkState, 0, len(f.networks))
	for _, id := range slices.Sorted(maps.Keys(f.networks)) {
		n := f.networks[id]
		s := NetworkState{Network: cloneNetwork(n.net), Peers: slices.Clone(n.peers)}
		for _, task := range slices.Sorted(maps.Keys(n.attachments)) {
			s.Attachments = append(s.Attachments, n.attachments[task].Attachment)
		}
		out = append(out, s)
	}
	return out
}

// Describe reports the Fake as "network-fake".
func (f *Fake) Describe(ctx context.Context) (sdk.Info, error) { return f.ctl.Describe(ctx) }

// Configure records settings (see Settings); it accepts any.
func (f *Fake) Configure(ctx context.Context, settings map[string]string) error {
	return f.ctl.Configure(ctx, settings)
}

// Health is nil unless the Fake is down or FailNext says otherwise.
func (f *Fake) Health(ctx context.Context) error { return f.ctl.Health(ctx) }

// begin records a call and returns the error it must fail with.
func (f *Fake) begin(ctx context.Context, method string) error {
	if err := f.ctl.Begin(method); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	return nil
}

// EnsureNetwork makes n, or brings the network of n's ID in line with it.
func (f *Fake) EnsureNetwork(ctx context.Context, n Network) error {
	if err := f.begin(ctx, "EnsureNetwork"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkNetworkLocked(n); err != nil {
		return fmt.Errorf("ensure network %s: %w", n.ID, err)
	}
	if have, ok := f.networks[n.ID]; ok {
		have.net = cloneNetwork(n)
		return nil
	}
	f.networks[n.ID] = &fakeNetwork{net: cloneNetwork(n), attachments: map[string]fakeAttachment{}}
	return nil
}

func (f *Fake) checkNetworkLocked(n Network) error {
	switch {
	case n.ID == "":
		return invalid("a network needs an ID")
	case !n.Subnet.IsValid():
		return invalid("a network needs a subnet")
	case n.Gateway.IsValid() && !n.Subnet.Contains(n.Gateway):
		return invalid("gateway %s is outside subnet %s", n.Gateway, n.Subnet)
	case n.VNI == 0 || n.VNI > maxVNI:
		return invalid("VNI %d is not a VXLAN network identifier (1 to %d)", n.VNI, maxVNI)
	case n.MTU < 0:
		return invalid("MTU %d is negative", n.MTU)
	}
	if len(n.Options) > 0 {
		k := slices.Sorted(maps.Keys(n.Options))[0]
		return invalid("option %q is not one network-fake knows (it knows none): remove it", k)
	}
	for id, other := range f.networks {
		if id != n.ID && other.net.VNI == n.VNI {
			return invalid("VNI %d is network %s's: give each network its own", n.VNI, id)
		}
	}
	return nil
}

// RemoveNetwork removes the network with its attachments and peers.
func (f *Fake) RemoveNetwork(ctx context.Context, networkID string) error {
	if err := f.begin(ctx, "RemoveNetwork"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.networks, networkID)
	return nil
}

// Attach attaches a task, or returns its attachment if it has this one.
func (f *Fake) Attach(ctx context.Context, a Attachment) (AttachResult, error) {
	if err := f.begin(ctx, "Attach"); err != nil {
		return AttachResult{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	a, err := f.checkAttachmentLocked(a)
	if err != nil {
		return AttachResult{}, fmt.Errorf("attach task %s to network %s: %w", a.TaskID, a.NetworkID, err)
	}
	n := f.networks[a.NetworkID]
	if have, ok := n.attachments[a.TaskID]; ok && have.Attachment == a {
		return AttachResult{Interface: have.iface, MAC: have.MAC}, nil
	}
	delete(n.attachments, a.TaskID)
	used := map[string]bool{}
	for _, other := range f.networks {
		for _, o := range other.attachments {
			if o.Netns == a.Netns {
				used[o.iface] = true
			}
		}
	}
	iface := "eth0"
	for i := 1; used[iface]; i++ {
		iface = fmt.Sprintf("eth%d", i)
	}
	n.attachments[a.TaskID] = fakeAttachment{Attachment: a, iface: iface}
	return AttachResult{Interface: iface, MAC: a.MAC}, nil
}

// checkAttachmentLocked returns a with its MAC filled in and normalised,
// or why the Fake cannot attach it.
func (f *Fake) checkAttachmentLocked(a Attachment) (Attachment, error) {
	if a.TaskID == "" {
		return a, invalid("an attachment needs a task ID")
	}
	n, ok := f.networks[a.NetworkID]
	if !ok {
		return a, fmt.Errorf("network-fake has no network %q: %w", a.NetworkID, sdk.ErrNotFound)
	}
	if !a.Address.IsValid() || a.Address.Bits() != n.net.Subnet.Bits() || !n.net.Subnet.Contains(a.Address.Addr()) {
		return a, invalid("address %s is not one of subnet %s with its prefix length", a.Address, n.net.Subnet)
	}
	if f.gone[a.Netns] {
		return a, fmt.Errorf("network namespace %s is gone: %w", a.Netns, sdk.ErrNotFound)
	}
	if a.MAC == "" {
		b := a.Address.Addr().As16()
		a.MAC = net.HardwareAddr{0x02, 0x42, b[12], b[13], b[14], b[15]}.String()
		return a, nil
	}
	mac, err := parseMAC(a.MAC)
	a.MAC = mac
	return a, err
}

// Detach removes the task's attachment, if it has one.
func (f *Fake) Detach(ctx context.Context, networkID, taskID string) error {
	if err := f.begin(ctx, "Detach"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if n, ok := f.networks[networkID]; ok {
		delete(n.attachments, taskID)
	}
	return nil
}

// SetPeers replaces the network's peers.
func (f *Fake) SetPeers(ctx context.Context, networkID string, peers []Peer) error {
	if err := f.begin(ctx, "SetPeers"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.networks[networkID]
	if !ok {
		return fmt.Errorf("set peers of network %s: network-fake has no such network: %w", networkID, sdk.ErrNotFound)
	}
	set := make([]Peer, 0, len(peers))
	seen := map[netip.Addr]bool{}
	for _, p := range peers {
		var err error
		switch {
		case !n.net.Subnet.Contains(p.Address):
			err = invalid("peer address %s is outside subnet %s", p.Address, n.net.Subnet)
		case seen[p.Address]:
			err = invalid("two peers have the address %s", p.Address)
		case !p.NodeAddr.IsValid():
			err = invalid("peer %s has no node address", p.Address)
		default:
			p.MAC, err = parseMAC(p.MAC)
		}
		if err != nil {
			return fmt.Errorf("set peers of network %s: %w", networkID, err)
		}
		seen[p.Address] = true
		set = append(set, p)
	}
	slices.SortFunc(set, func(a, b Peer) int { return a.Address.Compare(b.Address) })
	n.peers = set
	return nil
}

// List returns what Networks does.
func (f *Fake) List(ctx context.Context) ([]NetworkState, error) {
	if err := f.begin(ctx, "List"); err != nil {
		return nil, err
	}
	return f.Networks(), nil
}

// parseMAC returns s in its canonical form if it is a 6-byte hardware
// address.
func parseMAC(s string) (string, error) {
	mac, err := net.ParseMAC(s)
	if err != nil || len(mac) != 6 {
		return s, invalid("MAC %q is not a 6-byte hardware address", s)
	}
	return mac.String(), nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, sdk.ErrInvalidArgument)...)
}

func cloneNetwork(n Network) Network {
	n.Options = maps.Clone(n.Options)
	return n
}
