// Command fakeplugin is the plugin the pluginhost tests start: the SDK's
// fake runtime or scheduler served over go-plugin. It accepts, and ignores
// but for the name, hive's `plugin serve NAME` arguments, so a test can
// use it as the hive binary for built-in plugins.
//
// The kind is the scheduler when the name (NAME, or else the name the
// binary was run as) contains "scheduler", a secrets driver when it
// contains "secrets", the runtime otherwise.
//
// Settings it understands: "fail" makes Configure fail naming the value;
// "unhealthy" makes Health fail with the value as the message (wrapping
// sdk.ErrUnavailable, as an unreachable engine does); "version" replaces
// the version Describe reports once configured. A secrets driver also
// stores each setting "secret.NAME" as the value of NAME (read with the
// option name=NAME); "exit_on_get" makes a Get end the process.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
	"github.com/hiveorch/hive/plugins/sdk/scheduler"
	"github.com/hiveorch/hive/plugins/sdk/secrets"
)

func main() {
	name := filepath.Base(os.Args[0])
	if args := os.Args[1:]; len(args) >= 3 && args[0] == "plugin" && args[1] == "serve" {
		name = args[2]
	}
	if strings.Contains(name, "secrets") {
		secrets.Serve(&fakeSecrets{Fake: secrets.NewFake()})
		return
	}
	if strings.Contains(name, "scheduler") {
		scheduler.Serve(&fakeScheduler{Scheduler: scheduler.NewFake()})
		return
	}
	f := runtime.NewFake()
	f.AllowAnyImage(true)
	runtime.Serve(&fakeRuntime{Runtime: f})
}

// settings is the behaviour Configure sets.
type settings struct {
	mu        sync.Mutex
	unhealthy string
	version   string
}

func (s *settings) configure(in map[string]string) error {
	if v := in["fail"]; v != "" {
		return fmt.Errorf("setting fail: %s: %w", v, sdk.ErrInvalidArgument)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unhealthy, s.version = in["unhealthy"], in["version"]
	return nil
}

func (s *settings) health() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unhealthy != "" {
		return fmt.Errorf("%s: %w", s.unhealthy, sdk.ErrUnavailable)
	}
	return nil
}

func (s *settings) describe(info sdk.Info) sdk.Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.version != "" {
		info.Version = s.version
	}
	return info
}

type fakeRuntime struct {
	runtime.Runtime
	s settings
}

func (f *fakeRuntime) Describe(ctx context.Context) (sdk.Info, error) {
	info, err := f.Runtime.Describe(ctx)
	return f.s.describe(info), err
}

func (f *fakeRuntime) Configure(ctx context.Context, in map[string]string) error {
	if err := f.s.configure(in); err != nil {
		return err
	}
	return f.Runtime.Configure(ctx, in)
}

func (f *fakeRuntime) Health(ctx context.Context) error {
	if err := f.s.health(); err != nil {
		return err
	}
	return f.Runtime.Health(ctx)
}

type fakeScheduler struct {
	scheduler.Scheduler
	s settings
}

func (f *fakeScheduler) Describe(ctx context.Context) (sdk.Info, error) {
	info, err := f.Scheduler.Describe(ctx)
	return f.s.describe(info), err
}

func (f *fakeScheduler) Configure(ctx context.Context, in map[string]string) error {
	if err := f.s.configure(in); err != nil {
		return err
	}
	return f.Scheduler.Configure(ctx, in)
}

func (f *fakeScheduler) Health(ctx context.Context) error {
	if err := f.s.health(); err != nil {
		return err
	}
	return f.Scheduler.Health(ctx)
}

type fakeSecrets struct {
	*secrets.Fake
	s         settings
	exitOnGet atomic.Bool
}

func (f *fakeSecrets) Describe(ctx context.Context) (sdk.Info, error) {
	info, err := f.Fake.Describe(ctx)
	return f.s.describe(info), err
}

func (f *fakeSecrets) Configure(ctx context.Context, in map[string]string) error {
	if err := f.s.configure(in); err != nil {
		return err
	}
	for k, v := range in {
		if name, ok := strings.CutPrefix(k, "secret."); ok {
			f.Set(name, []byte(v))
		}
	}
	f.exitOnGet.Store(in["exit_on_get"] != "")
	return f.Fake.Configure(ctx, in)
}

func (f *fakeSecrets) Health(ctx context.Context) error {
	if err := f.s.health(); err != nil {
		return err
	}
	return f.Fake.Health(ctx)
}

func (f *fakeSecrets) Get(ctx context.Context, ref secrets.Ref) (secrets.Value, error) {
	if f.exitOnGet.Load() {
		os.Exit(3)
	}
	return f.Fake.Get(ctx, ref)
}
