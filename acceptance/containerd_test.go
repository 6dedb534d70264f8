//go:build acceptance

package acceptance

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	ctdruntime "github.com/hiveorch/hive/plugins/runtime-containerd/containerd"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
	"github.com/hiveorch/hive/plugins/sdk/runtime/conformance"
)

// The single-node scenarios again, with hive's containerd runtime on a
// real containerd: the one HIVE_TEST_CONTAINERD_SOCKET names, or the
// dedicated one `make containerd` starts. Each test gets its own
// containerd namespace, plugin root, bridge and subnet, with the test
// images imported from `docker save`; all of it is removed when the test
// ends, pass or fail.

// init lets this test binary serve as the plugin's log copier: the
// runtime the tests use for cleanup re-executes its own executable (this
// binary) when a running container lost its copier.
func init() {
	if os.Getenv(ctdruntime.CopierEnv) != "" {
		ctdruntime.Main()
	}
}

func containerdSocket() string {
	if s := os.Getenv("HIVE_TEST_CONTAINERD_SOCKET"); s != "" {
		return s
	}
	return "/run/hive-containerd/containerd.sock"
}

// ctdEnv is one test's share of containerd.
type ctdEnv struct {
	t      *testing.T
	ns     string
	root   string
	bridge string
	subnet string
	client *containerd.Client
}

// newCtdEnv prepares a namespace with the test images imported. Its
// cleanup runs after the hive nodes the test starts later are down.
func newCtdEnv(t *testing.T) *ctdEnv {
	t.Helper()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	client, err := containerd.New(containerdSocket(), containerd.WithDefaultNamespace("hive-acc-"+id))
	if err != nil {
		t.Fatalf("containerd client: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if ok, err := client.IsServing(ctx); err != nil || !ok {
		client.Close()
		t.Fatalf("containerd does not answer at %s (make containerd starts one): %v", containerdSocket(), err)
	}
	dir, err := os.MkdirTemp("", "hive-acc-ctd-")
	if err != nil {
		t.Fatal(err)
	}
	e := &ctdEnv{t: t, ns: "hive-acc-" + id, root: dir, bridge: "hivea" + id, subnet: freeSubnet(t), client: client}
	t.Cleanup(e.cleanup)
	tar, err := conformance.DockerSave(t.Context(), imageV1, imageV2, imageCrash)
	if err != nil {
		t.Fatal(err)
	}
	e.importArchive(tar)
	return e
}

// env is the environment that makes hive use this containerd, with
// HIVE_PLUGINS_RUNTIME=containerd unless the flag chooses it.
func (e *ctdEnv) env(withRuntime bool) []string {
	env := []string{
		"HIVE_PLUGINS_CONFIG_RUNTIME_CONTAINERD_SOCKET=" + containerdSocket(),
		"HIVE_PLUGINS_CONFIG_RUNTIME_CONTAINERD_NAMESPACE=" + e.ns,
		"HIVE_PLUGINS_CONFIG_RUNTIME_CONTAINERD_ROOT=" + e.root,
		"HIVE_PLUGINS_CONFIG_RUNTIME_CONTAINERD_BRIDGE=" + e.bridge,
		"HIVE_PLUGINS_CONFIG_RUNTIME_CONTAINERD_SUBNET=" + e.subnet,
	}
	if withRuntime {
		env = append(env, "HIVE_PLUGINS_RUNTIME=containerd")
	}
	return env
}

// startHive starts a hive node on this containerd.
func (e *ctdEnv) startHive(extraEnv ...string) *node {
	e.t.Helper()
	return startHive(e.t, append(e.env(true), extraEnv...)...)
}

func (e *ctdEnv) ctx() context.Context { return namespaces.WithNamespace(e.t.Context(), e.ns) }

// importArchive loads a `docker save` archive with the client's import.
func (e *ctdEnv) importArchive(tar []byte) {
	e.t.Helper()
	ctx, done, err := e.client.WithLease(e.ctx())
	if err != nil {
		e.t.Fatal(err)
	}
	defer done(context.WithoutCancel(ctx))
	imgs, err := e.client.Import(ctx, bytes.NewReader(tar))
	if err != nil {
		e.t.Fatalf("import the test images into containerd: %v", err)
	}
	for _, img := range imgs {
		if err := containerd.NewImage(e.client, img).Unpack(ctx, ctdruntime.DefaultSnapshotter); err != nil {
			e.t.Fatalf("unpack %s: %v", img.Name, err)
		}
	}
}

// containers returns the IDs of the containers of the service (all when
// empty), as containerd sees them; with running, only those whose task
// runs.
func (e *ctdEnv) containers(service string, running bool) []string {
	e.t.Helper()
	var filters []string
	if service != "" {
		filters = append(filters, fmt.Sprintf("labels.%q==%q", "hive.service.name", service))
	}
	cs, err := e.client.Containers(e.ctx(), filters...)
	if err != nil {
		e.t.Fatalf("list containerd containers: %v", err)
	}
	var out []string
	for _, c := range cs {
		if running {
			task, err := c.Task(e.ctx(), nil)
			if err != nil {
				continue
			}
			if st, err := task.Status(e.ctx()); err != nil || st.Status != containerd.Running {
				continue
			}
		}
		out = append(out, c.ID())
	}
	return out
}

func (e *ctdEnv) settings() map[string]string {
	return map[string]string{
		"socket": containerdSocket(), "namespace": e.ns, "root": e.root, "bridge": e.bridge, "subnet": e.subnet,
	}
}

// kill SIGKILLs a container's task behind hive's back.
func (e *ctdEnv) kill(id string) {
	e.t.Helper()
	c, err := e.client.LoadContainer(e.ctx(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	task, err := c.Task(e.ctx(), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := task.Kill(e.ctx(), syscall.SIGKILL); err != nil {
		e.t.Fatal(err)
	}
}

// cleanup removes whatever the test left: containers (through the
// plugin's own code, which releases their networks and log copiers),
// images, the namespace, the bridge, CNI's cached results and the root.
func (e *ctdEnv) cleanup() {
	t := e.t
	ctx, cancel := context.WithTimeout(namespaces.WithNamespace(context.Background(), e.ns), 2*time.Minute)
	defer cancel()
	r := ctdruntime.New(nil)
	if err := r.Configure(ctx, e.settings()); err == nil {
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
	e.client.Close()
	if err := ctdruntime.QuitCopier(ctx, e.root); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	pins, _ := filepath.Glob(filepath.Join(e.root, "netns", "*"))
	for _, p := range pins {
		_ = mount.UnmountAll(p, 0)
	}
	if len(pins) > 0 {
		t.Errorf("cleanup: %d network namespaces were left pinned", len(pins))
	}
	// Every rule CNI added names the network (the bridge).
	if out, err := exec.Command("iptables-save").Output(); err == nil && strings.Contains(string(out), e.bridge) {
		t.Errorf("cleanup: iptables rules of network %s were left:\n%s", e.bridge, grepLines(string(out), e.bridge))
	}
	_ = exec.Command("ip", "link", "delete", e.bridge).Run()
	// containerd 1.x leaves its (empty) task state directory of a deleted
	// namespace; the dedicated containerd keeps its state beside its socket.
	_ = os.Remove(filepath.Join(filepath.Dir(containerdSocket()), "state", "io.containerd.runtime.v2.task", e.ns))
	res, _ := filepath.Glob("/var/lib/cni/results/" + e.bridge + "-*")
	for _, f := range res {
		_ = os.Remove(f)
	}
	if len(res) > 0 {
		t.Errorf("cleanup: %d CNI results were left", len(res))
	}
	_ = os.RemoveAll(e.root)
}

// freeSubnet picks a /24 in 10.232.0.0/16 no interface of the host is on.
func freeSubnet(t *testing.T) string {
	t.Helper()
	addrs, _ := net.InterfaceAddrs()
	for range 100 {
		b := make([]byte, 1)
		_, _ = rand.Read(b)
		p := netip.MustParsePrefix(fmt.Sprintf("10.232.%d.0/24", b[0]))
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
	t.Fatal("no free /24 in 10.232.0.0/16")
	return ""
}

func TestContainerdRuntimeChosenByFlagServesBalancedReplicas(t *testing.T) {
	e := newCtdEnv(t)
	n := startHiveFlags(t, []string{"--runtime", "containerd"}, e.env(false)...)
	var self []struct {
		Description struct {
			Runtime struct{ Name, Version string }
		}
	}
	mustJSON(t, n.must("node", "inspect", "self", "--format", "json"), &self)
	if len(self) != 1 || self[0].Description.Runtime.Name != "runtime-containerd" {
		t.Fatalf("node inspect self: %+v, want runtime runtime-containerd", self)
	}
	if ls := n.must("node", "ls"); !strings.Contains(ls, "runtime-containerd") {
		t.Errorf("node ls does not show the runtime:\n%s", ls)
	}

	port := createWeb(n, "web", 3)
	if got := len(e.containers("web", true)); got != 3 {
		t.Fatalf("%d containerd containers running, want 3", got)
	}
	hosts := map[string]int{}
	for range 30 {
		body, err := get("127.0.0.1:"+port, "/")
		if err != nil {
			t.Fatalf("request through the published port: %v", err)
		}
		hosts[strings.Fields(body)[0]]++
	}
	if len(hosts) != 3 {
		t.Fatalf("answers came from %d containers (%v), want all 3", len(hosts), hosts)
	}
	for h, c := range hosts {
		if c < 5 {
			t.Errorf("container %s answered %d of 30 requests: not balanced (%v)", h, c, hosts)
		}
	}
}

func TestContainerdAKilledContainerIsReplacedWithinTenSeconds(t *testing.T) {
	e := newCtdEnv(t)
	n := e.startHive()
	createWeb(n, "web", 3)
	before := n.running("web")
	victim := before[2]

	start := time.Now()
	e.kill(victim)
	n.eventually(10*time.Second, "a replacement running in slot 2", func() error {
		now := n.running("web")
		if len(now) != 3 || now[2] == "" || now[2] == victim {
			return fmt.Errorf("running by slot: %v", now)
		}
		return nil
	})
	t.Logf("replacement running %v after the kill", time.Since(start).Round(100*time.Millisecond))
	after := n.running("web")
	if after[1] != before[1] || after[3] != before[3] {
		t.Errorf("other slots were disturbed: before %v after %v", before, after)
	}
	failed := false
	for _, tk := range n.tasks("web") {
		if tk.Slot == 2 && tk.Status.State == "failed" && strings.Contains(tk.Status.Err, "137") {
			failed = true
		}
	}
	if !failed {
		t.Errorf("the killed task is not reported failed with exit code 137: %+v", n.tasks("web"))
	}
}

func TestContainerdScaleUpThenDownKeepsTheLowestSlots(t *testing.T) {
	e := newCtdEnv(t)
	n := e.startHive()
	createWeb(n, "web", 2)
	out := n.must("service", "scale", "web=5")
	if !strings.Contains(out, "verify: Service converged") {
		t.Fatalf("scale up did not converge:\n%s", out)
	}
	if got := len(e.containers("web", true)); got != 5 {
		t.Fatalf("%d containers running after scale up, want 5", got)
	}
	kept := n.running("web")
	n.must("service", "scale", "web=2")
	n.eventually(30*time.Second, "scale down to 2", func() error {
		if got := len(e.containers("web", false)); got != 2 {
			return fmt.Errorf("%d containers, want 2", got)
		}
		return nil
	})
	now := n.running("web")
	if len(now) != 2 || now[1] != kept[1] || now[2] != kept[2] {
		t.Errorf("after scaling down: %v, want slots 1 and 2 of %v", now, kept)
	}
}

func TestContainerdAKilledHiveAndRuntimePluginComeBackAndAdoptTheContainers(t *testing.T) {
	e := newCtdEnv(t)
	n := e.startHive("HIVE_PLUGINS_HEALTH_INTERVAL=1s")
	port := createWeb(n, "web", 3)
	before := n.running("web")

	// The runtime plugin dies: it is restarted and touches nothing.
	pid := n.pluginPID("runtime-containerd")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill the plugin (pid %d): %v", pid, err)
	}
	n.eventually(20*time.Second, "the runtime plugin restarted", func() error {
		if p := n.pluginPID("runtime-containerd"); p == 0 || p == pid {
			return fmt.Errorf("plugin pid %d (was %d)", p, pid)
		}
		return nil
	})
	if got := n.running("web"); !maps.Equal(got, before) {
		t.Fatalf("tasks changed across the plugin restart: %v -> %v", before, got)
	}

	// hive itself dies (its plugins follow it): the next hive adopts the
	// same containers, which kept running and serving meanwhile.
	n.kill9()
	ids := e.containers("web", true)
	slices.Sort(ids)
	if len(ids) != 3 {
		t.Fatalf("%d containers running while hive is down, want 3", len(ids))
	}
	n.start(e.env(true)...)
	n.eventually(20*time.Second, "the three tasks running again", func() error {
		if now := n.running("web"); !maps.Equal(now, before) {
			return fmt.Errorf("running %v, want %v", now, before)
		}
		return nil
	})
	n.eventually(20*time.Second, "the published port answers again", func() error {
		_, err := get("127.0.0.1:"+port, "/")
		return err
	})
	after := e.containers("web", false)
	slices.Sort(after)
	if !slices.Equal(after, ids) {
		t.Fatalf("containers after the restart: %v, want the same %v", after, ids)
	}
	// The logs of the adopted tasks are still there.
	if out := n.must("service", "logs", "web"); strings.Count(out, "serving v1") != 3 {
		t.Errorf("service logs after the restart:\n%s", out)
	}
}

func TestContainerdServiceRmRemovesEveryContainerAndItsNetwork(t *testing.T) {
	e := newCtdEnv(t)
	n := e.startHive()
	port := createWeb(n, "web", 3)
	n.must("service", "rm", "web")
	n.eventually(20*time.Second, "every container removed", func() error {
		if ids := e.containers("web", false); len(ids) > 0 {
			return fmt.Errorf("%d containers left", len(ids))
		}
		return nil
	})
	n.eventually(5*time.Second, "the published port closed", func() error {
		if _, err := get("127.0.0.1:"+port, "/"); err == nil {
			return fmt.Errorf("port %s still answers", port)
		}
		return nil
	})
	if pins, _ := filepath.Glob(filepath.Join(e.root, "netns", "*")); len(pins) != 0 {
		t.Errorf("network namespaces left after rm: %v", pins)
	}
	if dirs, _ := os.ReadDir(filepath.Join(e.root, "containers")); len(dirs) != 0 {
		t.Errorf("container directories left after rm: %d", len(dirs))
	}
}

func TestContainerdHostModePortLogsAndVolumes(t *testing.T) {
	e := newCtdEnv(t)
	n := e.startHive()
	port := freePort(t)
	n.must("service", "create", "--name", "direct", "--publish", "published="+port+",target=80,mode=host",
		"--mount", "type=volume,source=acc-data,target=/data", imageV1)
	n.eventually(20*time.Second, "the host port answers", func() error {
		_, err := get("127.0.0.1:"+port, "/")
		return err
	})
	n.eventually(10*time.Second, "the task's output in service logs", func() error {
		out, _, err := n.run("service", "logs", "direct")
		if err != nil || !strings.Contains(out, "serving v1") || !strings.Contains(out, "direct.1.") {
			return fmt.Errorf("service logs: %q, %v", out, err)
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(e.root, "volumes", "acc-data", "_data")); err != nil {
		t.Errorf("the named volume is not in the plugin's directory: %v", err)
	}
}

func TestContainerdPullsAMissingImageFromARegistry(t *testing.T) {
	e := newCtdEnv(t)
	image := conformance.PushWithDocker(t, conformance.StartRegistry(t), imageV1)
	n := e.startHive()
	out := n.must("service", "create", "--name", "pulled", "--replicas", "2", image)
	if !strings.Contains(out, "verify: Service converged") {
		t.Fatalf("create did not converge:\n%s", out)
	}
	if got := len(e.containers("pulled", true)); got != 2 {
		t.Fatalf("%d containers running, want 2", got)
	}
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

// TestADockerNodeAndAContainerdNodeServeOneService: nodes of one cluster
// may run different runtimes. A manager on Docker and a worker joined with
// --runtime containerd each run a replica of one service, and the published
// port of either node reaches both.
func TestADockerNodeAndAContainerdNodeServeOneService(t *testing.T) {
	e := newCtdEnv(t)
	m := startManager(t)
	w := joinNodeWith(t, m, "worker", e.env(false), "--runtime", "containerd")

	runtimes := map[string]string{}
	for _, nd := range m.nodes() {
		var self []struct {
			Description struct{ Runtime struct{ Name string } }
		}
		mustJSON(t, m.must("node", "inspect", nd.ID, "--format", "json"), &self)
		runtimes[nd.ID] = self[0].Description.Runtime.Name
	}
	if runtimes[m.nodeID] != "runtime-docker" || runtimes[w.nodeID] != "runtime-containerd" {
		t.Fatalf("runtimes by node %v: want runtime-docker on %s and runtime-containerd on %s", runtimes, m.nodeID, w.nodeID)
	}
	ls := m.must("node", "ls")
	if !strings.Contains(ls, "runtime-docker") || !strings.Contains(ls, "runtime-containerd") {
		t.Errorf("node ls does not show both runtimes:\n%s", ls)
	}

	port := publishPort(t, m, w)
	out := m.must("service", "create", "--name", "web", "--replicas", "2", "-p", port+":80", imageV1)
	if !strings.Contains(out, "verify: Service converged") {
		t.Fatalf("create:\n%s", out)
	}
	if per := m.tasksByNode("web"); per[m.nodeID] != 1 || per[w.nodeID] != 1 {
		t.Fatalf("tasks per node %v, want one on each", per)
	}
	if got := len(m.runningContainers("web")); got != 1 {
		t.Errorf("%d Docker containers of the service on the manager, want 1", got)
	}
	if got := len(e.containers("web", true)); got != 1 {
		t.Errorf("%d containerd containers of the service on the worker, want 1", got)
	}
	for _, n := range []*node{m, w} {
		hosts := map[string]bool{}
		for range 20 {
			body, err := get(n.ip()+":"+port, "/")
			if err != nil {
				t.Fatalf("through %s's published port: %v", n.ip(), err)
			}
			hosts[strings.Fields(body)[0]] = true
		}
		if len(hosts) != 2 {
			t.Errorf("through %s the port reached %d tasks (%v), want both runtimes' tasks", n.ip(), len(hosts), hosts)
		}
	}
}
