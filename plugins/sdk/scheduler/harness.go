package scheduler

import (
	"testing"

	plugin "github.com/hashicorp/go-plugin"

	"github.com/hiveorch/hive/plugins/sdk"
)

// NewHarness serves impl over gRPC in this process, as a plugin process
// would, and returns the Scheduler hive would get for it: every call goes
// through the client adapter, the wire and the server adapter, so a test
// sees exactly what hive sees. The connection closes in t.Cleanup.
func NewHarness(t testing.TB, impl Scheduler) Scheduler {
	t.Helper()
	client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{
		sdk.PluginSetScheduler: &Plugin{Impl: impl},
	})
	t.Cleanup(func() {
		server.Stop()
		_ = client.Close()
	})
	raw, err := client.Dispense(sdk.PluginSetScheduler)
	if err != nil {
		t.Fatalf("scheduler harness: dispense: %v", err)
	}
	return raw.(Scheduler)
}
