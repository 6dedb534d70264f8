package secrets

import (
	"testing"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/internal/harness"
)

// NewHarness serves impl over gRPC in this process, as a plugin process
// would, and returns the Driver hive would get for it: every call goes
// through the client adapter, the wire and the server adapter, so a test
// sees exactly what hive sees. The connection closes in t.Cleanup.
func NewHarness(t testing.TB, impl Driver) Driver {
	t.Helper()
	return harness.Dispense[Driver](t, sdk.PluginSetSecrets, &Plugin{Impl: impl})
}
