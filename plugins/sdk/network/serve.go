package network

import "github.com/hiveorch/hive/plugins/sdk"

// Serve serves impl as a network plugin to the hive process that started
// this one; call it from the plugin's main and nothing after it. It
// returns when hive closes the connection, and the process exits by
// itself when hive dies. See sdk.Serve.
func Serve(impl Driver, opts ...sdk.ServeOption) {
	sdk.Serve(sdk.KindNetwork, &Plugin{Impl: impl}, opts...)
}
