package scheduler

import (
	"testing"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/internal/harness"
)

// NewHarness serves impl over gRPC in this process, as a plugin process
// would, and returns the Scheduler hive would get for it: every call goes
// through the client adapter, the wire and the server adapter, so a test
// sees exactly what hive sees. The connection closes in t.Cleanup.
func NewHarness(t testing.TB, impl Scheduler) Scheduler {
	t.Helper()
	return harness.Dispense[Scheduler](t, sdk.PluginSetScheduler, &Plugin{Impl: impl})
}
