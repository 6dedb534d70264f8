package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/internal/base"
	"github.com/hiveorch/hive/plugins/sdk/internal/pb"
)

// grpcClient is hive's side of the wire: a Runtime whose every call goes
// to the plugin process over gRPC. Errors come back as the SDK's kinds
// (sdk.FromCall): errors.Is(err, sdk.ErrNotFound) holds for a plugin's
// not-found error, and a plugin process that is gone gives
// sdk.ErrUnavailable.
type grpcClient struct {
	base.Client
	rpc pb.RuntimeClient
}

var _ Runtime = (*grpcClient)(nil)

func newGRPCClient(conn grpc.ClientConnInterface) *grpcClient {
	rpc := pb.NewRuntimeClient(conn)
	return &grpcClient{Client: base.Client{RPC: rpc}, rpc: rpc}
}

func (c *grpcClient) EnsureImage(ctx context.Context, ref string, auth *RegistryAuth, progress func(PullProgress)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.EnsureImage(ctx, &pb.EnsureImageRequest{Ref: ref, Auth: authToPB(auth)})
	if err != nil {
		return sdk.FromCall(ctx, err)
	}
	for {
		p, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return sdk.FromCall(ctx, err)
		}
		if progress != nil {
			progress(progressFromPB(p))
		}
	}
}

func (c *grpcClient) Create(ctx context.Context, spec *ContainerSpec) (string, error) {
	if spec == nil {
		return "", fmt.Errorf("create: no container spec: %w", sdk.ErrInvalidArgument)
	}
	resp, err := c.rpc.Create(ctx, &pb.CreateRequest{Spec: specToPB(spec)})
	if err != nil {
		return "", sdk.FromCall(ctx, err)
	}
	return resp.GetId(), nil
}

func (c *grpcClient) Start(ctx context.Context, id string) error {
	if _, err := c.rpc.Start(ctx, &pb.StartRequest{Id: id}); err != nil {
		return sdk.FromCall(ctx, err)
	}
	return nil
}

func (c *grpcClient) Stop(ctx context.Context, id string, opts StopOptions) error {
	req := &pb.StopRequest{Id: id, TimeoutNanos: int64(opts.Timeout), Signal: opts.Signal}
	if _, err := c.rpc.Stop(ctx, req); err != nil {
		return sdk.FromCall(ctx, err)
	}
	return nil
}

func (c *grpcClient) Kill(ctx context.Context, id string, signal string) error {
	if _, err := c.rpc.Kill(ctx, &pb.KillRequest{Id: id, Signal: signal}); err != nil {
		return sdk.FromCall(ctx, err)
	}
	return nil
}

func (c *grpcClient) Remove(ctx context.Context, id string, opts RemoveOptions) error {
	if _, err := c.rpc.Remove(ctx, &pb.RemoveRequest{Id: id, Force: opts.Force}); err != nil {
		return sdk.FromCall(ctx, err)
	}
	return nil
}

func (c *grpcClient) Inspect(ctx context.Context, id string) (*Container, error) {
	resp, err := c.rpc.Inspect(ctx, &pb.InspectRequest{Id: id})
	if err != nil {
		return nil, sdk.FromCall(ctx, err)
	}
	if resp.GetContainer() == nil {
		return nil, fmt.Errorf("inspect %s: the runtime plugin answered without a container", id)
	}
	return containerFromPB(resp.GetContainer()), nil
}

func (c *grpcClient) List(ctx context.Context, filter ListFilter) ([]*Container, error) {
	resp, err := c.rpc.List(ctx, &pb.ListRequest{Labels: filter.Labels})
	if err != nil {
		return nil, sdk.FromCall(ctx, err)
	}
	out := make([]*Container, 0, len(resp.GetContainers()))
	for _, pc := range resp.GetContainers() {
		out = append(out, containerFromPB(pc))
	}
	return out, nil
}

func (c *grpcClient) Wait(ctx context.Context, id string) (*ExitStatus, error) {
	resp, err := c.rpc.Wait(ctx, &pb.WaitRequest{Id: id})
	if err != nil {
		return nil, sdk.FromCall(ctx, err)
	}
	return &ExitStatus{
		ExitCode:   int(resp.GetExitCode()),
		Error:      resp.GetError(),
		FinishedAt: timeFromPB(resp.GetFinishedAt()),
	}, nil
}

func (c *grpcClient) Logs(ctx context.Context, id string, opts LogOptions, sink func(LogEntry) error) error {
	if sink == nil {
		return fmt.Errorf("logs %s: no sink: %w", id, sdk.ErrInvalidArgument)
	}
	// Cancelling the stream's context tells the plugin to stop when sink
	// fails before the output ends.
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.Logs(streamCtx, &pb.LogsRequest{
		Id:         id,
		Follow:     opts.Follow,
		Tail:       int64(opts.Tail),
		Since:      timeToPB(opts.Since),
		Timestamps: opts.Timestamps,
	})
	if err != nil {
		return sdk.FromCall(ctx, err)
	}
	for {
		e, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return sdk.FromCall(ctx, err)
		}
		if err := sink(logEntryFromPB(e)); err != nil {
			return err
		}
	}
}

func (c *grpcClient) Stats(ctx context.Context, id string) (*Stats, error) {
	resp, err := c.rpc.Stats(ctx, &pb.StatsRequest{Id: id})
	if err != nil {
		return nil, sdk.FromCall(ctx, err)
	}
	return statsFromPB(resp), nil
}
