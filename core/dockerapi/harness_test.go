package dockerapi

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/api/apitest"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/testutil"
)

// harness is the Docker API on a unix socket in front of the fake
// backend, with a moby client to drive it.
type harness struct {
	t    *testing.T
	b    *apitest.Backend
	sock string
}

const selfID = "node1aaaaaaaaaaaaaaaaaaaa"

func newHarness(t *testing.T) *harness {
	t.Helper()
	b := apitest.New()
	b.Logger = testutil.Logger(t)
	t.Cleanup(b.Close)
	b.InfoValue = api.Info{NodeID: selfID, Hostname: "laptop", Role: "manager", Leader: true, ClusterID: "clusteraaaaaaaaaaaaaaaaaa",
		Version: "0.1.0-test", Managers: 1, Nodes: 2, Runtime: "docker"}
	b.AddNode(&types.Node{ID: selfID, Description: types.NodeDescription{Hostname: "laptop",
		Platform:  types.Platform{OS: "linux", Architecture: "x86_64"},
		Resources: types.Resources{NanoCPUs: 2e9, MemoryBytes: 8 << 30},
		Runtime:   types.Plugin{Name: "docker", Version: "20.10.24"}, Version: "0.1.0-test",
		DataPath: types.DataPath{Addr: "10.1.0.1", Port: 4789}},
		Spec:          types.NodeSpec{Role: types.RoleManager, Availability: types.AvailabilityActive, Labels: map[string]string{"zone": "a"}},
		Status:        types.NodeStatus{State: types.NodeStateReady, Addr: "10.1.0.1"},
		ManagerStatus: &types.ManagerStatus{Leader: true, Reachability: "reachable", Addr: "10.1.0.1:4242"}})
	b.AddNode(&types.Node{ID: "node2bbbbbbbbbbbbbbbbbbbb", Description: types.NodeDescription{Hostname: "worker-1",
		Platform: types.Platform{OS: "linux", Architecture: "x86_64"}, Runtime: types.Plugin{Name: "docker", Version: "20.10.24"}},
		Spec:   types.NodeSpec{Role: types.RoleWorker, Availability: types.AvailabilityDrain},
		Status: types.NodeStatus{State: types.NodeStateDown}})
	b.AutoRun = true

	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := api.ListenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewServer(b, testutil.Logger(t)).Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &harness{t: t, b: b, sock: sock}
}

// client returns a moby client of the harness's socket that negotiates
// the API version, or pins version when one is given.
func (h *harness) client(version ...string) *client.Client {
	h.t.Helper()
	opts := []client.Opt{client.WithHost("unix://" + h.sock)}
	if len(version) > 0 {
		opts = append(opts, client.WithAPIVersion(version[0]))
	}
	c, err := client.New(opts...)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	return c
}

// raw sends a request to the socket without a client's help.
func (h *harness) raw(method, path string) *http.Response {
	h.t.Helper()
	return h.send(method, path, nil)
}

// rawBody sends a request with a JSON body to the socket without a
// client's help.
func (h *harness) rawBody(method, path, body string) *http.Response {
	h.t.Helper()
	return h.send(method, path, strings.NewReader(body))
}

// send is raw and rawBody: a request to the socket, with a JSON body when
// body is not nil. The response's body is closed when the test ends.
func (h *harness) send(method, path string, body io.Reader) *http.Response {
	h.t.Helper()
	c := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", h.sock)
	}}}
	req, err := http.NewRequest(method, "http://docker"+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// wantInvalid checks the error of a call that a table case expects to
// fail with a 400 whose message holds want, or to succeed when want is
// empty; a mismatch stops the test. It reports whether the call failed as
// wanted, so that there is no result to check.
func wantInvalid(t *testing.T, err error, want string) (failed bool) {
	t.Helper()
	if want != "" {
		if !cerrdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v, want a 400 with %q", err, want)
		}
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	return false
}

// dockerCLI returns a runner of the system's docker CLI against the
// harness, with a config of its own; it fails the test on an error and
// returns the output, trimmed. Without a docker CLI the test cannot run
// (and fails under CI).
func (h *harness) dockerCLI() func(args ...string) string {
	h.t.Helper()
	docker, err := exec.LookPath("docker")
	if err != nil {
		testutil.Unavailable(h.t, "the docker CLI is not installed (apt-get install docker.io): %v", err)
	}
	config := filepath.Join(h.t.TempDir(), "docker")
	return func(args ...string) string {
		h.t.Helper()
		cmd := exec.CommandContext(h.t.Context(), docker, args...)
		cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+h.sock, "DOCKER_CONFIG="+config, "DOCKER_CONTEXT=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			h.t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
}
