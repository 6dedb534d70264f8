package pluginhost

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/network"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
	"github.com/hiveorch/hive/plugins/sdk/scheduler"
	"github.com/hiveorch/hive/plugins/sdk/secrets"
)

// kindClient is how the host talks go-plugin for one plugin kind.
type kindClient struct {
	// key is the name the kind has in go-plugin's plugin set.
	key string
	// plugin returns the kind's go-plugin type, used client side only.
	plugin func() plugin.GRPCPlugin
	// as checks that a dispensed client implements the kind.
	as func(any) (sdk.Base, bool)
}

var kindClients = map[sdk.Kind]kindClient{
	sdk.KindRuntime: {
		key:    sdk.PluginSetRuntime,
		plugin: func() plugin.GRPCPlugin { return &runtime.Plugin{} },
		as: func(v any) (sdk.Base, bool) {
			r, ok := v.(runtime.Runtime)
			return r, ok
		},
	},
	sdk.KindScheduler: {
		key:    sdk.PluginSetScheduler,
		plugin: func() plugin.GRPCPlugin { return &scheduler.Plugin{} },
		as: func(v any) (sdk.Base, bool) {
			s, ok := v.(scheduler.Scheduler)
			return s, ok
		},
	},
	sdk.KindSecrets: {
		key:    sdk.PluginSetSecrets,
		plugin: func() plugin.GRPCPlugin { return &secrets.Plugin{} },
		as: func(v any) (sdk.Base, bool) {
			d, ok := v.(secrets.Driver)
			return d, ok
		},
	},
	sdk.KindNetwork: {
		key:    sdk.PluginSetNetwork,
		plugin: func() plugin.GRPCPlugin { return &network.Plugin{} },
		as: func(v any) (sdk.Base, bool) {
			d, ok := v.(network.Driver)
			return d, ok
		},
	},
}

// exitWatch wraps a kind's go-plugin type to keep the context go-plugin
// hands its GRPCClient: go-plugin cancels it when the process exits, which
// is how the supervisor notices an exit at once.
type exitWatch struct {
	plugin.NetRPCUnsupportedPlugin
	inner plugin.GRPCPlugin

	mu   sync.Mutex
	done <-chan struct{}
}

func (w *exitWatch) GRPCServer(b *plugin.GRPCBroker, s *grpc.Server) error {
	return w.inner.GRPCServer(b, s)
}

func (w *exitWatch) GRPCClient(ctx context.Context, b *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	w.mu.Lock()
	w.done = ctx.Done()
	w.mu.Unlock()
	return w.inner.GRPCClient(ctx, b, c)
}

func (w *exitWatch) exited() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.done
}

// processLauncher starts a plugin as a subprocess through go-plugin.
type processLauncher struct {
	kind sdk.Kind
	path string
	args []string
	log  hclog.Logger
}

func (l *processLauncher) launch(ctx context.Context) (*instance, error) {
	kc, ok := kindClients[l.kind]
	if !ok {
		return nil, fmt.Errorf("unknown plugin kind %q", l.kind)
	}
	// procCtx is the process's lifeline: cancelling it kills the process,
	// even while go-plugin is still waiting for its handshake.
	procCtx, killProc := context.WithCancel(context.Background())
	cmd := exec.CommandContext(procCtx, l.path, l.args...)
	// Tell the plugin whose death to watch for, so it exits by itself even
	// if hive dies before the plugin started serving.
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", sdk.ParentPIDEnv, os.Getpid()))

	// Every kind is in the set, so a plugin of another kind can be asked
	// what it is.
	watches := make(map[sdk.Kind]*exitWatch, len(kindClients))
	set := make(plugin.PluginSet, len(kindClients))
	for kind, c := range kindClients {
		w := &exitWatch{inner: c.plugin()}
		watches[kind] = w
		set[c.key] = w
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		Plugins:          set,
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           l.log,
		Managed:          false,
		SyncStdout:       io.Discard,
		SyncStderr:       io.Discard,
	})
	stop := sync.OnceFunc(func() {
		client.Kill()
		killProc()
	})

	abort := context.AfterFunc(ctx, killProc)
	proto, err := client.Client()
	abort()
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		stop()
		return nil, err
	}
	raw, err := proto.Dispense(kc.key)
	if err != nil {
		stop()
		return nil, fmt.Errorf("dispense %s client: %w", l.kind, err)
	}
	impl, ok := kc.as(raw)
	if !ok {
		stop()
		return nil, fmt.Errorf("dispense %s client: got %T", l.kind, raw)
	}
	pid := 0
	if rc := client.ReattachConfig(); rc != nil {
		pid = rc.Pid
	}

	inst := &instance{
		impl:   impl,
		pid:    pid,
		exited: watches[l.kind].exited(),
		exitReason: func() string {
			// ProcessState is set before go-plugin signals the exit.
			if cmd.ProcessState == nil {
				return "unknown status"
			}
			return cmd.ProcessState.String()
		},
		ping: func(ctx context.Context) error {
			gc, ok := proto.(*plugin.GRPCClient)
			if !ok {
				return proto.Ping()
			}
			_, err := grpc_health_v1.NewHealthClient(gc.Conn).Check(ctx,
				&grpc_health_v1.HealthCheckRequest{Service: plugin.GRPCServiceName})
			return err
		},
		describeAs: func(ctx context.Context, kind sdk.Kind) (sdk.Info, error) {
			c, ok := kindClients[kind]
			if !ok {
				return sdk.Info{}, fmt.Errorf("unknown plugin kind %q", kind)
			}
			raw, err := proto.Dispense(c.key)
			if err != nil {
				return sdk.Info{}, err
			}
			b, ok := c.as(raw)
			if !ok {
				return sdk.Info{}, fmt.Errorf("dispense %s client: got %T", kind, raw)
			}
			return b.Describe(ctx)
		},
		stop: stop,
	}
	if inst.exited == nil {
		stop()
		return nil, fmt.Errorf("dispense %s client: go-plugin gave no exit signal", l.kind)
	}
	return inst, nil
}
