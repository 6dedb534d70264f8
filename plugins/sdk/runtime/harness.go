package runtime

import (
	"testing"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/internal/harness"
)

// NewHarness serves impl over gRPC in this process, as a plugin process
// would, and returns the Runtime hive would get for it: every call goes
// through the client adapter, the wire and the server adapter, so a test
// sees exactly what hive sees, errors included. The connection closes in
// t.Cleanup. Call it several times on one impl to get several clients of
// the same runtime (as after a restart of hive).
func NewHarness(t testing.TB, impl Runtime) Runtime {
	t.Helper()
	return harness.Dispense[Runtime](t, sdk.PluginSetRuntime, &Plugin{Impl: impl})
}
