package runtime_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	plugin "github.com/hashicorp/go-plugin"

	"github.com/hiveorch/hive/internal/testutil"
	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

func TestHarnessEnsureImageProgress(t *testing.T) {
	f, rt := newHarness(t)
	ctx := ctxFor(t)
	var direct []runtime.PullProgress
	other := runtime.NewFake()
	other.AddImage(testImage)
	if err := other.EnsureImage(ctx, testImage, nil, func(p runtime.PullProgress) { direct = append(direct, p) }); err != nil {
		t.Fatal(err)
	}

	var got []runtime.PullProgress
	if err := rt.EnsureImage(ctx, testImage, nil, func(p runtime.PullProgress) { got = append(got, p) }); err != nil {
		t.Fatalf("EnsureImage = %v", err)
	}
	if len(got) == 0 || !reflect.DeepEqual(got, direct) {
		t.Errorf("progress through the wire = %+v, want %+v", got, direct)
	}
	if imgs := f.Images(); !reflect.DeepEqual(imgs, []string{testImage}) {
		t.Errorf("pulled images = %v", imgs)
	}

	got = nil
	if err := rt.EnsureImage(ctx, testImage, nil, func(p runtime.PullProgress) { got = append(got, p) }); err != nil || len(got) != 0 {
		t.Errorf("second EnsureImage = %v with progress %+v; want nil and no pull", err, got)
	}
	if err := rt.EnsureImage(ctx, testImage, nil, nil); err != nil {
		t.Errorf("EnsureImage with no progress func = %v", err)
	}
}

func TestHarnessLogs(t *testing.T) {
	_, rt := newHarness(t)
	ctx := ctxFor(t)
	id := started(t, rt, "logs", "print", "2")
	collect := func(opts runtime.LogOptions) []runtime.LogEntry {
		t.Helper()
		var out []runtime.LogEntry
		if err := rt.Logs(ctx, id, opts, func(e runtime.LogEntry) error { out = append(out, e); return nil }); err != nil {
			t.Fatalf("Logs(%+v) = %v", opts, err)
		}
		return out
	}
	for _, e := range collect(runtime.LogOptions{Tail: -1}) {
		if !e.Time.IsZero() {
			t.Errorf("entry %q without Timestamps has time %v; the zero time must survive the wire", e.Line, e.Time)
		}
	}
	for _, e := range collect(runtime.LogOptions{Tail: -1, Timestamps: true}) {
		if e.Time.IsZero() {
			t.Errorf("entry %q with Timestamps has no time", e.Line)
		}
	}
	if got := collect(runtime.LogOptions{Tail: 1}); len(got) != 1 || string(got[0].Line) != "err line" || got[0].Stream != runtime.StreamStderr {
		t.Errorf("Logs(Tail 1) = %+v, want the stderr line", got)
	}

	t.Run("a sink error comes back as is", func(t *testing.T) {
		errFull := errors.New("buffer full")
		err := rt.Logs(ctx, id, runtime.LogOptions{Tail: -1}, func(runtime.LogEntry) error { return errFull })
		if err != errFull {
			t.Errorf("Logs = %v, want the sink's own error", err)
		}
	})
}

func TestHarnessLogsFollowAndCancel(t *testing.T) {
	rec := &recorder{Fake: runtime.NewFake(), logsDone: make(chan error, 1)}
	rec.AddImage(testImage)
	rt := runtime.NewHarness(t, rec)
	id := started(t, rt, "follow", "sleep")

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	lines := make(chan string, 16)
	done := make(chan error, 1)
	go func() {
		done <- rt.Logs(ctx, id, runtime.LogOptions{Follow: true, Tail: -1}, func(e runtime.LogEntry) error {
			lines <- e.Stream + ": " + string(e.Line)
			return nil
		})
	}()
	// Lines added while following arrive in order, on their stream.
	for i, want := range []string{"stdout: one", "stderr: two", "stdout: three"} {
		stream, line, _ := strings.Cut(want, ": ")
		if err := rec.AddLog(id, stream, line); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-lines:
			if got != want {
				t.Errorf("line %d = %q, want %q", i, got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("line %q did not arrive", want)
		}
	}

	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("followed Logs after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("followed Logs did not return after cancel")
	}
	// The cancellation crossed the wire: the plugin's Logs returned too.
	select {
	case err := <-rec.logsDone:
		if err == nil {
			t.Errorf("plugin-side Logs returned nil after the client cancelled, want the context's error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("plugin-side Logs still running after the client cancelled")
	}
}

func TestHarnessWaitInterrupted(t *testing.T) {
	for _, tc := range []struct {
		name string
		// interrupt ends the Wait; want is the kind the Wait must fail with.
		interrupt func(f *runtime.Fake, cancel context.CancelFunc)
		want      error
	}{
		{"the caller cancels", func(_ *runtime.Fake, cancel context.CancelFunc) { cancel() }, context.Canceled},
		{"the engine goes down", func(f *runtime.Fake, _ context.CancelFunc) { f.SetDown(true) }, sdk.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, rt := newHarness(t)
			id := started(t, rt, "wait", "sleep")
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := rt.Wait(ctx, id)
				done <- err
			}()
			// Wait for the call to be blocked in the plugin.
			testutil.Eventually(t, 10*time.Second, "Wait to reach the plugin", func() bool { return countCalls(f, "Wait") > 0 })
			tc.interrupt(f, cancel)
			select {
			case err := <-done:
				if !errors.Is(err, tc.want) {
					t.Errorf("Wait = %v, want an error wrapping %v", err, tc.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Wait did not return")
			}
		})
	}
}

func countCalls(f *runtime.Fake, method string) int {
	n := 0
	for _, c := range f.Calls() {
		if c == method {
			n++
		}
	}
	return n
}

func TestClosedConnectionIsUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		close func(c *plugin.GRPCClient, s *plugin.GRPCServer)
	}{
		{"server stopped", func(_ *plugin.GRPCClient, s *plugin.GRPCServer) { s.Stop() }},
		{"client closed", func(c *plugin.GRPCClient, s *plugin.GRPCServer) { s.Stop(); _ = c.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := runtime.NewFake()
			client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{
				sdk.PluginSetRuntime: &runtime.Plugin{Impl: f},
			})
			raw, err := client.Dispense(sdk.PluginSetRuntime)
			if err != nil {
				t.Fatal(err)
			}
			rt := raw.(runtime.Runtime)
			ctx := ctxFor(t)
			if _, err := rt.Describe(ctx); err != nil {
				t.Fatalf("Describe before closing = %v", err)
			}
			tc.close(client, server)
			_, err = rt.Describe(ctx)
			if !errors.Is(err, sdk.ErrUnavailable) {
				t.Errorf("Describe after closing = %v, want an error wrapping sdk.ErrUnavailable", err)
			}
			if errors.Is(err, context.Canceled) {
				t.Errorf("Describe after closing = %v, which says the caller cancelled", err)
			}
			_ = client.Close()
		})
	}
}
