package scheduler

import (
	"context"
	"fmt"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/internal/base"
	"github.com/hiveorch/hive/plugins/sdk/internal/pb"
)

// grpcServer is the plugin side of the wire: it serves a Scheduler
// implementation over gRPC, converting the implementation's errors to
// gRPC status codes (sdk.ToStatus).
type grpcServer struct {
	base.Server
	impl Scheduler
}

var _ pb.SchedulerServer = (*grpcServer)(nil)

func newGRPCServer(impl Scheduler) *grpcServer {
	return &grpcServer{Server: base.Server{Impl: impl}, impl: impl}
}

func (s *grpcServer) Schedule(ctx context.Context, req *pb.ScheduleRequest) (*pb.ScheduleResponse, error) {
	resp, err := s.impl.Schedule(ctx, requestFromPB(req))
	if err != nil {
		return nil, sdk.ToStatus(err)
	}
	if resp == nil {
		return nil, sdk.ToStatus(fmt.Errorf("scheduler plugin: Schedule returned no response and no error"))
	}
	return responseToPB(resp), nil
}
