//go:build acceptance

package acceptance

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/hiveorch/hive/internal/testutil"
)

// Overlay networks against the real engines: service discovery by name
// (NAME is the service's virtual IP, tasks.NAME its running tasks), VIP
// balancing in the kernel, isolation between networks, VXLAN between
// nodes that sit in network namespaces of their own (so the traffic really
// crosses a link and can be cut on one node), `network rm` refused while
// used, a rolling update through the VIP under load, several nodes on one
// host with their own data-path ports, and the containerd runtime.

// netCluster is three nodes in namespaces (one manager, two workers) with
// services web (3 replicas, v1) and probe (1 replica) on network front.
type netCluster struct {
	t      *testing.T
	u      *underlay
	m      *node
	nodes  []*node
	nsOf   map[string]string // node ID → its namespace
	front  string            // the network's ID
	vip    string            // web's virtual IP on front
	probe  *inTask
	probeN string // the probe task's node ID
}

func TestNetworkAcrossNodes(t *testing.T) {
	c := newNetCluster(t)

	t.Run("NamesResolveToTheVIPAndTheTasks", func(t *testing.T) {
		// The VIP from `service inspect`, and the addresses of exactly
		// the running tasks; a name no network knows is NXDOMAIN.
		awaitLookup(t, c.probe, "web", []string{c.vip})
		awaitLookup(t, c.probe, "tasks.web", c.webAddrs(3))
		addrs, rcode, err := c.probe.lookup("no-such-service")
		if err != nil || rcode != dns.RcodeNameError {
			t.Errorf("no-such-service: %v, rcode %s, %v; want NXDOMAIN", addrs, dns.RcodeToString[rcode], err)
		}
	})

	t.Run("TheVIPBalancesAcrossNodesOverVXLAN", func(t *testing.T) {
		byHost := c.hostNodes("web")
		tx0, rx0 := vxlanCounters(t, c.front, c.nodes...)
		var got map[string]int
		eventually(t, 10*time.Second, "the VIP answering", func() error {
			var err error
			got, err = c.probe.answerers(c.vip+":80", 30)
			return err
		})
		nodes := map[string]bool{}
		for host := range got {
			nd, ok := byHost[host]
			if !ok {
				t.Fatalf("answer from %s, no running task of web: answers %v, tasks %v", host, got, byHost)
			}
			nodes[nd] = true
		}
		if len(nodes) < 2 {
			t.Errorf("the VIP's answers came from tasks on %d node(s): %v (tasks %v), want at least 2", len(nodes), got, byHost)
		}
		tx1, rx1 := vxlanCounters(t, c.front, c.nodes...)
		if tx1 <= tx0 || rx1 <= rx0 {
			t.Errorf("vxlan0 packet counters did not rise during the GETs: tx %d → %d, rx %d → %d", tx0, tx1, rx0, rx1)
		}
		t.Logf("answers %v; vxlan0 tx %d → %d, rx %d → %d", got, tx0, tx1, rx0, rx1)
	})

	t.Run("DroppingVXLANOnOneNodeCutsExactlyItsTasks", func(t *testing.T) {
		webs := c.m.runningTasks("web", 3)
		victim := ""
		for _, tk := range webs {
			if tk.NodeID != c.probeN {
				victim = tk.NodeID
				break
			}
		}
		if victim == "" {
			t.Fatalf("every web task runs on the probe's node %s: %+v", c.probeN, webs)
		}
		c.awaitEachAnswers(t, webs, nil)
		undo := dropUDPPort(t, c.nsOf[victim], defaultVXLANPort)
		cut := map[string]bool{victim: true}
		c.awaitEachAnswers(t, webs, cut)
		awaitLookup(t, c.probe, "web", []string{c.vip})
		undo()
		c.awaitEachAnswers(t, webs, nil)
	})

	t.Run("OtherNetworksAndNoNetworkCanNeitherResolveNorReachWeb", func(t *testing.T) {
		c.m.must("network", "create", "back")
		c.m.must("service", "create", "-d", "--name", "other", "--network", "back", imageV1)
		c.m.must("service", "create", "-d", "--name", "lonely", imageV1)
		other := taskNetns(t, c.m.runningTasks("other", 1)[0])
		lonely := taskNetns(t, c.m.runningTasks("lonely", 1)[0])
		// other has a resolver (it is on back): it must say NXDOMAIN for
		// web; lonely may have none at all.
		awaitLookup(t, other, "other", []string{c.m.vip("other", c.m.networkID("back"))})
		if addrs, rcode, err := other.lookup("web"); err != nil || rcode != dns.RcodeNameError {
			t.Errorf("a task on back resolved web: %v, rcode %s, %v; want NXDOMAIN", addrs, dns.RcodeToString[rcode], err)
		}
		if addrs, rcode, err := lonely.lookup("web"); !errors.Is(err, errNoResolver) && rcode != dns.RcodeNameError {
			t.Errorf("a task on no network resolved web: %v, rcode %s, %v; want NXDOMAIN or no resolver", addrs, dns.RcodeToString[rcode], err)
		}
		for name, it := range map[string]*inTask{"back": other, "no network": lonely} {
			start := time.Now()
			body, err := it.get(c.vip+":80", 2*time.Second)
			if err == nil {
				t.Errorf("a task on %s reached web's VIP %s: %q", name, c.vip, body)
			} else if took := time.Since(start); took > 3*time.Second {
				t.Errorf("a task on %s took %v to fail to reach the VIP, want about 2s at most", name, took)
			}
		}
		c.m.must("service", "rm", "other", "lonely")
		eventually(t, 20*time.Second, "network rm back", func() error {
			_, _, err := c.m.run("network", "rm", "back")
			return err
		})
	})

	t.Run("ARollingUpdateThroughTheVIPFailsNoRequest", func(t *testing.T) {
		l := c.probe.load(c.vip + ":80")
		eventually(t, 10*time.Second, "the load loop's first answers", func() error {
			if n := l.ok.Load(); n < 20 {
				return fmt.Errorf("%d answers so far, failures %v", n, l.failures())
			}
			return nil
		})
		began := l.since()
		out := c.m.must("service", "update", "--image", imageV2, "--update-parallelism", "1", "web")
		t.Logf("the update ran from %v to %v of the load", began, l.since())
		if !strings.Contains(out, "verify: Service converged") {
			t.Errorf("service update did not report convergence:\n%s", out)
		}
		before := l.ok.Load()
		eventually(t, 10*time.Second, "answers after the update", func() error {
			if l.ok.Load() < before+20 {
				return fmt.Errorf("%d answers since the update", l.ok.Load()-before)
			}
			return nil
		})
		versions, fails := l.stop()
		if len(fails) > 0 {
			t.Errorf("%d requests through the VIP failed during the update (%d answered):\n%s", len(fails), l.ok.Load(), strings.Join(fails[:min(10, len(fails))], "\n"))
		}
		if versions["v2"] == 0 {
			t.Errorf("no answer came from v2: %v", versions)
		}
		t.Logf("answers by version during the update: %v", versions)
		var got map[string]int
		eventually(t, 10*time.Second, "web answering through the VIP", func() error {
			var err error
			got, err = c.probe.versions(c.vip+":80", 20)
			return err
		})
		if got["v2"] != 20 {
			t.Errorf("after the update the VIP's answers came from %v, want v2 only", got)
		}
	})

	t.Run("ScalingDownShrinksTasksWebWithinSeconds", func(t *testing.T) {
		awaitLookup(t, c.probe, "tasks.web", c.webAddrs(3))
		c.m.must("service", "scale", "web=1")
		start := time.Now()
		want := c.webAddrs(1)
		awaitLookupWithin(t, 5*time.Second, c.probe, "tasks.web", want)
		t.Logf("tasks.web had one address %v after the scale returned", time.Since(start).Round(10*time.Millisecond))
	})

	t.Run("BadInputCreatesNothing", func(t *testing.T) {
		c.m.must("network", "create", "--subnet", "10.40.0.0/16", "wide")
		nets := c.m.must("network", "ls", "-q")
		services := c.m.must("service", "ls", "-q")
		for _, tt := range []struct {
			args []string
			err  string
		}{
			{[]string{"network", "create", "--subnet", "10.40.3.0/24", "n"}, "subnet 10.40.3.0/24 overlaps subnet 10.40.0.0/16 of network wide"},
			{[]string{"network", "create", "--subnet", "10.50.0.0/33", "n"}, `invalid subnet "10.50.0.0/33"`},
			{[]string{"network", "create", "--driver", "bridge", "n"}, `unknown network driver "bridge": use overlay`},
			{[]string{"service", "create", "-d", "--name", "api", "--network", "nowhere", imageV1}, `network "nowhere" not found`},
		} {
			_, errOut, err := c.m.run(tt.args...)
			if err == nil || !strings.Contains(errOut, tt.err) {
				t.Errorf("hive %s: %v, stderr %q; want an error containing %q", strings.Join(tt.args, " "), err, errOut, tt.err)
			}
		}
		if got := c.m.must("network", "ls", "-q"); got != nets {
			t.Errorf("networks after the refusals:\n%s\nwant:\n%s", got, nets)
		}
		if got := c.m.must("service", "ls", "-q"); got != services {
			t.Errorf("services after the refusals:\n%s\nwant:\n%s", got, services)
		}
		c.m.must("network", "rm", "wide")
	})

	t.Run("NetworkRmIsRefusedWhileUsed", func(t *testing.T) {
		_, errOut, err := c.m.run("network", "rm", "front")
		if err == nil || !strings.Contains(errOut, "web") || !strings.Contains(errOut, "probe") {
			t.Errorf("network rm front while web and probe use it: %v, stderr %q; want a refusal naming both", err, errOut)
		}
		if !strings.Contains(c.m.must("network", "ls"), "front") {
			t.Fatal("the refused rm removed front")
		}
		c.m.must("service", "rm", "web", "probe")
		eventually(t, 20*time.Second, "network rm front once its services are gone", func() error {
			_, _, err := c.m.run("network", "rm", "front")
			return err
		})
		if strings.Contains(c.m.must("network", "ls"), "front") {
			t.Error("network ls still shows front")
		}
		// No task needs front any more: each node removes its part.
		testutil.EventuallyWhy(t, 20*time.Second, "the nodes removing their namespaces of front", func() (bool, string) {
			var left []string
			for _, n := range c.nodes {
				for _, ns := range overlayNetns(n) {
					if strings.HasSuffix(ns, "-"+c.front) {
						left = append(left, ns)
					}
				}
			}
			return len(left) == 0, fmt.Sprintf("left: %v", left)
		})
	})
}

// newNetCluster starts the three nodes, network front and its services,
// and waits for the probe task.
func newNetCluster(t *testing.T) *netCluster {
	t.Helper()
	u := newUnderlay(t, 3)
	c := &netCluster{t: t, u: u, nsOf: map[string]string{}}
	c.m = u.startManager(0)
	c.nodes = []*node{c.m, u.join(1, c.m, "worker"), u.join(2, c.m, "worker")}
	for i, n := range c.nodes {
		c.nsOf[n.nodeID] = u.nodes[i]
	}
	c.m.must("network", "create", "front")
	c.front = c.m.networkID("front")
	c.m.must("service", "create", "-d", "--name", "web", "--replicas", "3", "--network", "front", imageV1)
	c.m.must("service", "create", "-d", "--name", "probe", "--network", "front", imageV1)
	c.vip = c.m.vip("web", c.front)
	c.m.runningTasks("web", 3)
	if spread := c.m.tasksByNode("web"); len(spread) < 2 {
		t.Fatalf("web's 3 tasks run on one node: %v", spread)
	}
	pt := c.m.runningTasks("probe", 1)[0]
	c.probe, c.probeN = taskNetns(t, pt), pt.NodeID
	return c
}

// webAddrs waits until web has want running tasks and returns their
// addresses on front, sorted.
func (c *netCluster) webAddrs(want int) []string {
	c.t.Helper()
	var out []string
	for _, tk := range c.m.runningTasks("web", want) {
		a := tk.addrOn(c.front)
		if a == "" {
			c.t.Fatalf("running task %s has no address on front: %+v", tk.ID, tk.Networks)
		}
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// hostNodes maps the hostnames of the service's running tasks to their
// nodes.
func (c *netCluster) hostNodes(service string) map[string]string {
	out := map[string]string{}
	for _, tk := range c.m.netTasks(service) {
		if tk.running() {
			out[tk.hostname()] = tk.NodeID
		}
	}
	return out
}

func awaitLookup(t *testing.T, it *inTask, name string, want []string) {
	t.Helper()
	awaitLookupWithin(t, 15*time.Second, it, name, want)
}

func awaitLookupWithin(t *testing.T, within time.Duration, it *inTask, name string, want []string) {
	t.Helper()
	testutil.EventuallyWhy(t, within, fmt.Sprintf("%s resolving %s to %v", it.name, name, want), func() (bool, string) {
		addrs, rcode, err := it.lookup(name)
		if err != nil {
			return false, err.Error()
		}
		return rcode == dns.RcodeSuccess && slices.Equal(addrs, want), fmt.Sprintf("got %v, rcode %s", addrs, dns.RcodeToString[rcode])
	})
}

// awaitEachAnswers waits until every web task answers the probe straight
// at its address, except those on the cut nodes, which must not.
func (c *netCluster) awaitEachAnswers(t *testing.T, webs []netTask, cut map[string]bool) {
	t.Helper()
	testutil.EventuallyWhy(t, 20*time.Second, fmt.Sprintf("web tasks answering the probe, except on %v", slices.Collect(maps.Keys(cut))), func() (bool, string) {
		var wrong []string
		for _, tk := range webs {
			addr := tk.addrOn(c.front)
			body, err := c.probe.get(addr+":80", time.Second)
			switch {
			case cut[tk.NodeID] && err == nil:
				wrong = append(wrong, fmt.Sprintf("%s on cut node %s answered %q", addr, tk.NodeID, body))
			case !cut[tk.NodeID] && err != nil:
				wrong = append(wrong, fmt.Sprintf("%s on node %s: %v", addr, tk.NodeID, err))
			case !cut[tk.NodeID] && !strings.HasPrefix(body, tk.hostname()+" "):
				wrong = append(wrong, fmt.Sprintf("%s answered %q, want task %s's hostname %s", addr, body, tk.ID, tk.hostname()))
			}
		}
		return len(wrong) == 0, strings.Join(wrong, "; ")
	})
}

// versions GETs addr count times from inside the task and counts the
// answers by version (the answer's second word).
func (it *inTask) versions(addr string, count int) (map[string]int, error) {
	out := map[string]int{}
	for range count {
		body, err := it.get(addr, 2*time.Second)
		if err != nil {
			return out, err
		}
		if f := strings.Fields(body); len(f) == 2 {
			out[f[1]]++
		} else {
			return out, fmt.Errorf("answer %q is not HOSTNAME VERSION", body)
		}
	}
	return out, nil
}

// taskLoad is a loop of GETs from inside a task, a new connection each.
type taskLoad struct {
	ok    atomic.Int64
	mu    sync.Mutex
	errs  []string
	vers  map[string]int
	done  chan struct{}
	wg    sync.WaitGroup
	start time.Time
}

// since is the time since the load started, for the failures' log.
func (l *taskLoad) since() time.Duration { return time.Since(l.start).Round(time.Millisecond) }

// load starts two loops of GETs to addr from inside the task until stop.
func (it *inTask) load(addr string) *taskLoad {
	l := &taskLoad{vers: map[string]int{}, done: make(chan struct{}), start: time.Now()}
	it.t.Cleanup(func() { l.stop() })
	for range 2 {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.done:
					return
				default:
				}
				body, err := it.get(addr, 3*time.Second)
				l.mu.Lock()
				if f := strings.Fields(body); err == nil && len(f) == 2 {
					l.ok.Add(1)
					l.vers[f[1]]++
				} else {
					l.errs = append(l.errs, fmt.Sprintf("at %v: %q: %v", l.since(), body, err))
				}
				l.mu.Unlock()
			}
		}()
	}
	return l
}

func (l *taskLoad) failures() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.errs)
}

// stop ends the loops and returns the answers by version and the
// failures.
func (l *taskLoad) stop() (map[string]int, []string) {
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.vers), slices.Clone(l.errs)
}

// TestNetworkNodesSharingAHost runs two nodes in one network namespace
// (127.0.0.x, the default Docker network), each with its own data-path
// port: both get working overlays, a web task on each answers through
// the VIP, and through the port web publishes on either node. A third node with the first one's port clashes, and says so.
func TestNetworkNodesSharingAHost(t *testing.T) {
	testutil.RequireRoot(t, "overlay networks")
	m, w, started := nodesSharingAHost(t, "4889", "4890")

	m.must("network", "create", "mesh")
	mesh := m.networkID("mesh")
	port := publishPort(t, m, w)
	m.must("service", "create", "-d", "--name", "web", "--replicas", "2", "--network", "mesh", "-p", port+":80", imageV1)
	m.must("service", "create", "-d", "--name", "probe", "--network", "mesh", imageV1)
	webs := m.runningTasks("web", 2)
	if webs[0].NodeID == webs[1].NodeID {
		t.Fatalf("both web tasks run on node %s", webs[0].NodeID)
	}
	probe := taskNetns(t, m.runningTasks("probe", 1)[0])
	vip := m.vip("web", mesh)
	want := map[string]bool{webs[0].hostname(): true, webs[1].hostname(): true}
	testutil.EventuallyWhy(t, 20*time.Second, "both web tasks answering through the VIP", func() (bool, string) {
		got, err := probe.answerers(vip+":80", 20)
		if err != nil {
			return false, err.Error()
		}
		return maps.Equal(boolKeys(got), want), fmt.Sprintf("answers %v, want from %v", got, want)
	})

	// Ingress keeps working for a service on a network: the published
	// port answers on both nodes, from both tasks.
	for _, n := range []*node{m, w} {
		testutil.EventuallyWhy(t, 20*time.Second, "both web tasks answering through the published port on "+n.ip(), func() (bool, string) {
			got := map[string]int{}
			for range 20 {
				body, err := get(n.ip()+":"+port, "/")
				if f := strings.Fields(body); err != nil || len(f) != 2 {
					return false, fmt.Sprintf("%q: %v", body, err)
				} else {
					got[f[0]]++
				}
			}
			return maps.Equal(boolKeys(got), want), fmt.Sprintf("answers %v, want from %v", got, want)
		})
	}

	clash := joinNodeWith(t, m, "worker", nil, "--data-path-port", "4889")
	*started = append(*started, clash)
	m.must("service", "create", "-d", "--name", "clash", "--network", "mesh", "--constraint", "node.id=="+clash.nodeID, imageV1)
	var msg string
	m.eventually(30*time.Second, "the clash's task failing on the port", func() error {
		for _, tk := range m.netTasks("clash") {
			if tk.running() {
				return stop(fmt.Errorf("task %s runs on node %s despite the port clash", tk.ID, clash.nodeID))
			}
			if s := tk.Status.Err + " " + tk.Status.Message; strings.Contains(s, "4889") {
				msg = s
				return nil
			}
		}
		return fmt.Errorf("tasks: %s", prettyJSON(m.netTasks("clash")))
	})
	for _, want := range []string{"UDP port 4889", "already exists", "--data-path-port"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the clash's task error lacks %q: %s", want, msg)
		}
	}
	t.Logf("the clash says: %s", msg)
}

// nodesSharingAHost starts a manager and a worker in the host's network
// namespace with their own data-path ports. Their overlay namespaces go
// once they are down, and those of the nodes the test adds to started.
func nodesSharingAHost(t *testing.T, managerPort, workerPort string) (m, w *node, started *[]*node) {
	t.Helper()
	started = &[]*node{}
	// Registered before the nodes, so it runs after they are down.
	t.Cleanup(func() {
		for _, n := range *started {
			removeOverlayNetns(t, n)
		}
	})
	m = newNode(t)
	*started = append(*started, m)
	m.launch("up", "-H", m.host, "--data-dir", m.dataDir, "--listen-addr", m.listen, "--log-level", "debug", "--data-path-port", managerPort)
	m.nodeID = m.info()["node_id"].(string)
	m.awaitReady(m)
	w = joinNodeWith(t, m, "worker", nil, "--data-path-port", workerPort)
	*started = append(*started, w)
	return m, w, started
}

func boolKeys(m map[string]int) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

// TestNetworkContainerd: two web replicas and a probe on a containerd
// node, all on one network: the probe resolves web to its VIP and
// reaches both tasks through it.
func TestNetworkContainerd(t *testing.T) {
	testutil.RequireRoot(t, "overlay networks")
	e := newCtdEnv(t)
	var n *node
	t.Cleanup(func() {
		if n != nil {
			removeOverlayNetns(t, n)
		}
	})
	n = e.startHive()
	n.must("network", "create", "front")
	front := n.networkID("front")
	n.must("service", "create", "-d", "--name", "web", "--replicas", "2", "--network", "front", imageV1)
	n.must("service", "create", "-d", "--name", "probe", "--network", "front", imageV1)
	webs := n.runningTasks("web", 2)
	pt := n.runningTasks("probe", 1)[0]
	if pt.Status.PID == 0 {
		pt.Status.PID = e.taskPID(pt.Status.ContainerID)
	}
	probe := taskNetns(t, pt)
	vip := n.vip("web", front)
	want := map[string]bool{webs[0].hostname(): true, webs[1].hostname(): true}
	awaitLookup(t, probe, "web", []string{vip})
	testutil.EventuallyWhy(t, 20*time.Second, "both web tasks answering through the VIP", func() (bool, string) {
		got, err := probe.answerers(vip+":80", 20)
		if err != nil {
			return false, err.Error()
		}
		return maps.Equal(boolKeys(got), want), fmt.Sprintf("answers %v, want from %v", got, want)
	})
}

// taskPID is the PID of a containerd container's task.
func (e *ctdEnv) taskPID(id string) int {
	e.t.Helper()
	c, err := e.client.LoadContainer(e.ctx(), id)
	if err != nil {
		e.t.Fatalf("load container %s: %v", id, err)
	}
	task, err := c.Task(e.ctx(), nil)
	if err != nil {
		e.t.Fatalf("task of container %s: %v", id, err)
	}
	return int(task.Pid())
}
