// Command scheduler-spread is hive's spread scheduler plugin as a
// stand-alone executable; the hive binary serves the same plugin itself
// (`hive plugin serve scheduler-spread`).
package main

import (
	"github.com/hiveorch/hive/plugins/scheduler-spread/spread"
	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/scheduler"
)

func main() {
	scheduler.Serve(spread.New(sdk.Logger("scheduler-spread")))
}
