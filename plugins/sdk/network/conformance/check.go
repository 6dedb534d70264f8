package conformance

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"

	"github.com/hiveorch/hive/plugins/sdk/network"
)

// How List must show what was made: each network as EnsureNetwork last
// gave it (an MTU of zero lets the driver choose, so any MTU is then
// right), each attachment as Attach was given it with the MAC Attach
// returned, each peer as SetPeers last gave it (a NodePort of zero is the
// driver's default, so any port is then right). Order does not matter and
// MACs compare in any notation.

func find(states []network.NetworkState, id string) (network.NetworkState, bool) {
	for _, s := range states {
		if s.Network.ID == id {
			return s, true
		}
	}
	return network.NetworkState{}, false
}

// diffState says how got differs from want.
func diffState(got, want network.NetworkState) []string {
	bad := diffNetwork(got.Network, want.Network)
	bad = append(bad, diffSet("attachment", got.Attachments, want.Attachments,
		func(a network.Attachment) string { return a.TaskID }, sameAttachment)...)
	bad = append(bad, diffSet("peer", got.Peers, want.Peers,
		func(p network.Peer) string { return p.Address.String() }, samePeer)...)
	return bad
}

func diffNetwork(got, want network.Network) []string {
	var bad []string
	field := func(name string, g, w any) {
		if g != w {
			bad = append(bad, fmt.Sprintf("network %s: %s is %v, want %v", want.ID, name, g, w))
		}
	}
	field("name", got.Name, want.Name)
	field("VNI", got.VNI, want.VNI)
	field("subnet", got.Subnet, want.Subnet)
	field("gateway", got.Gateway, want.Gateway)
	field("internal", got.Internal, want.Internal)
	if want.MTU != 0 {
		field("MTU", got.MTU, want.MTU)
	}
	if !maps.Equal(got.Options, want.Options) {
		bad = append(bad, fmt.Sprintf("network %s: options are %v, want %v", want.ID, got.Options, want.Options))
	}
	return bad
}

func sameAttachment(got, want network.Attachment) bool {
	return got.NetworkID == want.NetworkID && got.TaskID == want.TaskID && got.Netns == want.Netns &&
		got.Address == want.Address && sameMAC(got.MAC, want.MAC)
}

func samePeer(got, want network.Peer) bool {
	return got.Address == want.Address && sameMAC(got.MAC, want.MAC) && got.NodeAddr == want.NodeAddr &&
		(want.NodePort == 0 || got.NodePort == want.NodePort)
}

// diffSet says how the set got differs from the set want, matching their
// elements by key.
func diffSet[T any](what string, got, want []T, key func(T) string, same func(got, want T) bool) []string {
	var bad []string
	byKey := map[string]T{}
	for _, g := range got {
		k := key(g)
		if _, dup := byKey[k]; dup {
			bad = append(bad, fmt.Sprintf("%s %s is listed twice", what, k))
		}
		byKey[k] = g
	}
	for _, w := range want {
		k := key(w)
		g, ok := byKey[k]
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("%s %s is missing", what, k))
		case !same(g, w):
			bad = append(bad, fmt.Sprintf("%s %s is %s, want %s", what, k, dump(g), dump(w)))
		}
		delete(byKey, k)
	}
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		bad = append(bad, fmt.Sprintf("%s %s should not be there", what, k))
	}
	return bad
}

func parseMAC(s string) (net.HardwareAddr, error) {
	mac, err := net.ParseMAC(s)
	if err == nil && len(mac) != 6 {
		err = fmt.Errorf("%d bytes, want 6", len(mac))
	}
	return mac, err
}

func sameMAC(a, b string) bool {
	ma, errA := parseMAC(a)
	mb, errB := parseMAC(b)
	if errA != nil || errB != nil {
		return a == b
	}
	return slices.Equal(ma, mb)
}

func join(lines []string) string { return strings.Join(lines, "\n  ") }

// dump prints v for a failure message (net/netip values print as text).
func dump(v any) string { return fmt.Sprintf("%+v", v) }
