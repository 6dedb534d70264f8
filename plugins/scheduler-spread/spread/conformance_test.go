package spread

import (
	"testing"

	"github.com/hiveorch/hive/plugins/sdk/scheduler"
	"github.com/hiveorch/hive/plugins/sdk/scheduler/conformance"
)

// TestConformance runs the SDK's scheduler conformance suite against the
// spread scheduler, directly and through the gRPC plugin harness.
func TestConformance(t *testing.T) {
	t.Run("direct", func(t *testing.T) {
		conformance.Run(t, func(*testing.T) scheduler.Scheduler { return New(nil) }, conformance.Options{})
	})
	t.Run("over gRPC", func(t *testing.T) {
		conformance.Run(t, func(t *testing.T) scheduler.Scheduler { return scheduler.NewHarness(t, New(nil)) }, conformance.Options{})
	})
}
