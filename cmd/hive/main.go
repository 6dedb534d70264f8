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

	"github.com/spf13/cobra"

	"github.com/hiveorch/hive/cmd/hive/commands"
	"github.com/hiveorch/hive/cmd/hive/daemoncmd"
	"github.com/hiveorch/hive/core/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := commands.Execute(ctx, newRoot(nil))
	stop()
	os.Exit(code)
}

// newRoot builds the whole command tree; env nil means os.Environ().
func newRoot(env []string) *cobra.Command {
	top, plugin := daemoncmd.Commands()
	return commands.NewRoot(commands.RootOptions{
		Extra:       append(top, daemoncmd.ConfigCommand()),
		PluginExtra: plugin,
		Env:         env,
		Version:     version.Version,
	})
}
