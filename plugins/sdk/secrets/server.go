package secrets

import (
	"context"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/internal/base"
	"github.com/hiveorch/hive/plugins/sdk/internal/pb"
)

// grpcServer is the plugin side of the wire: it serves a Driver over gRPC,
// converting the driver's errors to gRPC status codes (sdk.ToStatus).
type grpcServer struct {
	base.Server
	impl Driver
}

var _ pb.SecretsServer = (*grpcServer)(nil)

func newGRPCServer(impl Driver) *grpcServer {
	return &grpcServer{Server: base.Server{Impl: impl}, impl: impl}
}

func (s *grpcServer) GetSecret(ctx context.Context, req *pb.GetSecretRequest) (*pb.GetSecretResponse, error) {
	options := req.GetOptions()
	if options == nil {
		options = map[string]string{}
	}
	v, err := s.impl.Get(ctx, Ref{Secret: req.GetSecret(), Options: options})
	if err != nil {
		return nil, sdk.ToStatus(err)
	}
	return &pb.GetSecretResponse{Value: v.Reveal()}, nil
}
