package network

import (
	"context"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/hiveorch/hive/plugins/sdk/internal/pb"
)

// Plugin is the go-plugin wrapper of the network kind. In a plugin
// process, Impl is the driver Serve serves. In hive, a Plugin with no Impl
// goes in the plugin set under sdk.PluginSetNetwork, and dispensing that
// name returns a Driver that calls the plugin over gRPC. Only the gRPC
// protocol is supported.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Impl is the driver to serve; unused on hive's side.
	Impl Driver
}

var _ plugin.GRPCPlugin = (*Plugin)(nil)

// GRPCServer registers the network service, backed by Impl, on s.
func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterNetworkServer(s, newGRPCServer(p.Impl))
	return nil
}

// GRPCClient returns a Driver that calls the plugin over c.
func (p *Plugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return Driver(newGRPCClient(c)), nil
}
