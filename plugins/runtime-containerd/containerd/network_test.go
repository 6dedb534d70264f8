package containerd

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hiveorch/hive/internal/testutil"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// testSpec is a spec of the test image running args, named for the test
// and labelled hive.test=1.
func testSpec(t *testing.T, args ...string) *runtime.ContainerSpec {
	t.Helper()
	return &runtime.ContainerSpec{
		Name:   "hive-test-" + randomHex(6),
		Image:  testImage,
		Args:   args,
		Labels: map[string]string{"hive.test": "1"},
	}
}

// startContainer creates and starts spec; the test env removes it.
func startContainer(t *testing.T, r *Runtime, spec *runtime.ContainerSpec) *runtime.Container {
	t.Helper()
	id, err := r.Create(t.Context(), spec)
	if err != nil {
		t.Fatalf("create %s: %v", spec.Name, err)
	}
	if err := r.Start(t.Context(), id); err != nil {
		t.Fatalf("start %s: %v", spec.Name, err)
	}
	c, err := r.Inspect(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// getFrom GETs url from inside the network namespace at nsPath, as a
// process in that container would.
func getFrom(nsPath, url string) (string, error) {
	type result struct {
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		// The thread enters the container's namespace and is never
		// given back to the Go scheduler's pool (no UnlockOSThread).
		goruntime.LockOSThread()
		f, err := os.Open(nsPath)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{err: fmt.Errorf("setns: %w", err)}
			return
		}
		d := net.Dialer{Timeout: 2 * time.Second}
		conn, err := d.Dial("tcp", strings.TrimPrefix(url, "http://"))
		if err != nil {
			done <- result{err: err}
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
		fmt.Fprintf(conn, "GET / HTTP/1.0\r\n\r\n")
		b, err := io.ReadAll(conn)
		done <- result{string(b), err}
	}()
	r := <-done
	return r.body, r.err
}

// TestTasksReachEachOtherAndTheNodeReachesThem: two tasks on the bridge
// talk to each other by address (tasks of one service do), and the node
// reaches each at its address (the routing mesh does).
func TestTasksReachEachOtherAndTheNodeReachesThem(t *testing.T) {
	env := newTestEnv(t)
	r := env.newRuntime(t)
	a := startContainer(t, r, testSpec(t, "serve"))
	b := startContainer(t, r, testSpec(t, "serve"))
	if len(a.Addresses) != 1 || len(b.Addresses) != 1 || a.Addresses[0] == b.Addresses[0] {
		t.Fatalf("addresses %v and %v, want one each, different", a.Addresses, b.Addresses)
	}
	rec, err := r.eng.record(t.Context(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	nsA := rec.Labels[labelNetNS]
	testutil.EventuallyWhy(t, 10*time.Second, "container A to reach container B", func() (bool, string) {
		body, err := getFrom(nsA, "http://"+b.Addresses[0]+":80")
		return err == nil && strings.Contains(body, b.ID[:12]), fmt.Sprintf("from A to B: %q, %v", body, err)
	})
	client := http.Client{Timeout: 2 * time.Second}
	for _, c := range []*runtime.Container{a, b} {
		testutil.EventuallyWhy(t, 10*time.Second, "the host to reach the container", func() (bool, string) {
			resp, err := client.Get("http://" + c.Addresses[0] + ":80/")
			if err != nil {
				return false, err.Error()
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return strings.HasPrefix(string(body), c.ID[:12]), fmt.Sprintf("body %q", body)
		})
	}
}

// TestAHostPortIsReleasedWhenTheTaskExits: hive starts a replacement task
// with the same host port while the old container still exists (exited):
// the port must follow the running one.
func TestAHostPortIsReleasedWhenTheTaskExits(t *testing.T) {
	env := newTestEnv(t)
	r := env.newRuntime(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint32(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	get := func() (string, error) {
		c := http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	var ids []string
	for range 2 {
		spec := testSpec(t, "serve")
		spec.Ports = []runtime.PortBinding{{Protocol: "tcp", ContainerPort: 80, HostPort: port}}
		c := startContainer(t, r, spec)
		ids = append(ids, c.ID)
		testutil.EventuallyWhy(t, 10*time.Second, "the host port to reach the running task", func() (bool, string) {
			body, err := get()
			return err == nil && strings.HasPrefix(body, c.ID[:12]), fmt.Sprintf("%q, %v", body, err)
		})
		if err := r.Stop(t.Context(), c.ID, runtime.StopOptions{Timeout: 5 * time.Second}); err != nil {
			t.Fatal(err)
		}
		if _, err := get(); err == nil {
			t.Errorf("port %d still answers after its task stopped", port)
		}
	}
	// Both containers exist, exited; their network is gone: no pinned
	// namespace, no CNI result, no masquerade rule.
	if pins, _ := filepath.Glob(filepath.Join(env.root, "netns", "*")); len(pins) != 0 {
		t.Errorf("pinned namespaces of exited tasks: %v", pins)
	}
	for _, id := range ids {
		if res, _ := filepath.Glob("/var/lib/cni/results/*" + id + "*"); len(res) != 0 {
			t.Errorf("CNI results of exited task %s: %v", id, res)
		}
		if out, _ := exec.Command("iptables-save").Output(); strings.Contains(string(out), id) {
			t.Errorf("iptables rules of exited task %s are left", id)
		}
	}
}
