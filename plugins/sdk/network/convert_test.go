package network

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/internal/pb"
)

func TestServerRefusesWhatItCannotRead(t *testing.T) {
	s := newGRPCServer(NewFake())
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"a subnet with no prefix length", func() error {
			_, err := s.EnsureNetwork(ctx, &pb.EnsureNetworkRequest{Network: &pb.NetworkSpec{Id: "n1", Vni: 1, Subnet: "10.0.0.0"}})
			return err
		}, "network n1: subnet: "},
		{"a bad gateway", func() error {
			_, err := s.EnsureNetwork(ctx, &pb.EnsureNetworkRequest{Network: &pb.NetworkSpec{Id: "n1", Vni: 1, Subnet: "10.0.0.0/24", Gateway: "10.0.0.x"}})
			return err
		}, "network n1: gateway: "},
		{"an address that is no prefix", func() error {
			_, err := s.Attach(ctx, &pb.AttachRequest{Attachment: &pb.NetworkAttachment{NetworkId: "n1", TaskId: "t1", Address: "10.0.0.2"}})
			return err
		}, "attachment of task t1 to network n1: address: "},
		{"a bad peer address", func() error {
			_, err := s.SetPeers(ctx, &pb.SetPeersRequest{NetworkId: "n1", Peers: []*pb.NetworkPeer{{Address: "nope"}}})
			return err
		}, "set peers of network n1: peer 0: address: "},
		{"a bad node address", func() error {
			_, err := s.SetPeers(ctx, &pb.SetPeersRequest{NetworkId: "n1", Peers: []*pb.NetworkPeer{{Address: "10.0.0.3", NodeAddr: "host"}}})
			return err
		}, "set peers of network n1: peer 10.0.0.3: node address: "},
		{"a node port past 16 bits", func() error {
			_, err := s.SetPeers(ctx, &pb.SetPeersRequest{NetworkId: "n1", Peers: []*pb.NetworkPeer{{Address: "10.0.0.3", NodeAddr: "10.1.0.1", NodePort: 70000}}})
			return err
		}, "set peers of network n1: peer 10.0.0.3: node port 70000 is not a UDP port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if status.Code(err) != codes.InvalidArgument || !strings.HasPrefix(status.Convert(err).Message(), tc.want) {
				t.Errorf("got %v, want InvalidArgument starting %q", err, tc.want)
			}
		})
	}
	if calls := s.impl.(*Fake).Calls(); len(calls) != 0 {
		t.Errorf("the driver was called with what the server could not read: %q", calls)
	}
}

// listAnswer is a NetworkClient whose List answers resp.
type listAnswer struct {
	pb.NetworkClient
	resp *pb.ListNetworksResponse
}

func (l listAnswer) List(context.Context, *pb.ListNetworksRequest, ...grpc.CallOption) (*pb.ListNetworksResponse, error) {
	return l.resp, nil
}

func TestClientRefusesAnAnswerItCannotRead(t *testing.T) {
	for _, tc := range []struct {
		name  string
		state *pb.NetworkState
		want  string
	}{
		{"a bad subnet", &pb.NetworkState{Network: &pb.NetworkSpec{Id: "n1", Subnet: "10.0.0.0/33"}},
			"list networks: the plugin answered network n1: subnet: "},
		{"a bad attachment address", &pb.NetworkState{Network: &pb.NetworkSpec{Id: "n1"},
			Attachments: []*pb.NetworkAttachment{{NetworkId: "n1", TaskId: "t1", Address: "::1"}}},
			"list networks: the plugin answered attachment of task t1 to network n1: address: "},
		{"a bad peer", &pb.NetworkState{Network: &pb.NetworkSpec{Id: "n1"}, Peers: []*pb.NetworkPeer{{Address: "10.0.0.3", NodePort: 1 << 16}}},
			"list networks: the plugin answered network n1: peer 10.0.0.3: node port 65536 is not a UDP port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &grpcClient{rpc: listAnswer{resp: &pb.ListNetworksResponse{Networks: []*pb.NetworkState{tc.state}}}}
			states, err := c.List(t.Context())
			if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("List = %+v, %v; want invalid argument starting %q", states, err, tc.want)
			}
		})
	}
}

func TestZeroValuesTravelAsEmpty(t *testing.T) {
	p := networkToPB(Network{ID: "n1"})
	if p.GetSubnet() != "" || p.GetGateway() != "" {
		t.Errorf("zero prefix and address travel as %q and %q, want empty", p.GetSubnet(), p.GetGateway())
	}
	n, err := networkFromPB(p)
	if err != nil || n.Subnet.IsValid() || n.Gateway.IsValid() {
		t.Errorf("empty strings came back as %+v, %v; want the zero values", n, err)
	}
}
