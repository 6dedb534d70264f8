package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hiveorch/hive/core/api/client"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/registry"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// RootOptions configures the command tree NewRoot builds.
type RootOptions struct {
	// Extra commands are added at the top level (hive up, hive down,
	// hive config ...).
	Extra []*cobra.Command
	// PluginExtra commands are added under `hive plugin` (hive plugin
	// serve).
	PluginExtra []*cobra.Command
	// Env is the environment HIVE_HOST, the config file and `--env KEY`
	// are read from; nil means os.Environ().
	Env []string
	// Version, when set, enables `hive --version`.
	Version string
}

// progressSettings are the timings of the convergence progress display.
type progressSettings struct {
	// interval is how often tasks are polled.
	interval time.Duration
	// stable is how long the set of running tasks must stay the same
	// before the service counts as converged.
	stable time.Duration
	// pendingGrace is how long a task may stay pending with a scheduling
	// error, or a slot stay ended without a replacement, before the wait
	// gives up.
	pendingGrace time.Duration
	// maxFailures is how many failed tasks one slot may have before the
	// wait gives up.
	maxFailures int
}

var defaultProgress = progressSettings{
	interval:     250 * time.Millisecond,
	stable:       time.Second,
	pendingGrace: 3 * time.Second,
	maxFailures:  3,
}

// cli is the state the commands share: global flags, the API client, the
// clock and the progress timings.
type cli struct {
	opts       RootOptions
	host       string
	configFile string
	tlsDirFlag string
	now        func() time.Time
	progress   progressSettings
	// isTerminal reports whether w is a terminal, for the progress
	// display.
	isTerminal func(w io.Writer) bool
	// pinImage resolves an image's tag to its digest on its registry
	// (stack deploy --resolve-image), with auth when not nil.
	pinImage func(ctx context.Context, image string, auth *types.RegistryAuth) (string, error)

	client *client.Client
}

// pinOnRegistry is pinImage: the image's registry, asked with auth or
// anonymously.
func pinOnRegistry(ctx context.Context, image string, auth *types.RegistryAuth) (string, error) {
	var ra *runtime.RegistryAuth
	if auth != nil {
		c := runtime.RegistryAuth(*auth)
		ra = &c
	}
	return registry.Pin(ctx, image, nil, ra)
}

// NewRoot builds the hive command tree.
func NewRoot(opts RootOptions) *cobra.Command {
	return newRoot(&cli{opts: opts, now: time.Now, progress: defaultProgress, isTerminal: isTerminal, pinImage: pinOnRegistry})
}

func newRoot(c *cli) *cobra.Command {
	if c.opts.Env == nil {
		c.opts.Env = os.Environ()
	}
	root := &cobra.Command{
		Use:   "hive",
		Short: "A container orchestrator in one binary, driven like docker service",
		Long: `hive runs services of containers across one or many hosts, in the spirit of
Docker Swarm mode. Its CLI talks to a hive daemon over its API: the local
socket by default, or the endpoint given with -H or HIVE_HOST.`,
		Example: `  hive service create --name web --replicas 3 -p 8080:80 nginx:alpine
  hive service ls
  hive service ps web
  hive -H tcp://10.0.0.5:7946 node ls`,
		// Args stays nil so that cobra reports an unknown command, with
		// suggestions, instead of printing the help.
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		Version:           c.opts.Version,
	}
	pf := root.PersistentFlags()
	pf.StringVarP(&c.host, "host", "H", "", "hive API `ENDPOINT`: unix:///path/to/hive.sock or tcp://HOST:PORT (default: $HIVE_HOST, else the config's host)")
	pf.StringVar(&c.configFile, "config", "", "config `FILE` to read the host from (default: $HIVE_CONFIG, else the search path)")
	pf.StringVar(&c.tlsDirFlag, "tls-dir", "", "`DIR` holding ca.crt, client.crt and client.key for a tcp:// host (default: $HIVE_TLS_DIR, else ~/.config/hive/tls)")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageErrorf(cmd, "%v", err)
	})

	root.AddCommand(c.infoCommand(), c.nodeCommand(), c.pluginCommand(), c.serviceCommand())
	root.AddCommand(c.joinTokenCommand(), c.clusterCommand(), c.leaveCommand(), c.dockerEnvCommand())
	root.AddCommand(c.secretCommand(), c.networkCommand(), c.stackCommand(), c.unlockCommand(), c.unlockKeyCommand())
	root.AddCommand(c.eventsCommand())
	root.AddCommand(c.opts.Extra...)
	c.addConfigCommands(root)
	return root
}

// addConfigCommands puts the config object commands under `hive config`,
// beside the `config show` an Extra command may already hold.
func (c *cli) addConfigCommands(root *cobra.Command) {
	for _, cmd := range root.Commands() {
		if cmd.Name() == "config" {
			cmd.Short = "Manage configs granted to services, and show hive's own configuration"
			cmd.Example = configGroupExample + "\n  hive config show"
			cmd.AddCommand(c.configObjectCommands()...)
			return
		}
	}
	root.AddCommand(groupCommand("config", "Manage configs: non-secret files granted to services", configGroupExample, c.configObjectCommands()...))
}

// groupCommand returns a command that only holds subcommands: alone it
// prints its help, with an unknown subcommand it fails.
func groupCommand(use, short, example string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:     use + " COMMAND",
		Short:   short,
		Example: example,
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return usageErrorf(cmd, "unknown command %q for %q", args[0], cmd.CommandPath())
		},
	}
	cmd.AddCommand(subs...)
	return cmd
}

// usageError is a mistake in how a command was called; Execute adds a hint
// to read the command's help.
type usageError struct {
	path string
	msg  string
}

func (e *usageError) Error() string { return e.msg }

func usageErrorf(cmd *cobra.Command, format string, args ...any) error {
	return &usageError{path: cmd.CommandPath(), msg: fmt.Sprintf(format, args...)}
}

// exactArgs, minArgs and noArgs are cobra's argument checks with messages
// that say what the command wants.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf(cmd, "%q requires exactly %s, got %d argument(s)", cmd.CommandPath(), what, len(args))
		}
		return nil
	}
}

func minArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usageErrorf(cmd, "%q requires at least %s", cmd.CommandPath(), what)
		}
		return nil
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf(cmd, "%q accepts no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}

// Execute runs root with ctx and returns the process exit status: 0 on
// success, 1 after printing "Error: <message>" on stderr.
func Execute(ctx context.Context, root *cobra.Command) int {
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	w := root.ErrOrStderr()
	var multi multiError
	if errors.As(err, &multi) {
		for _, e := range multi {
			fmt.Fprintf(w, "Error: %s\n", e)
		}
	} else {
		fmt.Fprintf(w, "Error: %s\n", err)
	}
	var ue *usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(w, "See '%s --help'.\n", ue.path)
	case strings.HasPrefix(err.Error(), "unknown command"):
		fmt.Fprintf(w, "See '%s --help'.\n", cmd.CommandPath())
	}
	return 1
}

// multiError is the failures of a command that works through several
// arguments and goes on after one fails (hive service rm a b c); Execute
// prints each on its own line.
type multiError []error

func (m multiError) Error() string {
	msgs := make([]string, len(m))
	for i, e := range m {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// errorOf returns nil, the one error, or a multiError.
func errorOf(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return multiError(errs)
}

// api returns the API client, made on first use from the resolved host.
func (c *cli) api() (*client.Client, error) {
	if c.client != nil {
		return c.client, nil
	}
	host, err := c.endpoint()
	if err != nil {
		return nil, err
	}
	opts, err := c.clientOptions(host)
	if err != nil {
		return nil, err
	}
	cl, err := client.New(host, opts...)
	if err != nil {
		return nil, err
	}
	c.client = cl
	return cl, nil
}

// endpoint resolves the API endpoint: -H, then HIVE_HOST, then the
// config's host.
func (c *cli) endpoint() (string, error) {
	if c.host != "" {
		return c.host, nil
	}
	if h := c.getenv("HIVE_HOST"); h != "" {
		return h, nil
	}
	h, err := configHost(c.configFile, c.opts.Env)
	if err != nil {
		return "", fmt.Errorf("find the hive host: %w; or pass -H unix:///path/to/hive.sock", err)
	}
	if h == "" {
		return "", errors.New("no hive host configured: pass -H unix:///path/to/hive.sock or set HIVE_HOST")
	}
	return h, nil
}

// getenv looks key up in the CLI's environment.
func (c *cli) getenv(key string) string {
	v, _ := c.lookupEnv(key)
	return v
}

func (c *cli) lookupEnv(key string) (string, bool) {
	for i := len(c.opts.Env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(c.opts.Env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// flagChanged reports whether the user set the named flag.
func flagChanged(fs *pflag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	return f != nil && f.Changed
}
