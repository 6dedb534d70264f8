package runtime

import (
	"context"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/hiveorch/hive/plugins/sdk/internal/pb"
)

// Plugin is the go-plugin wrapper of the runtime kind. In a plugin
// process, Impl is the implementation Serve serves. In hive, a Plugin
// with no Impl goes in the plugin set under sdk.PluginSetRuntime, and
// dispensing that name returns a Runtime that calls the plugin over gRPC.
// Only the gRPC protocol is supported.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Impl is the runtime to serve; unused on hive's side.
	Impl Runtime
}

var _ plugin.GRPCPlugin = (*Plugin)(nil)

// GRPCServer registers the runtime service, backed by Impl, on s.
func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterRuntimeServer(s, newGRPCServer(p.Impl))
	return nil
}

// GRPCClient returns a Runtime that calls the plugin over c.
func (p *Plugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return Runtime(newGRPCClient(c)), nil
}
