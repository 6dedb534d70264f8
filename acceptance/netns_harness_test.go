//go:build acceptance

package acceptance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/hiveorch/hive/internal/testutil"
	"github.com/hiveorch/hive/plugins/sdk/network/nsthread"
)

// The cross-node network tests run every hive node in a network namespace
// of its own ("hvt-ID-nN"), each with a veth to one test bridge and its own
// underlay address in 192.168.250.0/24: traffic between nodes, VXLAN
// included, really crosses a link, and each node's firewall can be changed
// alone. The bridge ("hvtbID") sits in a namespace of its own too
// ("hvt-ID-sw"): in the host namespace the engine's FORWARD policy (DROP,
// with bridged frames sent through iptables by br_netfilter) would filter
// it, and the test would have to change the host's firewall. The nodes'
// tasks get no Docker network (runtime setting network=none): they reach
// each other only through the overlay.
//
// The nodes run in the host's mount namespace (started from a thread in
// their network namespace, not through `ip netns exec`, which would give
// them a mount namespace of their own): the overlay plugin's /run/netns
// mounts must be visible to the tests and to the cleanup.

const (
	underlayNet   = "192.168.250."
	underlayBits  = 24
	underlayFirst = 11 // node i gets underlayNet + (underlayFirst+i)
	clusterPort   = "4242"
	// defaultVXLANPort is the overlay's UDP port unless --data-path-port
	// says otherwise.
	defaultVXLANPort = 4789
	// overlayNetnsPrefix starts the names of the namespaces the overlay
	// plugin makes for a node's networks: this, the node ID, "-", the
	// network ID.
	overlayNetnsPrefix = "hive-"
)

// underlay is one test's bridge and node namespaces.
type underlay struct {
	t      *testing.T
	id     string
	bridge string
	// nodes are the namespaces' names, in order.
	nodes []string
}

// newUnderlay makes the switch namespace with the bridge and count node
// namespaces wired to it. All of it, and every namespace the overlay
// plugin leaves for the nodes started on it, goes when the test ends.
func newUnderlay(t *testing.T, count int) *underlay {
	t.Helper()
	testutil.RequireRoot(t, "network namespaces for the cross-node network tests")
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	u := &underlay{t: t, id: hex.EncodeToString(b)}
	u.bridge = "hvtb" + u.id
	// Registered first, so it runs after the nodes' cleanups.
	t.Cleanup(u.cleanup)
	sw := u.newNetns(u.switchNS())
	defer sw.Close()
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: u.bridge}}
	u.must("add bridge "+u.bridge, sw.LinkAdd(br), sw.LinkSetUp(br))
	for i := range count {
		name := fmt.Sprintf("hvt-%s-n%d", u.id, i+1)
		u.nodes = append(u.nodes, name)
		nd := u.newNetns(name)
		ndFd, err := netns.GetFromName(name)
		if err != nil {
			nd.Close()
			t.Fatal(err)
		}
		port := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: fmt.Sprintf("p%d", i+1), MasterIndex: br.Attrs().Index},
			PeerName: "eth0", PeerNamespace: netlink.NsFd(ndFd)}
		u.must("add veth "+port.Name, sw.LinkAdd(port), sw.LinkSetUp(port))
		ndFd.Close()
		lo, errLo := nd.LinkByName("lo")
		eth, errEth := nd.LinkByName("eth0")
		u.must("find lo and eth0 in "+name, errLo, errEth)
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP(u.addr(i)).To4(), Mask: net.CIDRMask(underlayBits, 32)}}
		u.must("set up "+name, nd.LinkSetUp(lo), nd.AddrAdd(eth, addr), nd.LinkSetUp(eth))
		nd.Close()
	}
	return u
}

func (u *underlay) switchNS() string { return "hvt-" + u.id + "-sw" }

// addr is node i's underlay address.
func (u *underlay) addr(i int) string { return underlayNet + strconv.Itoa(underlayFirst+i) }

// newNetns makes a named network namespace (as `ip netns add` does) and
// returns a netlink handle in it.
func (u *underlay) newNetns(name string) *netlink.Handle {
	u.t.Helper()
	err := nsthread.Run(func() error {
		h, err := netns.NewNamed(name)
		if err != nil {
			return err
		}
		return h.Close()
	}, func() error { return nil })
	if err != nil {
		u.t.Fatalf("add network namespace %s: %v", name, err)
	}
	h, err := netns.GetFromName(name)
	if err != nil {
		u.t.Fatal(err)
	}
	defer h.Close()
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		u.t.Fatalf("netlink in %s: %v", name, err)
	}
	return nl
}

func (u *underlay) must(what string, errs ...error) {
	u.t.Helper()
	if err := errors.Join(errs...); err != nil {
		u.t.Fatalf("%s: %v", what, err)
	}
}

// cleanup deletes the node namespaces and the switch namespace (its
// bridge and veths go with it), once the nodes have stopped.
func (u *underlay) cleanup() {
	for _, ns := range append(slices.Clone(u.nodes), u.switchNS()) {
		if err := netns.DeleteNamed(ns); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) {
			u.t.Errorf("delete network namespace %s: %v", ns, err)
		}
	}
	if _, err := netlink.LinkByName(u.bridge); err == nil {
		u.t.Errorf("bridge %s is left in the host namespace", u.bridge)
	}
}

// startManager starts the first manager of a cluster in node namespace
// i, with env added to its environment.
func (u *underlay) startManager(i int, env ...string) *node {
	u.t.Helper()
	n := u.newNode(i, env)
	n.launchIn(u.nodes[i], "up", "-H", n.host, "--data-dir", n.dataDir,
		"--listen-addr", n.listen, "--advertise-addr", u.addr(i), "--log-level", "debug")
	n.nodeID = n.info()["node_id"].(string)
	n.awaitReady(n)
	return n
}

// join joins a node in namespace i to m's cluster with a token of role.
func (u *underlay) join(i int, m *node, role string, env ...string) *node {
	u.t.Helper()
	token := strings.TrimSpace(m.must("join-token", role, "-q"))
	n := u.newNode(i, env)
	n.launchIn(u.nodes[i], "join", "--token", token, "-H", n.host, "--data-dir", n.dataDir,
		"--listen-addr", n.listen, "--advertise-addr", u.addr(i), "--log-level", "debug", m.listen)
	n.nodeID = n.info()["node_id"].(string)
	n.awaitReady(m)
	return n
}

// newNode prepares a node of namespace i whose tasks have no Docker
// network. Its cleanup stops it and removes its containers and the
// namespaces its overlay plugin made.
func (u *underlay) newNode(i int, env []string) *node {
	u.t.Helper()
	dir, err := os.MkdirTemp("", "hive-acc-")
	if err != nil {
		u.t.Fatal(err)
	}
	n := &node{t: u.t, dataDir: dir, host: "unix://" + filepath.Join(dir, "hive.sock"), listen: u.addr(i) + ":" + clusterPort,
		env: append([]string{"HIVE_PLUGINS_CONFIG_RUNTIME_DOCKER_NETWORK=none"}, env...)}
	u.t.Cleanup(func() { n.cleanup(); removeOverlayNetns(u.t, n); os.RemoveAll(dir) })
	return n
}

// launchIn is launchEnv for a node in network namespace ns: the process
// is forked from a thread inside ns, so it lives there (and its plugins,
// which it forks, too) while it shares the host's mount namespace.
func (n *node) launchIn(ns string, args ...string) {
	n.t.Helper()
	n.args = args
	n.newLog()
	cmd := exec.Command(hiveBin, args...)
	cmd.Env = append(os.Environ(), n.env...)
	w := &lockedWriter{mu: n.logMu, w: n.log}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = ownGroup()
	err := nsthread.Run(func() error { return enterNamed(ns) }, cmd.Start)
	if err != nil {
		n.t.Fatalf("start hive in network namespace %s: %v", ns, err)
	}
	n.started(cmd)
	n.exited = make(chan struct{})
	go func() { cmd.Wait(); close(n.exited) }()
	n.eventually(30*time.Second, "the API answers", func() error {
		select {
		case <-n.exited:
			return stop(fmt.Errorf("hive exited: %s", n.logs()))
		default:
		}
		_, _, err := n.run("info")
		return err
	})
}

func enterNamed(ns string) error {
	h, err := netns.GetFromName(ns)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", ns, err)
	}
	defer h.Close()
	return netns.Set(h)
}

func enterPID(pid int) error {
	h, err := netns.GetFromPid(pid)
	if err != nil {
		return fmt.Errorf("open the network namespace of process %d: %w", pid, err)
	}
	defer h.Close()
	return netns.Set(h)
}

// overlayNetns lists the namespaces the node's overlay plugin made.
func overlayNetns(n *node) []string {
	if n.nodeID == "" {
		return nil
	}
	ents, _ := os.ReadDir("/run/netns")
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), overlayNetnsPrefix+n.nodeID+"-") {
			out = append(out, e.Name())
		}
	}
	return out
}

// removeOverlayNetns deletes what the node's overlay plugin left in
// /run/netns once the node is down.
func removeOverlayNetns(t *testing.T, n *node) {
	for _, ns := range overlayNetns(n) {
		if err := netns.DeleteNamed(ns); err != nil {
			t.Errorf("delete network namespace %s: %v", ns, err)
		}
	}
}

// netTask is the part of a task in `service ps --format json` the network
// tests read.
type netTask struct {
	ID           string `json:"id"`
	Slot         uint64 `json:"slot"`
	NodeID       string `json:"node_id"`
	DesiredState string `json:"desired_state"`
	Spec         struct {
		Container struct {
			Image string `json:"image"`
		} `json:"container"`
	} `json:"spec"`
	Networks []struct {
		NetworkID string   `json:"network_id"`
		Addresses []string `json:"addresses"`
	} `json:"networks"`
	Status struct {
		State       string `json:"state"`
		Err         string `json:"err"`
		Message     string `json:"message"`
		ContainerID string `json:"container_id"`
		PID         int    `json:"pid"`
	} `json:"status"`
}

func (tk netTask) running() bool { return tk.DesiredState == "running" && tk.Status.State == "running" }

// hostname is what the test image answers with: its container's
// hostname, the container ID's first 12 digits in both runtimes.
func (tk netTask) hostname() string {
	if len(tk.Status.ContainerID) < 12 {
		return ""
	}
	return tk.Status.ContainerID[:12]
}

// addrOn is the task's address on the network, without its prefix
// length, or "" when it has none.
func (tk netTask) addrOn(networkID string) string {
	for _, a := range tk.Networks {
		if a.NetworkID == networkID && len(a.Addresses) > 0 {
			addr, _, _ := strings.Cut(a.Addresses[0], "/")
			return addr
		}
	}
	return ""
}

func (n *node) netTasks(service string) []netTask {
	n.t.Helper()
	var ts []netTask
	mustJSON(n.t, n.must("service", "ps", service, "--format", "json"), &ts)
	return ts
}

// runningTasks returns the service's running tasks, waiting until there
// are want of them.
func (n *node) runningTasks(service string, want int) []netTask {
	n.t.Helper()
	var out []netTask
	n.eventually(60*time.Second, fmt.Sprintf("%d running tasks of %s", want, service), func() error {
		out = out[:0]
		for _, tk := range n.netTasks(service) {
			if tk.running() {
				out = append(out, tk)
			}
		}
		if len(out) != want {
			return fmt.Errorf("%d running: %+v", len(out), n.netTasks(service))
		}
		return nil
	})
	return out
}

// networkID is the ID of a network by name.
func (n *node) networkID(name string) string {
	n.t.Helper()
	var nets []struct {
		ID string `json:"id"`
	}
	mustJSON(n.t, n.must("network", "inspect", name), &nets)
	if len(nets) != 1 {
		n.t.Fatalf("network inspect %s gave %d networks", name, len(nets))
	}
	return nets[0].ID
}

// vip is the service's virtual IP on the network, without its prefix
// length, from `service inspect`.
func (n *node) vip(service, networkID string) string {
	n.t.Helper()
	var out []struct {
		Endpoint struct {
			VirtualIPs []struct {
				NetworkID string `json:"network_id"`
				Addr      string `json:"addr"`
			} `json:"virtual_ips"`
		} `json:"endpoint"`
	}
	mustJSON(n.t, n.must("service", "inspect", service), &out)
	if len(out) != 1 {
		n.t.Fatalf("service inspect %s gave %d services", service, len(out))
	}
	for _, v := range out[0].Endpoint.VirtualIPs {
		if v.NetworkID == networkID {
			addr, _, _ := strings.Cut(v.Addr, "/")
			return addr
		}
	}
	n.t.Fatalf("service %s has no virtual IP on network %s: %+v", service, networkID, out[0].Endpoint)
	return ""
}

// inTask acts from inside one task's network namespace.
type inTask struct {
	t   *testing.T
	pid int
	// name says which task, in messages.
	name string
}

// taskNetns returns the task's namespace handle-to-be: its container's
// main process, from the task's status or else from the engine.
func taskNetns(t *testing.T, tk netTask) *inTask {
	t.Helper()
	pid := tk.Status.PID
	if pid == 0 {
		out, err := exec.Command("docker", "inspect", "--format", "{{.State.Pid}}", tk.Status.ContainerID).Output()
		if err != nil {
			t.Fatalf("pid of task %s's container %s: %v", tk.ID, tk.Status.ContainerID, err)
		}
		pid, _ = strconv.Atoi(strings.TrimSpace(string(out)))
	}
	if pid <= 0 {
		t.Fatalf("task %s has no process (status %+v)", tk.ID, tk.Status)
	}
	return &inTask{t: t, pid: pid, name: fmt.Sprintf("task %s (slot %d, node %s)", tk.ID, tk.Slot, tk.NodeID)}
}

// dial opens a connection from inside the task's namespace; the socket
// stays there, whichever thread uses it later.
func (it *inTask) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := nsthread.Run(func() error { return enterPID(it.pid) }, func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// get fetches http://addr/ from inside the task on a new connection and
// returns the body.
func (it *inTask) get(addr string, timeout time.Duration) (string, error) {
	return it.getPath(addr, "/", timeout)
}

// getPath is get of http://addr/path.
func (it *inTask) getPath(addr, path string, timeout time.Duration) (string, error) {
	c := http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true, DialContext: it.dial}}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET http://%s%s: %s", addr, path, resp.Status)
	}
	return strings.TrimSpace(string(b)), err
}

// errNoResolver is a lookup that got no answer at all.
var errNoResolver = errors.New("no answer from 127.0.0.11:53")

// lookup asks the task's resolver (127.0.0.11:53, over UDP) for name's A
// records; it returns the addresses sorted and the answer's rcode, or
// errNoResolver when nothing answers within two seconds.
func (it *inTask) lookup(name string) (addrs []string, rcode int, err error) {
	c, err := it.dial(context.Background(), "udp", "127.0.0.11:53")
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", errNoResolver, err)
	}
	co := &dns.Conn{Conn: c}
	defer co.Close()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	_ = co.SetDeadline(time.Now().Add(2 * time.Second))
	if err := co.WriteMsg(m); err != nil {
		return nil, 0, fmt.Errorf("%w: %v", errNoResolver, err)
	}
	r, err := co.ReadMsg()
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", errNoResolver, err)
	}
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			addrs = append(addrs, a.A.String())
		}
	}
	slices.Sort(addrs)
	return addrs, r.Rcode, nil
}

// vxlanCounters sums the packets the nodes' vxlan0 devices sent and
// received on the network, read in the overlay plugin's namespaces.
func vxlanCounters(t *testing.T, networkID string, nodes ...*node) (tx, rx uint64) {
	t.Helper()
	for _, n := range nodes {
		name := overlayNetnsPrefix + n.nodeID + "-" + networkID
		h, err := netns.GetFromName(name)
		if err != nil {
			t.Fatalf("node %s has no namespace %s for network %s (have %v): %v", n.nodeID, name, networkID, overlayNetns(n), err)
		}
		nl, err := netlink.NewHandleAt(h)
		h.Close()
		if err != nil {
			t.Fatalf("netlink in %s: %v", name, err)
		}
		link, err := nl.LinkByName("vxlan0")
		nl.Close()
		if err != nil {
			t.Fatalf("vxlan0 in %s: %v", name, err)
		}
		st := link.Attrs().Statistics
		tx += st.TxPackets
		rx += st.RxPackets
	}
	return tx, rx
}

// dropUDPPort drops UDP datagrams to port arriving in network namespace
// ns, with an nftables table named hive-test-*, until the returned
// function (also run at cleanup) removes it.
func dropUDPPort(t *testing.T, ns string, port uint16) (undo func()) {
	t.Helper()
	table := &nftables.Table{Family: nftables.TableFamilyINet, Name: "hive-test-drop-" + strconv.Itoa(int(port))}
	err := nftIn(ns, func(conn *nftables.Conn) {
		conn.AddTable(table)
		policy := nftables.ChainPolicyAccept
		chain := conn.AddChain(&nftables.Chain{Name: "input", Table: table, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &policy})
		conn.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_UDP}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{byte(port >> 8), byte(port)}},
			&expr.Verdict{Kind: expr.VerdictDrop},
		}})
	})
	if err != nil {
		t.Fatalf("drop UDP port %d in %s: %v", port, ns, err)
	}
	done := false
	undo = func() {
		if done {
			return
		}
		done = true
		if err := nftIn(ns, func(conn *nftables.Conn) { conn.DelTable(table) }); err != nil {
			t.Errorf("remove the drop of UDP port %d in %s: %v", port, ns, err)
		}
	}
	t.Cleanup(undo)
	return undo
}

// nftIn sends one nftables batch, the one build makes, in namespace ns.
func nftIn(ns string, build func(*nftables.Conn)) error {
	h, err := netns.GetFromName(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	conn, err := nftables.New(nftables.WithNetNSFd(int(h)))
	if err != nil {
		return err
	}
	build(conn)
	return conn.Flush()
}

// answerers GETs addr count times from inside the task and counts the
// answers by hostname (the answer's first word).
func (it *inTask) answerers(addr string, count int) (map[string]int, error) {
	out := map[string]int{}
	for range count {
		body, err := it.get(addr, 2*time.Second)
		if err != nil {
			return out, err
		}
		out[strings.Fields(body)[0]]++
	}
	return out, nil
}

func prettyJSON(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}
