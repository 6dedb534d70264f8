// Command runtime-docker is hive's Docker runtime plugin as a stand-alone
// executable. The hive binary serves the same plugin itself (`hive plugin
// serve runtime-docker`); this binary is for hosts that name it by path.
package main

import (
	"github.com/hiveorch/hive/plugins/runtime-docker/docker"
	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

func main() {
	runtime.Serve(docker.New(sdk.Logger("runtime-docker")))
}
