package network

import (
	"fmt"
	"math"
	"net/netip"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/internal/pb"
)

// Conversions between the network kind's Go types and their wire form.
// Addresses and prefixes travel as net/netip's text form, "" for the zero
// value, so that each comes back exactly as it left. Reading them back is
// the only conversion that can fail: the error names the field and wraps
// sdk.ErrInvalidArgument. The server adapter returns it to hive as a
// status (sdk.ToStatus); the client adapter returns it as the error of the
// call, for a plugin that answered what hive cannot read.

// textToPB is the wire form of an address or prefix.
func textToPB[T interface {
	IsValid() bool
	String() string
}](v T) string {
	if !v.IsValid() {
		return ""
	}
	return v.String()
}

// textFromPB parses the wire form of an address or prefix with parse.
func textFromPB[T any](field, s string, parse func(string) (T, error)) (T, error) {
	var v T
	if s == "" {
		return v, nil
	}
	v, err := parse(s)
	if err != nil {
		return v, fmt.Errorf("%s: %w: %w", field, err, sdk.ErrInvalidArgument)
	}
	return v, nil
}

func networkToPB(n Network) *pb.NetworkSpec {
	return &pb.NetworkSpec{
		Id:       n.ID,
		Name:     n.Name,
		Vni:      n.VNI,
		Subnet:   textToPB(n.Subnet),
		Gateway:  textToPB(n.Gateway),
		Mtu:      int64(n.MTU),
		Internal: n.Internal,
		Options:  n.Options,
	}
}

func networkFromPB(p *pb.NetworkSpec) (Network, error) {
	n := Network{
		ID:       p.GetId(),
		Name:     p.GetName(),
		VNI:      p.GetVni(),
		MTU:      int(p.GetMtu()),
		Internal: p.GetInternal(),
		Options:  p.GetOptions(),
	}
	var err error
	if n.Subnet, err = textFromPB("subnet", p.GetSubnet(), netip.ParsePrefix); err != nil {
		return Network{}, fmt.Errorf("network %s: %w", n.ID, err)
	}
	if n.Gateway, err = textFromPB("gateway", p.GetGateway(), netip.ParseAddr); err != nil {
		return Network{}, fmt.Errorf("network %s: %w", n.ID, err)
	}
	return n, nil
}

func attachmentToPB(a Attachment) *pb.NetworkAttachment {
	return &pb.NetworkAttachment{
		NetworkId: a.NetworkID,
		TaskId:    a.TaskID,
		Netns:     a.Netns,
		Address:   textToPB(a.Address),
		Mac:       a.MAC,
	}
}

func attachmentFromPB(p *pb.NetworkAttachment) (Attachment, error) {
	a := Attachment{NetworkID: p.GetNetworkId(), TaskID: p.GetTaskId(), Netns: p.GetNetns(), MAC: p.GetMac()}
	var err error
	if a.Address, err = textFromPB("address", p.GetAddress(), netip.ParsePrefix); err != nil {
		return Attachment{}, fmt.Errorf("attachment of task %s to network %s: %w", a.TaskID, a.NetworkID, err)
	}
	return a, nil
}

func peersToPB(peers []Peer) []*pb.NetworkPeer {
	if len(peers) == 0 {
		return nil
	}
	out := make([]*pb.NetworkPeer, len(peers))
	for i, p := range peers {
		out[i] = &pb.NetworkPeer{
			Address:  textToPB(p.Address),
			Mac:      p.MAC,
			NodeAddr: textToPB(p.NodeAddr),
			NodePort: uint32(p.NodePort),
		}
	}
	return out
}

func peersFromPB(peers []*pb.NetworkPeer) ([]Peer, error) {
	if len(peers) == 0 {
		return nil, nil
	}
	out := make([]Peer, len(peers))
	for i, p := range peers {
		peer := Peer{MAC: p.GetMac()}
		var err error
		if peer.Address, err = textFromPB("address", p.GetAddress(), netip.ParseAddr); err != nil {
			return nil, fmt.Errorf("peer %d: %w", i, err)
		}
		if peer.NodeAddr, err = textFromPB("node address", p.GetNodeAddr(), netip.ParseAddr); err != nil {
			return nil, fmt.Errorf("peer %s: %w", peer.Address, err)
		}
		if p.GetNodePort() > math.MaxUint16 {
			return nil, fmt.Errorf("peer %s: node port %d is not a UDP port: %w", peer.Address, p.GetNodePort(), sdk.ErrInvalidArgument)
		}
		peer.NodePort = uint16(p.GetNodePort())
		out[i] = peer
	}
	return out, nil
}

func statesToPB(states []NetworkState) []*pb.NetworkState {
	out := make([]*pb.NetworkState, len(states))
	for i, s := range states {
		ps := &pb.NetworkState{Network: networkToPB(s.Network), Peers: peersToPB(s.Peers)}
		for _, a := range s.Attachments {
			ps.Attachments = append(ps.Attachments, attachmentToPB(a))
		}
		out[i] = ps
	}
	return out
}

func statesFromPB(states []*pb.NetworkState) ([]NetworkState, error) {
	if len(states) == 0 {
		return nil, nil
	}
	out := make([]NetworkState, len(states))
	for i, ps := range states {
		n, err := networkFromPB(ps.GetNetwork())
		if err != nil {
			return nil, err
		}
		s := NetworkState{Network: n}
		for _, pa := range ps.GetAttachments() {
			a, err := attachmentFromPB(pa)
			if err != nil {
				return nil, err
			}
			s.Attachments = append(s.Attachments, a)
		}
		if s.Peers, err = peersFromPB(ps.GetPeers()); err != nil {
			return nil, fmt.Errorf("network %s: %w", n.ID, err)
		}
		out[i] = s
	}
	return out, nil
}
