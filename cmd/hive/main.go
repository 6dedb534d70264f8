// Command hive is the hive container orchestrator: the daemon and the
// docker-like CLI in one binary. The command tree lives in package
// commands (the CLI) and daemoncmd (up, down, plugin serve, config show);
// this file only assembles and runs it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/hiveorch/hive/cmd/hive/commands"
	"github.com/hiveorch/hive/cmd/hive/daemoncmd"
	"github.com/hiveorch/hive/core/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	top, plugin := daemoncmd.Commands()
	root := commands.NewRoot(commands.RootOptions{
		Extra:       append(top, daemoncmd.ConfigCommand()),
		PluginExtra: plugin,
		Version:     version.Version,
	})
	code := commands.Execute(ctx, root)
	stop()
	os.Exit(code)
}
