package daemoncmd

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hiveorch/hive/plugins/network-overlay/overlay"
	"github.com/hiveorch/hive/plugins/runtime-containerd/containerd"
	"github.com/hiveorch/hive/plugins/runtime-docker/docker"
	"github.com/hiveorch/hive/plugins/scheduler-spread/spread"
	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/network"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
	"github.com/hiveorch/hive/plugins/sdk/scheduler"
	"github.com/hiveorch/hive/plugins/sdk/secrets"
	"github.com/hiveorch/hive/plugins/secrets-vault/vault"
)

// builtins are the plugins the hive binary serves itself, so one binary is
// all a host needs.
var builtins = map[string]func(){
	"runtime-docker":     func() { runtime.Serve(docker.New(sdk.Logger("runtime-docker"))) },
	"runtime-containerd": containerd.Main,
	"scheduler-spread":   func() { scheduler.Serve(spread.New(sdk.Logger("scheduler-spread"))) },
	vault.Name:           func() { secrets.Serve(vault.New(sdk.Logger(vault.Name))) },
	overlay.Name:         func() { network.Serve(overlay.New(sdk.Logger(overlay.Name))) },
}

// BuiltinNames lists the built-in plugins, sorted.
func BuiltinNames() []string {
	var names []string
	for n := range builtins {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func serveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "serve NAME",
		Short: "Serve a built-in plugin (run by hive itself, not by hand)",
		Long: `Serve one of the plugins built into the hive binary over the go-plugin protocol.
hive starts its built-in plugins this way as subprocesses; run by hand it only
prints the go-plugin handshake error. Built-in plugins: ` + strings.Join(BuiltinNames(), ", ") + ".",
		Example: `  hive plugin serve runtime-docker   # what hive runs for plugins.runtime: runtime-docker`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			serve, ok := builtins[args[0]]
			if !ok {
				return fmt.Errorf("no built-in plugin %q: the built-in plugins are %s", args[0], strings.Join(BuiltinNames(), ", "))
			}
			serve()
			return nil
		},
	}
}
