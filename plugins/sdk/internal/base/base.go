// Package base holds the gRPC adapters of the Base calls (Describe,
// Configure, Health) that every plugin kind's service carries. Each kind's
// client and server adapter embeds them, so the three calls are converted
// in one place.
package base

import (
	"context"

	"google.golang.org/grpc"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/internal/pb"
)

// Server serves the Base calls from Impl. Embed it in a kind's server
// adapter.
type Server struct {
	Impl sdk.Base
}

// Describe answers with Impl's Info.
func (s Server) Describe(ctx context.Context, _ *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	info, err := s.Impl.Describe(ctx)
	if err != nil {
		return nil, sdk.ToStatus(err)
	}
	return &pb.DescribeResponse{
		Name:         info.Name,
		Kind:         string(info.Kind),
		Version:      info.Version,
		Capabilities: info.Capabilities,
	}, nil
}

// Configure hands the settings to Impl.
func (s Server) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	settings := req.GetSettings()
	if settings == nil {
		settings = map[string]string{}
	}
	if err := s.Impl.Configure(ctx, settings); err != nil {
		return nil, sdk.ToStatus(err)
	}
	return &pb.ConfigureResponse{}, nil
}

// Health answers OK when Impl is healthy, or with Impl's error.
func (s Server) Health(ctx context.Context, _ *pb.HealthRequest) (*pb.HealthResponse, error) {
	if err := s.Impl.Health(ctx); err != nil {
		return nil, sdk.ToStatus(err)
	}
	return &pb.HealthResponse{}, nil
}

// RPC is the Base part of every kind's generated gRPC client.
type RPC interface {
	Describe(ctx context.Context, in *pb.DescribeRequest, opts ...grpc.CallOption) (*pb.DescribeResponse, error)
	Configure(ctx context.Context, in *pb.ConfigureRequest, opts ...grpc.CallOption) (*pb.ConfigureResponse, error)
	Health(ctx context.Context, in *pb.HealthRequest, opts ...grpc.CallOption) (*pb.HealthResponse, error)
}

// Client implements sdk.Base over RPC. Embed it in a kind's client
// adapter.
type Client struct {
	RPC RPC
}

var _ sdk.Base = Client{}

// Describe asks the plugin for its Info.
func (c Client) Describe(ctx context.Context) (sdk.Info, error) {
	resp, err := c.RPC.Describe(ctx, &pb.DescribeRequest{})
	if err != nil {
		return sdk.Info{}, sdk.FromCall(ctx, err)
	}
	return sdk.Info{
		Name:         resp.GetName(),
		Kind:         sdk.Kind(resp.GetKind()),
		Version:      resp.GetVersion(),
		Capabilities: resp.GetCapabilities(),
	}, nil
}

// Configure sends the settings to the plugin.
func (c Client) Configure(ctx context.Context, settings map[string]string) error {
	if _, err := c.RPC.Configure(ctx, &pb.ConfigureRequest{Settings: settings}); err != nil {
		return sdk.FromCall(ctx, err)
	}
	return nil
}

// Health asks the plugin whether it can serve requests.
func (c Client) Health(ctx context.Context) error {
	if _, err := c.RPC.Health(ctx, &pb.HealthRequest{}); err != nil {
		return sdk.FromCall(ctx, err)
	}
	return nil
}
