package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/internal/base"
	"github.com/hiveorch/hive/plugins/sdk/internal/pb"
)

// grpcServer is the plugin side of the wire: it serves a Runtime
// implementation over gRPC, converting requests to Go values and the
// implementation's errors to gRPC status codes (sdk.ToStatus).
type grpcServer struct {
	base.Server
	impl Runtime
}

var _ pb.RuntimeServer = (*grpcServer)(nil)

func newGRPCServer(impl Runtime) *grpcServer {
	return &grpcServer{Server: base.Server{Impl: impl}, impl: impl}
}

// errNoResult reports an implementation that returned neither a result
// nor an error.
func errNoResult(call string) error {
	return fmt.Errorf("runtime plugin: %s returned no result and no error", call)
}

func (s *grpcServer) EnsureImage(req *pb.EnsureImageRequest, stream grpc.ServerStreamingServer[pb.PullProgress]) error {
	// The implementation may call progress from several goroutines, and
	// must not after it returns; guard against both.
	var (
		mu      sync.Mutex
		done    bool
		sendErr error
	)
	progress := func(p PullProgress) {
		mu.Lock()
		defer mu.Unlock()
		if done || sendErr != nil {
			return
		}
		sendErr = stream.Send(progressToPB(p))
	}
	err := s.impl.EnsureImage(stream.Context(), req.GetRef(), authFromPB(req.GetAuth()), progress)
	mu.Lock()
	done = true
	mu.Unlock()
	if err != nil {
		return sdk.ToStatus(err)
	}
	return sdk.ToStatus(sendErr)
}

func (s *grpcServer) Create(ctx context.Context, req *pb.CreateRequest) (*pb.CreateResponse, error) {
	spec := specFromPB(req.GetSpec())
	if spec == nil {
		return nil, sdk.ToStatus(fmt.Errorf("create: no container spec: %w", sdk.ErrInvalidArgument))
	}
	id, err := s.impl.Create(ctx, spec)
	if err != nil {
		return nil, sdk.ToStatus(err)
	}
	return &pb.CreateResponse{Id: id}, nil
}

func (s *grpcServer) Start(ctx context.Context, req *pb.StartRequest) (*pb.StartResponse, error) {
	if err := s.impl.Start(ctx, req.GetId()); err != nil {
		return nil, sdk.ToStatus(err)
	}
	return &pb.StartResponse{}, nil
}

func (s *grpcServer) Stop(ctx context.Context, req *pb.StopRequest) (*pb.StopResponse, error) {
	opts := StopOptions{Timeout: time.Duration(req.GetTimeoutNanos()), Signal: req.GetSignal()}
	if err := s.impl.Stop(ctx, req.GetId(), opts); err != nil {
		return nil, sdk.ToStatus(err)
	}
	return &pb.StopResponse{}, nil
}

func (s *grpcServer) Kill(ctx context.Context, req *pb.KillRequest) (*pb.KillResponse, error) {
	if err := s.impl.Kill(ctx, req.GetId(), req.GetSignal()); err != nil {
		return nil, sdk.ToStatus(err)
	}
	return &pb.KillResponse{}, nil
}

func (s *grpcServer) Remove(ctx context.Context, req *pb.RemoveRequest) (*pb.RemoveResponse, error) {
	if err := s.impl.Remove(ctx, req.GetId(), RemoveOptions{Force: req.GetForce()}); err != nil {
		return nil, sdk.ToStatus(err)
	}
	return &pb.RemoveResponse{}, nil
}

func (s *grpcServer) Inspect(ctx context.Context, req *pb.InspectRequest) (*pb.InspectResponse, error) {
	c, err := s.impl.Inspect(ctx, req.GetId())
	if err != nil {
		return nil, sdk.ToStatus(err)
	}
	if c == nil {
		return nil, sdk.ToStatus(errNoResult("Inspect"))
	}
	return &pb.InspectResponse{Container: containerToPB(c)}, nil
}

func (s *grpcServer) List(ctx context.Context, req *pb.ListRequest) (*pb.ListResponse, error) {
	cs, err := s.impl.List(ctx, ListFilter{Labels: req.GetLabels()})
	if err != nil {
		return nil, sdk.ToStatus(err)
	}
	resp := &pb.ListResponse{Containers: make([]*pb.Container, 0, len(cs))}
	for _, c := range cs {
		if c != nil {
			resp.Containers = append(resp.Containers, containerToPB(c))
		}
	}
	return resp, nil
}

func (s *grpcServer) Wait(ctx context.Context, req *pb.WaitRequest) (*pb.WaitResponse, error) {
	st, err := s.impl.Wait(ctx, req.GetId())
	if err != nil {
		return nil, sdk.ToStatus(err)
	}
	if st == nil {
		return nil, sdk.ToStatus(errNoResult("Wait"))
	}
	return &pb.WaitResponse{ExitCode: int64(st.ExitCode), Error: st.Error, FinishedAt: timeToPB(st.FinishedAt)}, nil
}

func (s *grpcServer) Logs(req *pb.LogsRequest, stream grpc.ServerStreamingServer[pb.LogEntry]) error {
	opts := LogOptions{
		Follow:     req.GetFollow(),
		Tail:       int(req.GetTail()),
		Since:      timeFromPB(req.GetSince()),
		Timestamps: req.GetTimestamps(),
	}
	// A stream is not safe for concurrent sends; serialise in case the
	// implementation calls sink from several goroutines.
	var (
		mu      sync.Mutex
		sendErr error
	)
	err := s.impl.Logs(stream.Context(), req.GetId(), opts, func(e LogEntry) error {
		mu.Lock()
		defer mu.Unlock()
		if sendErr != nil {
			return sendErr
		}
		if err := stream.Send(logEntryToPB(e)); err != nil {
			sendErr = err
			return err
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if err != nil && sendErr != nil && errors.Is(err, sendErr) {
		// The client went away or cancelled; its side already knows why.
		return sendErr
	}
	return sdk.ToStatus(err)
}

func (s *grpcServer) Stats(ctx context.Context, req *pb.StatsRequest) (*pb.StatsResponse, error) {
	st, err := s.impl.Stats(ctx, req.GetId())
	if err != nil {
		return nil, sdk.ToStatus(err)
	}
	if st == nil {
		return nil, sdk.ToStatus(errNoResult("Stats"))
	}
	return statsToPB(st), nil
}
