package overlay

import (
	"testing"

	"github.com/hiveorch/hive/plugins/sdk/network"
	"github.com/hiveorch/hive/plugins/sdk/network/conformance"
)

// TestConformance runs the network plugin kind's suite against the driver,
// over gRPC, on an underlay namespace of the test's own.
func TestConformance(t *testing.T) {
	n := oneNode(t)
	conformance.Run(t, func(t *testing.T) network.Driver {
		return network.NewHarness(t, n.d)
	}, conformance.Options{
		Netns:   func(t *testing.T) string { return testNetns(t, "t") },
		Restart: func(t *testing.T) network.Driver { return network.NewHarness(t, n.restart(t)) },
	})
}
