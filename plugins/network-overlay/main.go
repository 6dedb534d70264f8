// Command network-overlay is hive's overlay network plugin as a
// stand-alone executable; the hive binary serves the same plugin itself
// (`hive plugin serve network-overlay`).
package main

import (
	"github.com/hiveorch/hive/plugins/network-overlay/overlay"
	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/network"
)

func main() {
	network.Serve(overlay.New(sdk.Logger(overlay.Name)))
}
