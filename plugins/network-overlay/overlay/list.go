package overlay

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/network"
)

// List reads the node's networks from the kernel: the namespaces named
// with this node's prefix, their bridge and VXLAN device, the veths on the
// bridge (and their peers' addresses in the tasks' namespaces) and the
// FDB and neighbour entries. A network's options are known only when
// EnsureNetwork was called since the plugin started; its MTU is the one
// the interfaces have.
func (d *Driver) List(ctx context.Context) ([]network.NetworkState, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg := d.config()
	dir, err := os.ReadDir(nsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	var out []network.NetworkState
	for _, f := range dir {
		if !strings.HasPrefix(f.Name(), cfg.nsPrefix()) {
			continue
		}
		st, ok, err := d.readNetwork(cfg, f.Name())
		if err != nil {
			return nil, fmt.Errorf("list networks: %s: %w", f.Name(), err)
		}
		if ok {
			out = append(out, st)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Network.ID < out[j].Network.ID })
	return out, nil
}

// readNetwork reads one namespace; ok is false when it is not one of this
// node's networks (or not a whole one: EnsureNetwork failed before making
// its bridge).
func (d *Driver) readNetwork(cfg config, name string) (network.NetworkState, bool, error) {
	nn, err := openNS(filepath.Join(nsDir, name))
	if errors.Is(err, sdk.ErrNotFound) {
		return network.NetworkState{}, false, nil
	}
	if err != nil {
		return network.NetworkState{}, false, err
	}
	defer nn.close()
	br, err := nn.h.LinkByName(bridgeName)
	if notFound(err) {
		return network.NetworkState{}, false, nil
	}
	if err != nil {
		return network.NetworkState{}, false, fmt.Errorf("bridge: %w", err)
	}
	alias, ok := decodeNetAlias(br.Attrs().Alias)
	if !ok || alias.Node != cfg.nodeID || cfg.nsName(alias.ID) != name {
		return network.NetworkState{}, false, nil
	}
	e, unlock := d.lock(alias.ID)
	defer unlock()

	n := network.Network{ID: alias.ID, Name: alias.Name, Internal: alias.Internal, MTU: br.Attrs().MTU, Options: maps.Clone(e.options)}
	n.Subnet, _ = netip.ParsePrefix(alias.Subnet)
	if addr, ok := globalAddr(nn.h, br); ok {
		n.Gateway = addr.Addr()
	} else {
		n.Gateway, _ = netip.ParseAddr(alias.Gateway)
	}
	st := network.NetworkState{Network: n}
	vx, err := nn.h.LinkByName(vxlanName)
	if err != nil && !notFound(err) {
		return st, false, fmt.Errorf("VXLAN device: %w", err)
	}
	if v, ok := vx.(*netlink.Vxlan); ok {
		st.Network.VNI = uint32(v.VxlanId)
		if st.Peers, err = readPeers(nn, v.Attrs().Index, vxlanPort(v, cfg)); err != nil {
			return st, false, err
		}
	}
	if st.Attachments, err = readAttachments(nn.h, br, alias.ID); err != nil {
		return st, false, err
	}
	return st, true, nil
}

// globalAddr returns link's first address that is not link-local.
func globalAddr(h *netlink.Handle, link netlink.Link) (netip.Prefix, bool) {
	addrs, err := h.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return netip.Prefix{}, false
	}
	for _, a := range addrs {
		if p := addrPrefix(a); !p.Addr().IsLinkLocalUnicast() {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// readAttachments returns the tasks whose veths are on br, each with the
// address and MAC of its interface when its namespace can be read.
func readAttachments(h *netlink.Handle, br netlink.Link, networkID string) ([]network.Attachment, error) {
	links, err := h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	var out []network.Attachment
	for _, l := range links {
		ta, ok := decodeTaskAlias(l.Attrs().Alias)
		if l.Type() != "veth" || !ok || l.Attrs().MasterIndex != br.Attrs().Index {
			continue
		}
		a := network.Attachment{NetworkID: networkID, TaskID: ta.Task, Netns: ta.Netns}
		if tn, err := openNS(ta.Netns); err == nil {
			if p := peerIn(tn.h, l); p != nil {
				a.MAC = p.Attrs().HardwareAddr.String()
				a.Address, _ = globalAddr(tn.h, p)
			}
			tn.close()
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TaskID < out[j].TaskID })
	return out, nil
}

// readPeers joins vxlan0's neighbour entries (address → MAC) with its FDB
// entries (MAC → node and port, the device's own included); a half of a peer without the other is listed too,
// so that the caller sees it and sets the peers again.
func readPeers(nn *netNS, vx int, port uint16) ([]network.Peer, error) {
	fdb, err := fdbList(nn, vx, port)
	if err != nil {
		return nil, err
	}
	neigh, err := neighList(nn.h, vx)
	if err != nil {
		return nil, err
	}
	byMAC := map[string]fdbEntry{}
	for _, e := range fdb {
		byMAC[e.mac] = e
	}
	used := map[string]bool{}
	var out []network.Peer
	for a, mac := range neigh {
		p := network.Peer{Address: a, MAC: mac}
		if e, ok := byMAC[mac]; ok {
			p.NodeAddr, p.NodePort = e.dst, e.port
			used[mac] = true
		}
		out = append(out, p)
	}
	for _, e := range fdb {
		if !used[e.mac] {
			out = append(out, network.Peer{MAC: e.mac, NodeAddr: e.dst, NodePort: e.port})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Address != out[j].Address {
			return out[i].Address.Less(out[j].Address)
		}
		return out[i].MAC < out[j].MAC
	})
	return out, nil
}
