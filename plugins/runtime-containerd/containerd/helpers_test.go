package containerd

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/hiveorch/hive/internal/testutil"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
	"github.com/hiveorch/hive/plugins/sdk/runtime/conformance"
)

// Images built by acceptance/testimage/build.sh, imported into each
// test's namespace from `docker save` output.
const (
	testImage  = "hive-test/web:v1"
	testImage2 = "hive-test/web:v2"
)

// testSocket is the containerd the tests drive: HIVE_TEST_CONTAINERD_SOCKET,
// or the dedicated one scripts/containerd.sh starts.
func testSocket() string {
	if s := os.Getenv("HIVE_TEST_CONTAINERD_SOCKET"); s != "" {
		return s
	}
	return "/run/hive-containerd/containerd.sock"
}

var (
	envOnce  sync.Once
	envErr   error
	savedTar []byte // docker save of the test images
)

// requireContainerd fails the test when CI is set and containerd, the CNI
// plugins, Docker (for the test images) or the images are missing, and
// skips it otherwise.
func requireContainerd(t *testing.T) {
	t.Helper()
	envOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, err := containerd.New(testSocket())
		if err != nil {
			envErr = err
			return
		}
		defer c.Close()
		if ok, err := c.IsServing(ctx); err != nil || !ok {
			envErr = fmt.Errorf("containerd at %s does not answer (start it with plugins/runtime-containerd/scripts/containerd.sh start): %v", testSocket(), err)
			return
		}
		s, _ := parseSettings(nil)
		if err := (&network{s: s}).check(); err != nil {
			envErr = err
			return
		}
		out, err := exec.CommandContext(ctx, "docker", "save", testImage, testImage2).Output()
		if err != nil {
			envErr = fmt.Errorf("docker save %s %s (build them with acceptance/testimage/build.sh): %v", testImage, testImage2, err)
			return
		}
		savedTar = out
	})
	if envErr == nil {
		return
	}
	testutil.Unavailable(t, "containerd is not usable: %v", envErr)
}

// testEnv is one test's share of containerd: its own namespace, root
// directory, bridge and subnet, all removed when the test ends.
type testEnv struct {
	t        *testing.T
	settings map[string]string
	client   *containerd.Client
	ns       string
	bridge   string
	root     string
}

// newTestEnv prepares a namespace with the test images imported and
// settings naming it; everything is removed when t ends, pass or fail.
func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newBareEnv(t)
	e.importImages(savedTar)
	return e
}

// newBareEnv is newTestEnv without the images.
func newBareEnv(t *testing.T) *testEnv {
	t.Helper()
	requireContainerd(t)
	root := t.TempDir()
	id := randomHex(3)
	e := &testEnv{t: t, ns: "hive-test-" + id, bridge: "hivet" + id, root: root}
	client, err := containerd.New(testSocket(), containerd.WithDefaultNamespace(e.ns))
	if err != nil {
		t.Fatal(err)
	}
	e.client = client
	e.settings = map[string]string{
		"socket":    testSocket(),
		"namespace": e.ns,
		"root":      root,
		"bridge":    e.bridge,
		"subnet":    freeSubnet(t),
	}
	t.Cleanup(e.cleanup)
	return e
}

// loadImage imports ref from Docker into the namespace.
func (e *testEnv) loadImage(ctx context.Context, ref string) error {
	tar, err := conformance.DockerSave(ctx, ref)
	if err != nil {
		return err
	}
	e.importImages(tar)
	return nil
}

// importImages loads a `docker save` archive into the namespace and
// unpacks it, as a host without a registry would.
func (e *testEnv) importImages(tar []byte) {
	e.t.Helper()
	ctx := namespaces.WithNamespace(e.t.Context(), e.ns)
	ctx, done, err := e.client.WithLease(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	defer done(context.WithoutCancel(ctx))
	imgs, err := e.client.Import(ctx, bytes.NewReader(tar))
	if err != nil {
		e.t.Fatalf("import the test images: %v", err)
	}
	for _, img := range imgs {
		if err := containerd.NewImage(e.client, img).Unpack(ctx, DefaultSnapshotter); err != nil {
			e.t.Fatalf("unpack %s: %v", img.Name, err)
		}
	}
}

// cleanup removes the namespace's containers, images and everything they
// hold, then the namespace, the bridge and CNI's cached results.
func (e *testEnv) cleanup() {
	t := e.t
	ctx, cancel := context.WithTimeout(namespaces.WithNamespace(context.Background(), e.ns), time.Minute)
	defer cancel()
	// Containers a test left (it failed) go through a runtime, which also
	// releases their networks and stops their log copiers.
	r := New(nil)
	if err := r.Configure(ctx, e.settings); err == nil {
		cs, _ := r.List(ctx, runtime.ListFilter{})
		for _, c := range cs {
			if err := r.Remove(ctx, c.ID, runtime.RemoveOptions{Force: true}); err != nil {
				t.Errorf("cleanup: remove container %s: %v", c.Name, err)
			}
		}
		r.Close()
	}
	if cs, err := e.client.Containers(ctx); err == nil {
		for _, c := range cs {
			if task, err := c.Task(ctx, nil); err == nil {
				_, _ = task.Delete(ctx, containerd.WithProcessKill)
			}
			_ = c.Delete(ctx, containerd.WithSnapshotCleanup)
		}
	}
	if imgs, err := e.client.ImageService().List(ctx); err == nil {
		for i, img := range imgs {
			var opts []images.DeleteOpt
			if i == len(imgs)-1 {
				opts = append(opts, images.SynchronousDelete())
			}
			_ = e.client.ImageService().Delete(ctx, img.Name, opts...)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := e.client.NamespaceService().Delete(ctx, e.ns)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("cleanup: delete namespace %s: %v", e.ns, err)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	_ = e.client.Close()
	if err := QuitCopier(ctx, e.root); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	// Pinned network namespaces must be unmounted before the temp dir
	// can go.
	if pins, _ := filepath.Glob(filepath.Join(e.root, "netns", "*")); len(pins) > 0 {
		for _, p := range pins {
			_ = mount.UnmountAll(p, 0)
		}
		t.Errorf("cleanup: %d network namespaces were left pinned", len(pins))
	}
	// Every rule CNI added names the network (the bridge).
	if out, err := exec.Command("iptables-save").Output(); err == nil && strings.Contains(string(out), e.bridge) {
		t.Errorf("cleanup: iptables rules of network %s were left:\n%s", e.bridge, grepLines(string(out), e.bridge))
	}
	_ = exec.Command("ip", "link", "delete", e.bridge).Run()
	// containerd 1.x leaves its (empty) task state directory of a deleted
	// namespace; the dedicated containerd keeps its state beside its socket.
	_ = os.Remove(filepath.Join(filepath.Dir(testSocket()), "state", "io.containerd.runtime.v2.task", e.ns))
	if res, _ := filepath.Glob("/var/lib/cni/results/" + e.bridge + "-*"); len(res) > 0 {
		for _, f := range res {
			_ = os.Remove(f)
		}
		t.Errorf("cleanup: %d CNI results were left", len(res))
	}
}

// newRuntime returns a Runtime configured for the env, closed when t ends.
func (e *testEnv) newRuntime(t *testing.T) *Runtime {
	t.Helper()
	r := New(testutil.Logger(t))
	if err := r.Configure(t.Context(), e.settings); err != nil {
		t.Fatalf("configure: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// freeSubnet picks a /24 in 10.231.0.0/16 that no interface of the host
// is on.
func freeSubnet(t *testing.T) string {
	t.Helper()
	addrs, _ := net.InterfaceAddrs()
	for range 100 {
		b := make([]byte, 1)
		_, _ = rand.Read(b)
		p := netip.MustParsePrefix(fmt.Sprintf("10.231.%d.0/24", b[0]))
		used := false
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(ipn.IP.To4()); ok && p.Contains(ip) {
					used = true
				}
			}
		}
		if !used {
			return p.String()
		}
	}
	t.Fatal("no free /24 in 10.231.0.0/16")
	return ""
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
