package sdk

import (
	"log/slog"
	"os"
	"strconv"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
)

// parentPollInterval is how often a serving plugin checks that the process
// that started it is still alive.
const parentPollInterval = 500 * time.Millisecond

// ParentPIDEnv names the environment variable in which a host may pass
// its PID to the plugins it starts. Serve's watchdog then knows its parent
// for sure, even if the host died before the plugin got to run; without
// it, the parent is the one the process had when it started.
const ParentPIDEnv = "HIVE_PLUGIN_PARENT_PID"

// startPPID is the parent the process had when its packages were
// initialised, as early as a Go program can look.
var startPPID = os.Getppid()

// expectedParent returns the PID of the process that should be this one's
// parent: the host's from ParentPIDEnv, else the parent at start.
func expectedParent(getenv func(string) string) int {
	if n, err := strconv.Atoi(getenv(ParentPIDEnv)); err == nil && n > 0 {
		return n
	}
	return startPPID
}

// ServeOption tunes Serve.
type ServeOption func(*serveConfig)

type serveConfig struct {
	level slog.Level
}

// WithLogLevel sets the lowest level the plugin logs at, both for go-plugin's
// own messages and for the loggers made by Logger. The default is
// slog.LevelDebug: hive drops what its own log level hides.
func WithLogLevel(level slog.Level) ServeOption {
	return func(c *serveConfig) { c.level = level }
}

// Serve serves p, a plugin of the given kind, to the hive process that
// started this one, and returns only when hive closes the connection; it
// is what each kind's Serve calls (runtime.Serve, scheduler.Serve), and
// plugin authors call those rather than this.
//
// Serve speaks go-plugin's gRPC protocol with Handshake. Run by hand,
// without the handshake's magic cookie in the environment, the binary
// prints that it is a plugin and exits with status 1. Logs go to stderr as
// JSON lines that go-plugin forwards into hive's log. A watchdog exits the
// process when its parent is no longer the process that started it (hive
// died, even by SIGKILL, and the plugin was re-parented; see ParentPIDEnv),
// so a crashed hive leaves no orphaned plugins.
func Serve(kind Kind, p plugin.Plugin, opts ...ServeOption) {
	cfg := serveConfig{level: slog.LevelDebug}
	for _, o := range opts {
		o(&cfg)
	}
	logLevel.Set(cfg.level)
	logger := hclog.New(&hclog.LoggerOptions{
		Level:      hclogLevel(cfg.level),
		Output:     stderr,
		JSONFormat: true,
	})

	stop := make(chan struct{})
	defer close(stop)
	go watchParent(expectedParent(os.Getenv), os.Getppid, parentPollInterval, stop, func() {
		logger.Warn("parent process exited; stopping plugin", "plugin_kind", string(kind))
		os.Exit(1)
	})

	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         plugin.PluginSet{string(kind): p},
		GRPCServer:      plugin.DefaultGRPCServer,
		Logger:          logger,
	})
}

// watchParent calls orphaned once, and returns, when getppid does not
// return ppid: the parent exited and the process was re-parented. It
// checks at once, then every interval until stop is closed.
func watchParent(ppid int, getppid func() int, interval time.Duration, stop <-chan struct{}, orphaned func()) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if getppid() != ppid {
			orphaned()
			return
		}
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

// hclogLevel converts a slog level to the hclog level that lets the same
// messages through.
func hclogLevel(l slog.Level) hclog.Level {
	switch {
	case l < slog.LevelDebug:
		return hclog.Trace
	case l < slog.LevelInfo:
		return hclog.Debug
	case l < slog.LevelWarn:
		return hclog.Info
	case l < slog.LevelError:
		return hclog.Warn
	default:
		return hclog.Error
	}
}
