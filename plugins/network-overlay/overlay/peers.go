package overlay

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/network"
)

// fdbEntry is a static forwarding entry on vxlan0: frames to mac go to
// the VXLAN endpoint dst:port.
type fdbEntry struct {
	mac  string
	dst  netip.Addr
	port uint16
}

// SetPeers makes vxlan0's FDB and neighbour entries exactly those of
// peers: it lists what the kernel has, and adds, replaces and removes the
// difference.
func (d *Driver) SetPeers(ctx context.Context, networkID string, peers []network.Peer) error {
	cfg, _, unlock, err := d.start(ctx, networkID)
	if err != nil {
		return err
	}
	defer unlock()
	nn, err := d.openNet(cfg, networkID)
	if err != nil {
		return fmt.Errorf("set peers of network %s: %w", networkID, err)
	}
	defer nn.close()
	vx, err := nn.h.LinkByName(vxlanName)
	if err != nil {
		if notFound(err) {
			err = fmt.Errorf("no VXLAN device in %s (EnsureNetwork first): %w", nn.path, sdk.ErrNotFound)
		}
		return fmt.Errorf("set peers of network %s: %w", networkID, err)
	}
	wantFDB, wantNeigh, err := desiredPeers(vxlanPort(vx, cfg), networkID, peers)
	if err != nil {
		return err
	}
	if err := syncFDB(nn, vx.Attrs().Index, vxlanPort(vx, cfg), wantFDB); err != nil {
		return fmt.Errorf("set peers of network %s: %w", networkID, err)
	}
	if err := syncNeigh(nn.h, vx.Attrs().Index, wantNeigh); err != nil {
		return fmt.Errorf("set peers of network %s: %w", networkID, err)
	}
	d.log.Debug("peers set", "network_id", networkID, "peers", len(peers))
	return nil
}

// vxlanPort is the UDP port of the VXLAN device vx.
func vxlanPort(vx netlink.Link, cfg config) uint16 {
	if v, ok := vx.(*netlink.Vxlan); ok && v.Port != 0 {
		return uint16(v.Port)
	}
	return cfg.port
}

// desiredPeers checks peers and returns the FDB entries by MAC and the
// neighbour entries (address → MAC) they make; a peer's port zero is the
// device's own, port.
func desiredPeers(port uint16, networkID string, peers []network.Peer) (map[string]fdbEntry, map[netip.Addr]string, error) {
	fdb := map[string]fdbEntry{}
	neigh := map[netip.Addr]string{}
	for _, p := range peers {
		mac, err := net.ParseMAC(p.MAC)
		switch {
		case err != nil || len(mac) != 6:
			return nil, nil, invalid("network %s: peer %s: MAC %q is no Ethernet address", networkID, p.Address, p.MAC)
		case !p.Address.IsValid() || !p.NodeAddr.IsValid():
			return nil, nil, invalid("network %s: peer %s: an address and a node address are needed", networkID, p.MAC)
		}
		e := fdbEntry{mac: mac.String(), dst: p.NodeAddr.Unmap(), port: p.NodePort}
		if e.port == 0 {
			e.port = port
		}
		if old, ok := fdb[e.mac]; ok && old != e {
			return nil, nil, invalid("network %s: MAC %s is at two nodes, %s and %s", networkID, e.mac, old.dst, e.dst)
		}
		fdb[e.mac] = e
		a := p.Address.Unmap()
		if old, ok := neigh[a]; ok && old != e.mac {
			return nil, nil, invalid("network %s: address %s has two MACs, %s and %s", networkID, a, old, e.mac)
		}
		neigh[a] = e.mac
	}
	return fdb, neigh, nil
}

func syncFDB(nn *netNS, vx int, port uint16, want map[string]fdbEntry) error {
	have, err := fdbList(nn, vx, port)
	if err != nil {
		return err
	}
	haveByMAC := map[string]fdbEntry{}
	for _, e := range have {
		if w, ok := want[e.mac]; !ok || w != e {
			if err := fdbRequest(nn, unix.RTM_DELNEIGH, 0, vx, e); err != nil && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("remove FDB entry %s → %s: %w", e.mac, e.dst, err)
			}
			continue
		}
		haveByMAC[e.mac] = e
	}
	for _, mac := range sortedKeys(want) {
		if _, ok := haveByMAC[mac]; ok {
			continue
		}
		e := want[mac]
		if err := fdbRequest(nn, unix.RTM_NEWNEIGH, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, vx, e); err != nil {
			return fmt.Errorf("FDB entry %s → %s: %w", e.mac, e.dst, err)
		}
	}
	return nil
}

func syncNeigh(h *netlink.Handle, vx int, want map[netip.Addr]string) error {
	have, err := neighList(h, vx)
	if err != nil {
		return err
	}
	for a, mac := range have {
		if want[a] != mac {
			n := netlink.Neigh{LinkIndex: vx, IP: ipOf(a)}
			if err := h.NeighDel(&n); err != nil && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("remove neighbour %s: %w", a, err)
			}
		}
	}
	addrs := make([]netip.Addr, 0, len(want))
	for a := range want {
		addrs = append(addrs, a)
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i].Less(addrs[j]) })
	for _, a := range addrs {
		if have[a] == want[a] {
			continue
		}
		mac, _ := net.ParseMAC(want[a])
		n := netlink.Neigh{LinkIndex: vx, IP: ipOf(a), HardwareAddr: mac, State: netlink.NUD_PERMANENT}
		if err := h.NeighSet(&n); err != nil {
			return fmt.Errorf("neighbour %s → %s: %w", a, mac, err)
		}
	}
	return nil
}

// neighList returns vxlan0's permanent neighbour entries (the ones
// SetPeers makes; the kernel's own are left alone).
func neighList(h *netlink.Handle, vx int) (map[netip.Addr]string, error) {
	have := map[netip.Addr]string{}
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		ns, err := h.NeighList(vx, fam)
		if err != nil {
			return nil, fmt.Errorf("list neighbours: %w", err)
		}
		for _, n := range ns {
			if n.State&netlink.NUD_PERMANENT == 0 {
				continue
			}
			if a, ok := netip.AddrFromSlice(n.IP); ok {
				have[a.Unmap()] = n.HardwareAddr.String()
			}
		}
	}
	return have, nil
}

// fdbList returns vxlan0's own FDB entries with a remote, each with its
// port (the kernel leaves the port out when it is the device's own, port).
// netlink's Neigh has no NDA_PORT, so the FDB is read and written with raw
// requests.
func fdbList(nn *netNS, vx int, port uint16) ([]fdbEntry, error) {
	req := nl.NewNetlinkRequest(unix.RTM_GETNEIGH, unix.NLM_F_DUMP)
	req.AddData(&netlink.Ndmsg{Family: unix.AF_BRIDGE})
	msgs, err := execIn(nn, req, unix.RTM_NEWNEIGH)
	if err != nil {
		return nil, fmt.Errorf("list FDB: %w", err)
	}
	var out []fdbEntry
	for _, m := range msgs {
		if e, ok := parseFDB(m, vx); ok {
			if e.port == 0 {
				e.port = port
			}
			out = append(out, e)
		}
	}
	return out, nil
}

const sizeofNdmsg = 12

func parseFDB(m []byte, vx int) (fdbEntry, bool) {
	if len(m) < sizeofNdmsg {
		return fdbEntry{}, false
	}
	// struct ndmsg: family u8, pad u8, pad u16, ifindex s32, state u16, flags u8, type u8.
	family, index, flags := m[0], int(int32(binary.NativeEndian.Uint32(m[4:8]))), m[10]
	if family != unix.AF_BRIDGE || index != vx || flags&unix.NTF_SELF == 0 {
		return fdbEntry{}, false
	}
	attrs, err := nl.ParseRouteAttr(m[sizeofNdmsg:])
	if err != nil {
		return fdbEntry{}, false
	}
	var e fdbEntry
	for _, a := range attrs {
		switch a.Attr.Type {
		case unix.NDA_LLADDR:
			e.mac = net.HardwareAddr(a.Value).String()
		case unix.NDA_DST:
			if ip, ok := netip.AddrFromSlice(a.Value); ok {
				e.dst = ip.Unmap()
			}
		case unix.NDA_PORT:
			if len(a.Value) == 2 {
				e.port = binary.BigEndian.Uint16(a.Value)
			}
		}
	}
	return e, e.mac != "" && e.dst.IsValid()
}

func fdbRequest(nn *netNS, typ uint16, flags, vx int, e fdbEntry) error {
	req := nl.NewNetlinkRequest(int(typ), flags|unix.NLM_F_ACK)
	req.AddData(&netlink.Ndmsg{Family: unix.AF_BRIDGE, Index: uint32(vx), State: netlink.NUD_PERMANENT, Flags: unix.NTF_SELF})
	mac, _ := net.ParseMAC(e.mac)
	req.AddData(nl.NewRtAttr(unix.NDA_LLADDR, mac))
	req.AddData(nl.NewRtAttr(unix.NDA_DST, e.dst.AsSlice()))
	req.AddData(nl.NewRtAttr(unix.NDA_PORT, binary.BigEndian.AppendUint16(nil, e.port)))
	_, err := execIn(nn, req, 0)
	return err
}

// execIn runs a raw netlink request on a socket in nn's namespace.
func execIn(nn *netNS, req *nl.NetlinkRequest, resType uint16) ([][]byte, error) {
	s, err := nl.GetNetlinkSocketAt(nn.ns, netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket in %s: %w", nn.path, err)
	}
	defer s.Close()
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: {Socket: s}}
	return req.Execute(unix.NETLINK_ROUTE, resType)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
