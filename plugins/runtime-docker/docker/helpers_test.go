package docker

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/hiveorch/hive/internal/testutil"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// testImage is the locally built test workload (acceptance/testimage).
const testImage = "hive-test/web:v1"

// testLabel marks every Docker object the tests create.
const testLabel = "hive.test"

var (
	engineOnce sync.Once
	engineErr  error
)

// requireDocker fails the test when CI is set and the engine or the test
// image is missing, and skips it otherwise.
func requireDocker(t *testing.T) {
	t.Helper()
	engineOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r := New(nil)
		defer r.Close()
		if err := r.Health(ctx); err != nil {
			engineErr = err
			return
		}
		eng, _ := r.engine()
		if _, err := eng.cli.ImageInspect(ctx, testImage); err != nil {
			engineErr = fmt.Errorf("test image %s is missing (build it with acceptance/testimage/build.sh): %w", testImage, err)
		}
	})
	if engineErr == nil {
		return
	}
	testutil.Unavailable(t, "docker is not usable: %v", engineErr)
}

// newTestRuntime returns a Runtime on the local engine, or skips (fails in
// CI) when there is none.
func newTestRuntime(t *testing.T) *Runtime {
	t.Helper()
	requireDocker(t)
	r := New(testutil.Logger(t))
	if err := r.Configure(t.Context(), map[string]string{}); err != nil {
		t.Fatalf("configure: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// rawClient is a Docker client of the tests' own, for checks the runtime
// does not expose and for cleanup.
func rawClient(t *testing.T) *client.Client {
	t.Helper()
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// randomID is a short random hex string.
func randomID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// uniqueName is a container name for this test, unique across runs.
func uniqueName(t *testing.T) string {
	t.Helper()
	name := strings.ToLower(unsafeName.ReplaceAllString(t.Name(), "-"))
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	return "hive-test-" + strings.Trim(name, "-.") + "-" + randomID(t)
}

// spec returns a spec for the test image running args, named for the test
// and labelled hive.test=1.
func spec(t *testing.T, args ...string) *runtime.ContainerSpec {
	t.Helper()
	return &runtime.ContainerSpec{
		Name:   uniqueName(t),
		Image:  testImage,
		Args:   args,
		Labels: map[string]string{testLabel: "1"},
	}
}

// create creates s with r and removes the container when the test ends.
func create(t *testing.T, r runtime.Runtime, s *runtime.ContainerSpec) string {
	t.Helper()
	if s.Labels[testLabel] != "1" {
		t.Fatalf("spec %s lacks the label %s=1", s.Name, testLabel)
	}
	id, err := r.Create(t.Context(), s)
	if err != nil {
		t.Fatalf("create %s: %v", s.Name, err)
	}
	removeWhenDone(t, id)
	return id
}

// removeWhenDone removes the container when the test ends, even when it
// fails.
func removeWhenDone(t *testing.T, id string) {
	t.Helper()
	cli := rawClient(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			t.Errorf("cleanup: remove container %s: %v", id, err)
		}
	})
}

// run creates and starts a container.
func run(t *testing.T, r runtime.Runtime, s *runtime.ContainerSpec) string {
	t.Helper()
	id := create(t, r, s)
	if err := r.Start(t.Context(), id); err != nil {
		t.Fatalf("start %s: %v", s.Name, err)
	}
	return id
}

// serve starts the test workload's HTTP server from s (whose args it
// sets) and waits until the workload says it serves: from then on SIGTERM
// and SIGINT make it exit 0. (A signal that comes before the workload has
// set up its handler makes it exit 2.)
func serve(t *testing.T, r runtime.Runtime, s *runtime.ContainerSpec) string {
	t.Helper()
	s.Args = []string{"serve"}
	id := run(t, r, s)
	waitForOutput(t, r, id, "serving")
	return id
}

// collectLogs returns the container's whole output so far.
func collectLogs(t *testing.T, r runtime.Runtime, id string, opts runtime.LogOptions) []runtime.LogEntry {
	t.Helper()
	var out []runtime.LogEntry
	err := r.Logs(t.Context(), id, opts, func(e runtime.LogEntry) error {
		out = append(out, e)
		return nil
	})
	if err != nil {
		t.Fatalf("logs of %s: %v", id, err)
	}
	return out
}

// lines renders entries as "stream: line" strings.
func lines(entries []runtime.LogEntry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.Stream + ": " + string(e.Line)
	}
	return out
}

// waitForOutput waits until the container's output holds want.
func waitForOutput(t *testing.T, r runtime.Runtime, id, want string) {
	t.Helper()
	testutil.EventuallyWhy(t, 15*time.Second, "the container's output", func() (bool, string) {
		var all bytes.Buffer
		for _, e := range collectLogs(t, r, id, runtime.LogOptions{Tail: -1}) {
			all.Write(e.Line)
			all.WriteByte('\n')
		}
		return strings.Contains(all.String(), want), fmt.Sprintf("output of %s lacks %q; it is:\n%s", id, want, all.String())
	})
}

// waitForState waits until the container is in state.
func waitForState(t *testing.T, r runtime.Runtime, id, state string) *runtime.Container {
	t.Helper()
	var c *runtime.Container
	testutil.EventuallyWhy(t, 15*time.Second, "the container's state", func() (bool, string) {
		var err error
		c, err = r.Inspect(t.Context(), id)
		if err != nil {
			return false, err.Error()
		}
		return c.State == state, fmt.Sprintf("container %s is %s, want %s", id, c.State, state)
	})
	return c
}

// mustErrIs fails unless err wraps want.
func mustErrIs(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v does not wrap %q", err, want)
	}
}
