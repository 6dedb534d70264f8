package network

import (
	"context"
	"fmt"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/internal/base"
	"github.com/hiveorch/hive/plugins/sdk/internal/pb"
)

// grpcServer is the plugin side of the wire: it serves a Driver over gRPC,
// converting the driver's errors, and the requests it cannot read, to
// gRPC status codes (sdk.ToStatus).
type grpcServer struct {
	base.Server
	impl Driver
}

var _ pb.NetworkServer = (*grpcServer)(nil)

func newGRPCServer(impl Driver) *grpcServer {
	return &grpcServer{Server: base.Server{Impl: impl}, impl: impl}
}

func (s *grpcServer) EnsureNetwork(ctx context.Context, req *pb.EnsureNetworkRequest) (*pb.EnsureNetworkResponse, error) {
	n, err := networkFromPB(req.GetNetwork())
	if err == nil {
		err = s.impl.EnsureNetwork(ctx, n)
	}
	if err != nil {
		return nil, sdk.ToStatus(err)
	}
	return &pb.EnsureNetworkResponse{}, nil
}

func (s *grpcServer) RemoveNetwork(ctx context.Context, req *pb.RemoveNetworkRequest) (*pb.RemoveNetworkResponse, error) {
	if err := s.impl.RemoveNetwork(ctx, req.GetNetworkId()); err != nil {
		return nil, sdk.ToStatus(err)
	}
	return &pb.RemoveNetworkResponse{}, nil
}

func (s *grpcServer) Attach(ctx context.Context, req *pb.AttachRequest) (*pb.AttachResponse, error) {
	a, err := attachmentFromPB(req.GetAttachment())
	if err != nil {
		return nil, sdk.ToStatus(err)
	}
	res, err := s.impl.Attach(ctx, a)
	if err != nil {
		return nil, sdk.ToStatus(err)
	}
	return &pb.AttachResponse{Interface: res.Interface, Mac: res.MAC}, nil
}

func (s *grpcServer) Detach(ctx context.Context, req *pb.DetachRequest) (*pb.DetachResponse, error) {
	if err := s.impl.Detach(ctx, req.GetNetworkId(), req.GetTaskId()); err != nil {
		return nil, sdk.ToStatus(err)
	}
	return &pb.DetachResponse{}, nil
}

func (s *grpcServer) SetPeers(ctx context.Context, req *pb.SetPeersRequest) (*pb.SetPeersResponse, error) {
	peers, err := peersFromPB(req.GetPeers())
	if err != nil {
		err = fmt.Errorf("set peers of network %s: %w", req.GetNetworkId(), err)
	} else {
		err = s.impl.SetPeers(ctx, req.GetNetworkId(), peers)
	}
	if err != nil {
		return nil, sdk.ToStatus(err)
	}
	return &pb.SetPeersResponse{}, nil
}

func (s *grpcServer) List(ctx context.Context, _ *pb.ListNetworksRequest) (*pb.ListNetworksResponse, error) {
	states, err := s.impl.List(ctx)
	if err != nil {
		return nil, sdk.ToStatus(err)
	}
	return &pb.ListNetworksResponse{Networks: statesToPB(states)}, nil
}
