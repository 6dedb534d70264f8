//go:build acceptance

package acceptance

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Nodes of a multi-node cluster run as separate processes on their own
// loopback addresses (127.0.0.2, 127.0.0.3, …), each with its own data
// directory and API socket, all sharing the one container engine: each
// node sees and adopts only its own containers.

var nextIP = struct {
	sync.Mutex
	n int
}{n: 20}

// loopbackIP returns a loopback address no other node of this run uses.
func loopbackIP() string {
	nextIP.Lock()
	defer nextIP.Unlock()
	nextIP.n++
	return fmt.Sprintf("127.0.0.%d", nextIP.n)
}

// newNode prepares a node on its own loopback address without starting it.
func newNode(t *testing.T) *node {
	t.Helper()
	dir, err := os.MkdirTemp("", "hive-acc-")
	if err != nil {
		t.Fatal(err)
	}
	ip := loopbackIP()
	n := &node{t: t, dataDir: dir, host: "unix://" + filepath.Join(dir, "hive.sock"), listen: ip + ":" + freePortOn(t, ip)}
	t.Cleanup(func() { n.cleanup(); os.RemoveAll(dir) })
	return n
}

// startManager starts the first manager of a new cluster.
func startManager(t *testing.T) *node {
	t.Helper()
	n := newNode(t)
	n.launch("up", "-H", n.host, "--data-dir", n.dataDir, "--listen-addr", n.listen, "--log-level", "debug")
	n.nodeID = n.info()["node_id"].(string)
	n.awaitReady(n)
	return n
}

// awaitReady waits until manager m lists node n as ready: only ready
// nodes get tasks.
func (n *node) awaitReady(m *node) {
	n.t.Helper()
	m.eventually(15*time.Second, "node "+n.nodeID+" ready", func() error {
		for _, nd := range m.nodes() {
			if nd.ID == n.nodeID && nd.Status.State == "ready" {
				return nil
			}
		}
		return fmt.Errorf("node %s not ready: %+v", n.nodeID, m.nodes())
	})
}

// joinNode joins a new node to m's cluster with a token of role.
func joinNode(t *testing.T, m *node, role string) *node {
	t.Helper()
	return joinNodeWith(t, m, role, nil)
}

// joinNodeWith is joinNode with env added to the node's environment (on
// every launch) and extra `hive join` flags.
func joinNodeWith(t *testing.T, m *node, role string, env []string, flags ...string) *node {
	t.Helper()
	token := strings.TrimSpace(m.must("join-token", role, "-q"))
	n := newNode(t)
	n.env = env
	args := append([]string{"join", "--token", token, "-H", n.host, "--data-dir", n.dataDir, "--listen-addr", n.listen, "--log-level", "debug"}, flags...)
	n.launch(append(args, m.listen)...)
	n.nodeID = n.info()["node_id"].(string)
	n.awaitReady(m)
	return n
}

// launch starts hive with args in the foreground and waits for its API.
func (n *node) launch(args ...string) {
	n.t.Helper()
	n.args = args
	n.launchEnv(args, n.env)
}

// restart starts a node again on its data directory after it stopped.
func (n *node) restart() {
	n.t.Helper()
	n.launch("up", "-H", n.host, "--data-dir", n.dataDir, "--listen-addr", n.listen, "--log-level", "debug")
}

// ip is the node's loopback address.
func (n *node) ip() string { return strings.Split(n.listen, ":")[0] }

// nodeInfo is the part of `hive node ls --format json` the tests read.
type nodeInfo struct {
	ID   string `json:"id"`
	Spec struct {
		Role         string `json:"role"`
		Availability string `json:"availability"`
	} `json:"spec"`
	Status struct {
		State string `json:"state"`
	} `json:"status"`
	ManagerStatus *struct {
		Leader       bool   `json:"leader"`
		Reachability string `json:"reachability"`
	} `json:"manager_status"`
}

func (n *node) nodes() []nodeInfo {
	n.t.Helper()
	var ns []nodeInfo
	mustJSON(n.t, n.must("node", "ls", "--format", "json"), &ns)
	return ns
}

// clusterStatus is `hive cluster status --format json`.
type clusterStatus struct {
	LeaderID     string `json:"leader_id"`
	Term         uint64 `json:"term"`
	AppliedIndex uint64 `json:"applied_index"`
	Members      []struct {
		ID     string `json:"id"`
		Addr   string `json:"addr"`
		Leader bool   `json:"leader"`
	} `json:"members"`
}

func (n *node) clusterStatus() (clusterStatus, error) {
	var st clusterStatus
	out, _, err := n.run("cluster", "status", "--format", "json")
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal([]byte(out), &st)
}

// tasksByNode counts the service's running tasks per node.
func (n *node) tasksByNode(service string) map[string]int {
	out := map[string]int{}
	for _, t := range n.tasks(service) {
		if t.DesiredState == "running" && t.Status.State == "running" {
			out[t.NodeID]++
		}
	}
	return out
}

// killHost kills a node the way a dying host does: the hive process with
// SIGKILL and every container it ran.
func (n *node) killHost() {
	n.t.Helper()
	n.kill9()
	if ids := n.containers(""); len(ids) > 0 {
		exec.Command("docker", append([]string{"kill"}, ids...)...).Run()
	}
}

func freePortOn(t *testing.T, ips ...string) string {
	t.Helper()
	for range 50 {
		p := freePort(t)
		free := true
		for _, ip := range ips {
			l, err := netListen(ip + ":" + p)
			if err != nil {
				free = false
				break
			}
			l.Close()
		}
		if free {
			return p
		}
	}
	t.Fatalf("no port free on all of %v", ips)
	return ""
}

// publishPort returns a port to publish a service on that is free on
// every node's address: a node binds published ports on its own loopback
// address, where its cluster port already listens.
func publishPort(t *testing.T, nodes ...*node) string {
	t.Helper()
	ips := []string{"127.0.0.1"}
	for _, n := range nodes {
		ips = append(ips, n.ip())
	}
	return freePortOn(t, ips...)
}
