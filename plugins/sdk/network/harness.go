package network

import (
	"testing"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/internal/harness"
)

// NewHarness serves impl over gRPC in this process, as a plugin process
// would, and returns the Driver hive would get for it: every call goes
// through the client adapter, the wire and the server adapter, so a test
// sees exactly what hive sees. The connection closes in t.Cleanup. Two
// harnesses over one impl are two connections to one plugin, as hive's
// before and after a restart of hive.
func NewHarness(t testing.TB, impl Driver) Driver {
	t.Helper()
	return harness.Dispense[Driver](t, sdk.PluginSetNetwork, &Plugin{Impl: impl})
}
