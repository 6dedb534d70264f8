package secrets

import (
	"context"

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
	rpc pb.SecretsClient
}

var _ Driver = (*grpcClient)(nil)

func newGRPCClient(conn grpc.ClientConnInterface) *grpcClient {
	rpc := pb.NewSecretsClient(conn)
	return &grpcClient{Client: base.Client{RPC: rpc}, rpc: rpc}
}

func (c *grpcClient) Get(ctx context.Context, ref Ref) (Value, error) {
	resp, err := c.rpc.GetSecret(ctx, &pb.GetSecretRequest{Secret: ref.Secret, Options: ref.Options})
	if err != nil {
		return Value{}, sdk.FromCall(ctx, err)
	}
	return NewValue(resp.GetValue()), nil
}
