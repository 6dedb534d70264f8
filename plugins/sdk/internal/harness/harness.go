// Package harness runs a plugin kind's client and server adapters in one
// process, over a real gRPC connection, for each kind's NewHarness.
package harness

import (
	"testing"

	plugin "github.com/hashicorp/go-plugin"
)

// Dispense serves p under key over gRPC in this process, as a plugin
// process would, and returns what hive would get by dispensing key: p's
// client adapter, as a T. The connection closes in t.Cleanup.
func Dispense[T any](t testing.TB, key string, p plugin.Plugin) T {
	t.Helper()
	client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{key: p})
	t.Cleanup(func() {
		server.Stop()
		_ = client.Close()
	})
	raw, err := client.Dispense(key)
	if err != nil {
		t.Fatalf("%s harness: dispense: %v", key, err)
	}
	c, ok := raw.(T)
	if !ok {
		t.Fatalf("%s harness: dispensed a %T", key, raw)
	}
	return c
}
