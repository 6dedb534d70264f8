package secrets

import (
	"testing"

	plugin "github.com/hashicorp/go-plugin"

	"github.com/hiveorch/hive/plugins/sdk"
)

// NewHarness serves impl over gRPC in this process, as a plugin process
// would, and returns the Driver hive would get for it: every call goes
// through the client adapter, the wire and the server adapter, so a test
// sees exactly what hive sees. The connection closes in t.Cleanup.
func NewHarness(t testing.TB, impl Driver) Driver {
	t.Helper()
	client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{
		sdk.PluginSetSecrets: &Plugin{Impl: impl},
	})
	t.Cleanup(func() {
		server.Stop()
		_ = client.Close()
	})
	raw, err := client.Dispense(sdk.PluginSetSecrets)
	if err != nil {
		t.Fatalf("secrets harness: dispense: %v", err)
	}
	return raw.(Driver)
}
