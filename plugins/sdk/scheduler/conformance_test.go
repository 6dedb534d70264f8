package scheduler_test

import (
	"testing"

	"github.com/hiveorch/hive/plugins/sdk/scheduler"
	"github.com/hiveorch/hive/plugins/sdk/scheduler/conformance"
)

func TestFakeConformance(t *testing.T) {
	t.Run("direct", func(t *testing.T) {
		conformance.Run(t, func(t *testing.T) scheduler.Scheduler { return scheduler.NewFake() }, conformance.Options{})
	})
	t.Run("through the gRPC harness", func(t *testing.T) {
		conformance.Run(t, func(t *testing.T) scheduler.Scheduler {
			return scheduler.NewHarness(t, scheduler.NewFake())
		}, conformance.Options{Seed: 7})
	})
}
