// Package docker is hive's first-party runtime plugin logic: it implements
// runtime.Runtime on top of the Docker Engine API (github.com/moby/moby/client),
// so the agent can pull images and create, start, stop, inspect, list, wait
// on, read the logs of and sample the resource use of task containers on a
// node. The plugin's main.go and the gRPC glue serve a *Runtime; nothing in
// this package knows about go-plugin or hive's core.
//
// A Runtime is safe for concurrent use. It talks to the engine configured
// through Configure (keys host, network and pull_timeout) or, if Configure
// was never called, to the engine named by the DOCKER_* environment
// variables (unix:///var/run/docker.sock by default).
package docker

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// Version is the plugin's own version, reported by Describe.
const Version = "0.1.0"

// Name is the plugin's name, reported by Describe.
const Name = "runtime-docker"

// Defaults for the settings Configure accepts.
const (
	DefaultNetwork     = "bridge"
	DefaultPullTimeout = 5 * time.Minute
	defaultHost        = "unix:///var/run/docker.sock"
)

// capabilities are the optional runtime features this plugin supports.
var capabilities = []string{
	"logs.follow", "logs.since", "stats", "ports.host",
	"mounts.volume", "mounts.bind", "mounts.tmpfs",
}

var _ runtime.Runtime = (*Runtime)(nil)

// Runtime drives one Docker Engine. Create it with New.
type Runtime struct {
	logger *slog.Logger

	mu  sync.Mutex
	eng *engine // nil until Configure or the first call
}

// engine is one connection to the Docker Engine with the settings it was
// made with. It is immutable once built; Configure replaces it whole.
type engine struct {
	cli         *client.Client
	host        string
	network     string
	pullTimeout time.Duration
}

// New returns a Runtime that logs to logger. It connects to the engine on
// Configure, or on its first call when Configure is never called.
func New(logger *slog.Logger) *Runtime {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Runtime{logger: logger}
}

// Describe returns the plugin's identity; it does not touch the engine.
func (r *Runtime) Describe(ctx context.Context) (sdk.Info, error) {
	return sdk.Info{
		Name:         Name,
		Kind:         sdk.KindRuntime,
		Version:      Version,
		Capabilities: slices.Clone(capabilities),
	}, nil
}

// Configure applies the plugin settings:
//
//	host          Docker endpoint (default: $DOCKER_HOST, else unix:///var/run/docker.sock)
//	network       network task containers join (default "bridge"; "none" leaves
//	              them only a loopback, for a network plugin to wire their
//	              namespace; they still get an /etc/resolv.conf, with the spec's DNS)
//	pull_timeout  longest an image pull may take, as a Go duration (default 5m)
//
// It does not contact the engine; Health does. An unknown key or a bad
// value is an error wrapping sdk.ErrInvalidArgument that names the key.
func (r *Runtime) Configure(ctx context.Context, settings map[string]string) error {
	host, network, pullTimeout := "", DefaultNetwork, DefaultPullTimeout
	for _, key := range slices.Sorted(maps.Keys(settings)) {
		value := settings[key]
		switch key {
		case "host":
			host = strings.TrimSpace(value)
			if host == "" {
				return fmt.Errorf("configure %s: setting host is empty; set it to a Docker endpoint such as %s or remove it: %w", Name, defaultHost, sdk.ErrInvalidArgument)
			}
		case "network":
			network = strings.TrimSpace(value)
			if network == "" {
				return fmt.Errorf("configure %s: setting network is empty; name a Docker network such as %q or remove it: %w", Name, DefaultNetwork, sdk.ErrInvalidArgument)
			}
		case "pull_timeout":
			d, err := time.ParseDuration(strings.TrimSpace(value))
			if err != nil || d <= 0 {
				return fmt.Errorf("configure %s: setting pull_timeout %q is not a positive duration such as \"5m\": %w", Name, value, sdk.ErrInvalidArgument)
			}
			pullTimeout = d
		default:
			return fmt.Errorf("configure %s: unknown setting %q (known: host, network, pull_timeout): %w", Name, key, sdk.ErrInvalidArgument)
		}
	}
	eng, err := newEngine(host, network, pullTimeout)
	if err != nil {
		return fmt.Errorf("configure %s: %w", Name, err)
	}
	r.mu.Lock()
	old := r.eng
	r.eng = eng
	r.mu.Unlock()
	if old != nil {
		// Calls still running on the old client keep their connections;
		// Close only drops idle ones.
		_ = old.cli.Close()
	}
	r.logger.Info("docker runtime configured", "host", eng.host, "network", network, "pull_timeout", pullTimeout.String())
	return nil
}

// newEngine builds a client for host (the environment's engine when
// empty). It does not connect.
func newEngine(host, network string, pullTimeout time.Duration) (*engine, error) {
	opts := []client.Opt{client.FromEnv}
	if host != "" {
		u, err := client.ParseHostURL(host)
		if err != nil {
			return nil, fmt.Errorf("setting host %q is not a Docker endpoint (want unix:///path/to/docker.sock or tcp://host:port): %v: %w", host, err, sdk.ErrInvalidArgument)
		}
		switch u.Scheme {
		case "unix", "tcp", "http", "https", "npipe":
		default:
			return nil, fmt.Errorf("setting host %q: scheme %q is not supported (want unix, tcp, http, https or npipe): %w", host, u.Scheme, sdk.ErrInvalidArgument)
		}
		opts = append(opts, client.WithHost(host))
	}
	cli, err := client.New(opts...)
	if err != nil {
		if host != "" {
			return nil, fmt.Errorf("setting host %q is not a usable Docker endpoint (want unix:///path/to/docker.sock or tcp://host:port): %v: %w", host, err, sdk.ErrInvalidArgument)
		}
		return nil, fmt.Errorf("docker client from the DOCKER_* environment: %v: %w", err, sdk.ErrInvalidArgument)
	}
	return &engine{cli: cli, host: cli.DaemonHost(), network: network, pullTimeout: pullTimeout}, nil
}

// engine returns the current engine, building the default one if
// Configure was never called.
func (r *Runtime) engine() (*engine, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.eng == nil {
		eng, err := newEngine("", DefaultNetwork, DefaultPullTimeout)
		if err != nil {
			return nil, err
		}
		r.eng = eng
	}
	return r.eng, nil
}

// Close releases the engine connection. The Runtime builds a new one if
// it is used again.
func (r *Runtime) Close() error {
	r.mu.Lock()
	eng := r.eng
	r.eng = nil
	r.mu.Unlock()
	if eng == nil {
		return nil
	}
	return eng.cli.Close()
}

// Health pings the engine.
func (r *Runtime) Health(ctx context.Context) error {
	eng, err := r.engine()
	if err != nil {
		return err
	}
	if _, err := eng.cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("ping docker engine at %s: %w", eng.host, ctx.Err())
		}
		return fmt.Errorf("docker engine at %s is unreachable; check that it runs and that the host setting is right: %w",
			eng.host, &kindError{kind: sdk.ErrUnavailable, err: err})
	}
	return nil
}
