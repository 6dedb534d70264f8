package network

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/internal/base"
	"github.com/hiveorch/hive/plugins/sdk/internal/pb"
)

// grpcClient is hive's side of the wire: a Driver whose calls go to the
// plugin process over gRPC. Errors come back as the SDK's kinds
// (sdk.FromCall); a plugin process that is gone gives sdk.ErrUnavailable.
type grpcClient struct {
	base.Client
	rpc pb.NetworkClient
}

var _ Driver = (*grpcClient)(nil)

func newGRPCClient(conn grpc.ClientConnInterface) *grpcClient {
	rpc := pb.NewNetworkClient(conn)
	return &grpcClient{Client: base.Client{RPC: rpc}, rpc: rpc}
}

func (c *grpcClient) EnsureNetwork(ctx context.Context, n Network) error {
	_, err := c.rpc.EnsureNetwork(ctx, &pb.EnsureNetworkRequest{Network: networkToPB(n)})
	return sdk.FromCall(ctx, err)
}

func (c *grpcClient) RemoveNetwork(ctx context.Context, networkID string) error {
	_, err := c.rpc.RemoveNetwork(ctx, &pb.RemoveNetworkRequest{NetworkId: networkID})
	return sdk.FromCall(ctx, err)
}

func (c *grpcClient) Attach(ctx context.Context, a Attachment) (AttachResult, error) {
	resp, err := c.rpc.Attach(ctx, &pb.AttachRequest{Attachment: attachmentToPB(a)})
	if err != nil {
		return AttachResult{}, sdk.FromCall(ctx, err)
	}
	return AttachResult{Interface: resp.GetInterface(), MAC: resp.GetMac()}, nil
}

func (c *grpcClient) Detach(ctx context.Context, networkID, taskID string) error {
	_, err := c.rpc.Detach(ctx, &pb.DetachRequest{NetworkId: networkID, TaskId: taskID})
	return sdk.FromCall(ctx, err)
}

func (c *grpcClient) SetPeers(ctx context.Context, networkID string, peers []Peer) error {
	_, err := c.rpc.SetPeers(ctx, &pb.SetPeersRequest{NetworkId: networkID, Peers: peersToPB(peers)})
	return sdk.FromCall(ctx, err)
}

func (c *grpcClient) List(ctx context.Context) ([]NetworkState, error) {
	resp, err := c.rpc.List(ctx, &pb.ListNetworksRequest{})
	if err != nil {
		return nil, sdk.FromCall(ctx, err)
	}
	states, err := statesFromPB(resp.GetNetworks())
	if err != nil {
		return nil, fmt.Errorf("list networks: the plugin answered %w", err)
	}
	return states, nil
}
