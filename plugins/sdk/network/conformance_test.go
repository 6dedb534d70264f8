package network_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/hiveorch/hive/plugins/sdk/network"
	"github.com/hiveorch/hive/plugins/sdk/network/conformance"
)

// fakeOptions gives each task a namespace path of its own, and gone
// namespaces the Fake knows are gone.
func fakeOptions(f *network.Fake, restart func(t *testing.T) network.Driver) conformance.Options {
	var n atomic.Int64
	return conformance.Options{
		Netns: func(t *testing.T) string { return fmt.Sprintf("/fake/netns/%d", n.Add(1)) },
		GoneNetns: func(t *testing.T) string {
			p := fmt.Sprintf("/fake/netns/gone-%d", n.Add(1))
			f.SetNetnsGone(p)
			return p
		},
		Restart: restart,
	}
}

func TestFakeConformance(t *testing.T) {
	t.Run("direct", func(t *testing.T) {
		f := network.NewFake()
		conformance.Run(t, func(t *testing.T) network.Driver { return f },
			fakeOptions(f, func(t *testing.T) network.Driver { return f }))
	})
	t.Run("through the gRPC harness", func(t *testing.T) {
		f := network.NewFake()
		// A restart is a new connection to the same driver state.
		harness := func(t *testing.T) network.Driver { return network.NewHarness(t, f) }
		conformance.Run(t, harness, fakeOptions(f, harness))
	})
}
