package runtime_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"

	"github.com/hiveorch/hive/internal/testutil"
	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// buildFakePlugin builds testdata/fakeplugin, a binary that serves
// runtime.Fake with runtime.Serve, and returns its path.
func buildFakePlugin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fakeplugin")
	out, err := exec.Command("go", "build", "-o", bin, "./testdata/fakeplugin").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./testdata/fakeplugin: %v\n%s", err, out)
	}
	return bin
}

// syncBuffer is a bytes.Buffer safe for the plugin client's log goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startPlugin launches bin as hive does and returns the client and the
// Runtime it dispenses; hostLog receives the host's log, JSON.
func startPlugin(t *testing.T, bin string, hostLog *syncBuffer) (*plugin.Client, runtime.Runtime) {
	t.Helper()
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		Plugins:          map[string]plugin.Plugin{sdk.PluginSetRuntime: &runtime.Plugin{}},
		Cmd:              exec.Command(bin),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "host", Level: hclog.Debug, Output: hostLog, JSONFormat: true}),
	})
	t.Cleanup(client.Kill)
	proto, err := client.Client()
	if err != nil {
		t.Fatalf("start plugin: %v", err)
	}
	raw, err := proto.Dispense(sdk.PluginSetRuntime)
	if err != nil {
		t.Fatalf("dispense: %v", err)
	}
	return client, raw.(runtime.Runtime)
}

func TestPluginProcess(t *testing.T) {
	bin := buildFakePlugin(t)

	t.Run("run by hand it refuses to serve", func(t *testing.T) {
		out, err := exec.Command(bin).CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "This binary is a plugin") {
			t.Errorf("running the plugin without the handshake = %v, %q; want exit 1 saying it is a plugin", err, out)
		}
	})

	t.Run("its slog lines reach the host log as entries", func(t *testing.T) {
		var hostLog syncBuffer
		_, rt := startPlugin(t, bin, &hostLog)
		if _, err := rt.Describe(ctxFor(t)); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 15*time.Second, "the plugin's log line in the host log", func() bool {
			for line := range strings.SplitSeq(hostLog.String(), "\n") {
				var e map[string]any
				if json.Unmarshal([]byte(line), &e) != nil {
					continue
				}
				// Parsed by the host: the plugin's message with its level
				// and attributes, not the raw JSON line as a debug message.
				if e["@message"] == "serving the fake runtime" && e["@level"] == "info" && e["answer"] == float64(42) {
					return true
				}
			}
			return false
		})
	})

	for _, tc := range []struct {
		name string
		kill func(t *testing.T, c *plugin.Client)
	}{
		{"killed with SIGKILL", func(t *testing.T, c *plugin.Client) {
			if err := syscall.Kill(c.ReattachConfig().Pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}},
		{"killed by the host", func(t *testing.T, c *plugin.Client) { c.Kill() }},
	} {
		t.Run("calls fail as unavailable once the plugin is "+tc.name, func(t *testing.T) {
			var hostLog syncBuffer
			client, rt := startPlugin(t, bin, &hostLog)
			ctx := ctxFor(t)
			info, err := rt.Describe(ctx)
			if err != nil || info.Name != "runtime-fake" {
				t.Fatalf("Describe = %+v, %v", info, err)
			}
			id := started(t, rt, "victim", "sleep")
			waitErr := make(chan error, 1)
			go func() {
				_, err := rt.Wait(ctx, id)
				waitErr <- err
			}()

			tc.kill(t, client)

			select {
			case err := <-waitErr:
				if !errors.Is(err, sdk.ErrUnavailable) {
					t.Errorf("in-flight Wait = %v, want an error wrapping sdk.ErrUnavailable", err)
				}
			case <-ctx.Done():
				t.Fatal("in-flight Wait did not return when the plugin died")
			}
			if _, err := rt.Describe(ctx); !errors.Is(err, sdk.ErrUnavailable) {
				t.Errorf("Describe after the plugin died = %v, want an error wrapping sdk.ErrUnavailable", err)
			}
			if _, err := rt.Inspect(ctx, id); !errors.Is(err, sdk.ErrUnavailable) {
				t.Errorf("Inspect after the plugin died = %v, want an error wrapping sdk.ErrUnavailable", err)
			}
		})
	}

	t.Run("an orphaned plugin exits by itself", func(t *testing.T) {
		parent := exec.Command(bin)
		parent.Env = append(os.Environ(), "HIVE_TEST_SPAWN_PLUGIN=1")
		stdout, err := parent.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := parent.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = parent.Process.Kill(); _ = parent.Wait() })
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			t.Fatalf("read the plugin's PID: %v", err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(line))
		if err != nil {
			t.Fatalf("plugin PID %q: %v", line, err)
		}
		t.Cleanup(func() {
			if alive(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		})

		// hive dies without a chance to stop its plugins.
		if err := parent.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = parent.Wait()
		testutil.Eventually(t, 15*time.Second, "the orphaned plugin to exit", func() bool { return !alive(pid) })
	})
}

// alive reports whether the process runs (and is not a zombie waiting to
// be reaped by an init that may never do it).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}
