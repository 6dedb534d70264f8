package overlay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"path/filepath"
	"sort"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/network"
)

// maxVNI is the largest VXLAN network identifier (24 bits).
const maxVNI = 1<<24 - 1

// maxAlias is the longest interface alias Linux keeps (IFALIASZ - 1).
const maxAlias = 255

// netAlias is what the bridge's alias records of its network: what the
// kernel cannot tell otherwise.
type netAlias struct {
	Node     string `json:"node,omitempty"`
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"`
	Subnet   string `json:"subnet,omitempty"`
	Internal bool   `json:"internal,omitempty"`
	// Gateway is kept for internal networks, whose bridge has no address.
	Gateway string `json:"gateway,omitempty"`
}

func (a netAlias) encode() string {
	b, _ := json.Marshal(a)
	if len(b) > maxAlias && a.Name != "" {
		a.Name = "" // the name is for messages only
		b, _ = json.Marshal(a)
	}
	return string(b)
}

// openNet opens the network's namespace; a missing one wraps
// sdk.ErrNotFound.
func (d *Driver) openNet(cfg config, networkID string) (*netNS, error) {
	path := filepath.Join(nsDir, cfg.nsName(networkID))
	nn, err := openNS(path)
	if errors.Is(err, sdk.ErrNotFound) {
		return nil, fmt.Errorf("network %s: no namespace %s on this node (EnsureNetwork first): %w", networkID, path, sdk.ErrNotFound)
	}
	return nn, err
}

// EnsureNetwork creates the network's namespace, bridge and VXLAN device,
// or brings existing ones in line with n.
func (d *Driver) EnsureNetwork(ctx context.Context, n network.Network) error {
	if err := checkNetwork(n); err != nil {
		return err
	}
	cfg, e, unlock, err := d.start(ctx, n.ID)
	if err != nil {
		return err
	}
	defer unlock()

	host, err := openNS(cfg.hostNetns)
	if err != nil {
		return fmt.Errorf("ensure network %s: underlay: %w", n.ID, err)
	}
	defer host.close()
	mtu := n.MTU
	if mtu == 0 {
		mtu = underlayMTU(host.h, cfg.local) - encapOverhead
	}
	name := cfg.nsName(n.ID)
	created, err := createNetns(name)
	if err != nil {
		return fmt.Errorf("ensure network %s: %w", n.ID, err)
	}
	if err := ensureIn(host.h, cfg, n, name, mtu); err != nil {
		if created {
			// A network refused (a VXLAN port in use) leaves nothing.
			_ = removeNetns(name)
		}
		return fmt.Errorf("ensure network %s: %w", n.ID, err)
	}
	e.options = maps.Clone(n.Options)
	d.log.Debug("network ensured", "network_id", n.ID, "netns", name, "vni", n.VNI, "mtu", mtu)
	return nil
}

// ensureIn makes the network's bridge and VXLAN device in its namespace
// name, and gives its attachments its MTU.
func ensureIn(host *netlink.Handle, cfg config, n network.Network, name string, mtu int) error {
	nn, err := openNS(filepath.Join(nsDir, name))
	if err != nil {
		return err
	}
	defer nn.close()
	alias := netAlias{Node: cfg.nodeID, ID: n.ID, Name: n.Name, Subnet: n.Subnet.String(), Internal: n.Internal}
	if n.Internal && n.Gateway.IsValid() {
		alias.Gateway = n.Gateway.String()
	}
	br, err := ensureBridge(nn.h, n, mtu, alias)
	if err != nil {
		return err
	}
	if err := ensureVXLAN(host, nn, cfg, n, mtu, br, name); err != nil {
		return err
	}
	if err := syncAttachmentMTU(nn.h, br, mtu); err != nil {
		return err
	}
	if lo, err := nn.h.LinkByName("lo"); err == nil {
		_ = nn.h.LinkSetUp(lo)
	}
	return nil
}

// removeNetns deletes the links of the namespace name, then the namespace.
func removeNetns(name string) error {
	if nn, err := openNS(filepath.Join(nsDir, name)); err == nil {
		err := deleteLinks(nn.h)
		nn.close()
		if err != nil {
			return err
		}
	} else if !errors.Is(err, sdk.ErrNotFound) {
		return err
	}
	return deleteNetns(name)
}

func checkNetwork(n network.Network) error {
	switch {
	case n.ID == "":
		return invalid("network without an ID")
	case n.VNI == 0 || n.VNI > maxVNI:
		return invalid("network %s: VNI %d is out of 1..%d", n.ID, n.VNI, maxVNI)
	case !n.Subnet.IsValid():
		return invalid("network %s: no subnet", n.ID)
	case n.Gateway.IsValid() && !n.Subnet.Contains(n.Gateway):
		return invalid("network %s: gateway %s is outside subnet %s", n.ID, n.Gateway, n.Subnet)
	case n.MTU < 0 || n.MTU > 0 && n.MTU < 68:
		return invalid("network %s: MTU %d is below 68", n.ID, n.MTU)
	}
	if len(n.Options) > 0 {
		keys := make([]string, 0, len(n.Options))
		for k := range n.Options {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return invalid("network %s: unknown driver option %q (the overlay driver takes none)", n.ID, keys[0])
	}
	return nil
}

// underlayMTU is the MTU of the underlay interface holding local, or of
// the default route's, or 1500.
func underlayMTU(h *netlink.Handle, local netip.Addr) int {
	links, err := h.LinkList()
	if err != nil {
		return 1500
	}
	byIndex := map[int]netlink.Link{}
	for _, l := range links {
		byIndex[l.Attrs().Index] = l
	}
	if local.IsValid() {
		addrs, _ := h.AddrList(nil, netlink.FAMILY_ALL)
		for _, a := range addrs {
			if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == local {
				if l := byIndex[a.LinkIndex]; l != nil {
					return l.Attrs().MTU
				}
			}
		}
	}
	routes, _ := h.RouteList(nil, netlink.FAMILY_V4)
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.IsUnspecified() {
			if l := byIndex[r.LinkIndex]; l != nil {
				return l.Attrs().MTU
			}
		}
	}
	return 1500
}

func ensureBridge(h *netlink.Handle, n network.Network, mtu int, alias netAlias) (netlink.Link, error) {
	br, err := h.LinkByName(bridgeName)
	if notFound(err) {
		if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: bridgeName, MTU: mtu}}); err != nil {
			return nil, fmt.Errorf("create bridge: %w", err)
		}
		br, err = h.LinkByName(bridgeName)
	}
	if err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	if old, ok := decodeNetAlias(br.Attrs().Alias); ok && (old.ID != alias.ID || old.Node != alias.Node) {
		return nil, fmt.Errorf("the namespace holds network %s of node %q (IDs too alike to tell apart in a name): %w", old.ID, old.Node, sdk.ErrAlreadyExists)
	}
	if br.Attrs().MTU != mtu {
		if err := h.LinkSetMTU(br, mtu); err != nil {
			return nil, fmt.Errorf("bridge MTU %d: %w", mtu, err)
		}
	}
	if a := alias.encode(); br.Attrs().Alias != a {
		if err := h.LinkSetAlias(br, a); err != nil {
			return nil, fmt.Errorf("bridge alias: %w", err)
		}
	}
	var want netip.Prefix
	if !n.Internal && n.Gateway.IsValid() {
		want = netip.PrefixFrom(n.Gateway, n.Subnet.Bits())
	}
	if err := syncAddr(h, br, want); err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	if err := h.LinkSetUp(br); err != nil {
		return nil, fmt.Errorf("bridge up: %w", err)
	}
	return br, nil
}

func decodeNetAlias(s string) (netAlias, bool) {
	var a netAlias
	if json.Unmarshal([]byte(s), &a) != nil || a.ID == "" {
		return a, false
	}
	return a, true
}

// syncAddr leaves link with want as its only global address (none when
// want is invalid); link-local addresses stay.
func syncAddr(h *netlink.Handle, link netlink.Link, want netip.Prefix) error {
	addrs, err := h.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("list addresses of %s: %w", link.Attrs().Name, err)
	}
	have := false
	for _, a := range addrs {
		p := addrPrefix(a)
		if p == want {
			have = true
			continue
		}
		if p.Addr().IsLinkLocalUnicast() {
			continue
		}
		if err := h.AddrDel(link, &a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			return fmt.Errorf("remove address %s from %s: %w", p, link.Attrs().Name, err)
		}
	}
	if want.IsValid() && !have {
		if err := h.AddrReplace(link, &netlink.Addr{IPNet: ipNet(want)}); err != nil {
			return fmt.Errorf("address %s on %s: %w", want, link.Attrs().Name, err)
		}
	}
	return nil
}

func addrPrefix(a netlink.Addr) netip.Prefix {
	ip, _ := netip.AddrFromSlice(a.IP)
	bits, _ := a.Mask.Size()
	return netip.PrefixFrom(ip.Unmap(), bits)
}

func ipNet(p netip.Prefix) *net.IPNet {
	bits := p.Addr().BitLen()
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), bits)}
}

func ipOf(a netip.Addr) net.IP { return net.IP(a.AsSlice()) }

// syncAttachmentMTU gives the veths on br, and their peers in the tasks'
// namespaces, the network's MTU.
func syncAttachmentMTU(h *netlink.Handle, br netlink.Link, mtu int) error {
	links, err := h.LinkList()
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	for _, l := range links {
		ta, ok := decodeTaskAlias(l.Attrs().Alias)
		if l.Type() != "veth" || !ok || l.Attrs().MasterIndex != br.Attrs().Index {
			continue
		}
		if tn, err := openNS(ta.Netns); err == nil {
			if p := peerIn(tn.h, l); p != nil && p.Attrs().MTU != mtu {
				err = tn.h.LinkSetMTU(p, mtu)
			}
			tn.close()
			if err != nil {
				return fmt.Errorf("MTU of task %s's interface: %w", ta.Task, err)
			}
		}
		if l.Attrs().MTU != mtu {
			if err := h.LinkSetMTU(l, mtu); err != nil {
				return fmt.Errorf("MTU of %s: %w", l.Attrs().Name, err)
			}
		}
	}
	return nil
}

// ensureVXLAN makes vxlan0 in the network's namespace as cfg and n say,
// replacing one that differs, on br.
func ensureVXLAN(host *netlink.Handle, nn *netNS, cfg config, n network.Network, mtu int, br netlink.Link, nsName string) error {
	link, err := nn.h.LinkByName(vxlanName)
	switch {
	case err == nil && !vxlanMatches(link, cfg, n):
		if err := nn.h.LinkDel(link); err != nil {
			return fmt.Errorf("replace VXLAN device: %w", err)
		}
		link = nil
	case err != nil && !notFound(err):
		return fmt.Errorf("VXLAN device: %w", err)
	case err != nil:
		link = nil
	}
	if link == nil {
		if link, err = createVXLAN(host, nn, cfg, n, mtu, nsName); err != nil {
			return err
		}
	}
	if link.Attrs().MTU != mtu {
		if err := nn.h.LinkSetMTU(link, mtu); err != nil {
			return fmt.Errorf("VXLAN MTU %d: %w", mtu, err)
		}
	}
	if link.Attrs().MasterIndex != br.Attrs().Index {
		if err := nn.h.LinkSetMaster(link, br); err != nil {
			return fmt.Errorf("VXLAN device on the bridge: %w", err)
		}
	}
	if err := nn.h.LinkSetUp(link); err != nil {
		return fmt.Errorf("VXLAN device up: %w", err)
	}
	return nil
}

func vxlanMatches(link netlink.Link, cfg config, n network.Network) bool {
	vx, ok := link.(*netlink.Vxlan)
	if !ok || vx.VxlanId != int(n.VNI) || vx.Port != int(cfg.port) || vx.Learning || !vx.Proxy {
		return false
	}
	src, _ := netip.AddrFromSlice(vx.SrcAddr)
	return src.Unmap() == cfg.local || !cfg.local.IsValid() && len(vx.SrcAddr) == 0
}

// createVXLAN creates the VXLAN device in the underlay namespace, where
// its UDP socket lives, and moves it into the network's.
func createVXLAN(host *netlink.Handle, nn *netNS, cfg config, n network.Network, mtu int, nsName string) (netlink.Link, error) {
	tmp := cfg.tmpVXLANName(nsName)
	if old, err := host.LinkByName(tmp); err == nil {
		// Left by a call that failed between creation and move.
		if err := host.LinkDel(old); err != nil {
			return nil, fmt.Errorf("remove stale VXLAN device %s: %w", tmp, err)
		}
	}
	vx := &netlink.Vxlan{
		LinkAttrs: netlink.LinkAttrs{Name: tmp, MTU: mtu},
		VxlanId:   int(n.VNI),
		Port:      int(cfg.port),
		Learning:  false,
		Proxy:     true,
	}
	if cfg.local.IsValid() {
		vx.SrcAddr = ipOf(cfg.local)
	}
	if err := host.LinkAdd(vx); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return nil, invalid("a VXLAN device with VNI %d and UDP port %d already exists in the underlay namespace "+
				"(another hive node on this host?): give each node on a host its own VXLAN port with "+
				"hive up|join --data-path-port PORT (config networks.vxlan_port, the driver's %s setting)",
				n.VNI, cfg.port, setVXLANPort)
		}
		return nil, fmt.Errorf("create VXLAN device %s: %w", tmp, err)
	}
	link, err := host.LinkByName(tmp)
	if err == nil {
		err = host.LinkSetNsFd(link, int(nn.ns))
	}
	if err != nil {
		if link != nil {
			_ = host.LinkDel(link)
		}
		return nil, fmt.Errorf("move VXLAN device into %s: %w", nn.path, err)
	}
	moved, err := nn.h.LinkByName(tmp)
	if err == nil {
		err = nn.h.LinkSetName(moved, vxlanName)
	}
	if err != nil {
		if moved != nil {
			_ = nn.h.LinkDel(moved)
		}
		return nil, fmt.Errorf("rename VXLAN device: %w", err)
	}
	return nn.h.LinkByName(vxlanName)
}

// RemoveNetwork deletes the network's links (so that its VXLAN socket is
// released now, not when the kernel gets round to dismantling the
// namespace) and its namespace.
func (d *Driver) RemoveNetwork(ctx context.Context, networkID string) error {
	cfg, e, unlock, err := d.start(ctx, networkID)
	if err != nil {
		return err
	}
	defer unlock()
	name := cfg.nsName(networkID)
	if host, err := openNS(cfg.hostNetns); err == nil {
		if l, err := host.h.LinkByName(cfg.tmpVXLANName(name)); err == nil {
			_ = host.h.LinkDel(l)
		}
		host.close()
	}
	if err := removeNetns(name); err != nil {
		return fmt.Errorf("remove network %s: %w", networkID, err)
	}
	e.options = nil
	d.log.Debug("network removed", "network_id", networkID, "netns", name)
	return nil
}

// deleteLinks deletes every link of a network's namespace but lo: the
// veths (with their peers in the tasks' namespaces), vxlan0 and br0.
func deleteLinks(h *netlink.Handle) error {
	links, err := h.LinkList()
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	var errs []error
	for _, l := range links {
		if l.Attrs().Name == "lo" {
			continue
		}
		if err := h.LinkDel(l); err != nil && !notFound(err) {
			errs = append(errs, fmt.Errorf("delete %s: %w", l.Attrs().Name, err))
		}
	}
	return errors.Join(errs...)
}
