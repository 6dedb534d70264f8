package scheduler

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/internal/base"
	"github.com/hiveorch/hive/plugins/sdk/internal/pb"
)

// grpcClient is hive's side of the wire: a Scheduler whose calls go to the
// plugin process over gRPC. Errors come back as the SDK's kinds
// (sdk.FromCall); a plugin process that is gone gives sdk.ErrUnavailable.
type grpcClient struct {
	base.Client
	rpc pb.SchedulerClient
}

var _ Scheduler = (*grpcClient)(nil)

func newGRPCClient(conn grpc.ClientConnInterface) *grpcClient {
	rpc := pb.NewSchedulerClient(conn)
	return &grpcClient{Client: base.Client{RPC: rpc}, rpc: rpc}
}

func (c *grpcClient) Schedule(ctx context.Context, req *Request) (*Response, error) {
	if req == nil {
		return nil, fmt.Errorf("schedule: nil request: %w", sdk.ErrInvalidArgument)
	}
	resp, err := c.rpc.Schedule(ctx, requestToPB(req))
	if err != nil {
		return nil, sdk.FromCall(ctx, err)
	}
	return responseFromPB(resp), nil
}
