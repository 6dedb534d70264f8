// Command runtime-containerd is hive's containerd runtime plugin as a
// stand-alone executable. The hive binary serves the same plugin itself
// (`hive plugin serve runtime-containerd`); this binary is for hosts that
// name it by path.
package main

import "github.com/hiveorch/hive/plugins/runtime-containerd/containerd"

func main() {
	containerd.Main()
}
