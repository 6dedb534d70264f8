//go:build acceptance

package acceptance

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Partitions need nodes that can be cut off from each other: here each hive
// node runs in a container (a FROM scratch image holding the hive binary
// under test) on a private Docker network, with the engine's socket mounted
// so it runs its tasks on the same engine (joined to the same network), and
// its API socket in a host directory so the tests' CLI reaches it.

const nodeImage = "hive-test/node:acceptance"

type cnet struct {
	t      *testing.T
	name   string
	prefix string // "172.29.N."
}

func newClusterNet(t *testing.T) *cnet {
	t.Helper()
	buildNodeImage(t)
	third := 100 + rand.IntN(100)
	c := &cnet{t: t, name: uniq("hive-acc-net"), prefix: fmt.Sprintf("172.29.%d.", third)}
	out, err := exec.Command("docker", "network", "create", "--label", "hive.test=1", "--subnet", c.prefix+"0/24", c.name).CombinedOutput()
	if err != nil {
		t.Fatalf("docker network create: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "network", "rm", c.name).Run() })
	return c
}

func buildNodeImage(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(hiveBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hive"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	// go-plugin puts its sockets in /tmp, which a scratch image lacks.
	if err := os.Mkdir(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	df := "FROM scratch\nLABEL hive.test=1\nCOPY tmp /tmp\nCOPY hive /hive\nENTRYPOINT [\"/hive\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("docker", "build", "-q", "-t", nodeImage, dir).CombinedOutput(); err != nil {
		t.Fatalf("build the node image: %v: %s", err, out)
	}
}

// containerNode runs a hive node in a container at ip on the network.
type containerNode struct {
	*node
	container string
	addr      string
}

func (c *cnet) start(ip string, args ...string) *containerNode {
	t := c.t
	t.Helper()
	dir, err := os.MkdirTemp("", "hive-acc-")
	if err != nil {
		t.Fatal(err)
	}
	name := uniq("hive-acc-node")
	cn := &containerNode{node: &node{t: t, dataDir: dir, host: "unix://" + filepath.Join(dir, "hive.sock"), listen: ip + ":4242"},
		container: name, addr: ip + ":4242"}
	run := []string{"run", "-d", "--name", name, "--label", "hive.test=1", "--network", c.name, "--ip", ip,
		"-v", "/var/run/docker.sock:/var/run/docker.sock", "-v", dir + ":/run/hive",
		"-e", "HIVE_PLUGINS_CONFIG_RUNTIME_DOCKER_NETWORK=" + c.name,
		nodeImage}
	run = append(run, args...)
	run = append(run, "-H", "unix:///run/hive/hive.sock", "--data-dir", "/data", "--listen-addr", ip+":4242", "--log-level", "debug")
	if out, err := exec.Command("docker", run...).CombinedOutput(); err != nil {
		t.Fatalf("docker run node: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command("docker", "logs", "--tail", "200", name).CombinedOutput()
			t.Logf("logs of %s:\n%s", name, out)
		}
		// The node first: while it runs it starts again the tasks
		// removed under it (a partition test left two that way).
		exec.Command("docker", "rm", "-f", "-v", name).Run()
		cn.removeContainers()
		os.RemoveAll(dir)
	})
	cn.eventually(30*time.Second, "the node's API answers", func() error {
		_, _, err := cn.run("info")
		return err
	})
	cn.nodeID = cn.info()["node_id"].(string)
	return cn
}

func (c *cnet) disconnect(n *containerNode) {
	if out, err := exec.Command("docker", "network", "disconnect", c.name, n.container).CombinedOutput(); err != nil {
		c.t.Fatalf("disconnect %s: %v: %s", n.container, err, out)
	}
}

func (c *cnet) reconnect(n *containerNode) {
	ip := strings.Split(n.addr, ":")[0]
	if out, err := exec.Command("docker", "network", "connect", "--ip", ip, c.name, n.container).CombinedOutput(); err != nil {
		c.t.Fatalf("reconnect %s: %v: %s", n.container, err, out)
	}
}

func TestAPartitionedLeaderLosesWritesAndTheMajorityCarriesOn(t *testing.T) {
	net := newClusterNet(t)
	m1 := net.start(net.prefix+"11", "up")
	token := strings.TrimSpace(m1.must("join-token", "manager", "-q"))
	m2 := net.start(net.prefix+"12", "join", "--token", token, m1.addr)
	m3 := net.start(net.prefix+"13", "join", "--token", token, m1.addr)
	m1.eventually(20*time.Second, "three Raft members", func() error {
		st, err := m1.clusterStatus()
		if err != nil || len(st.Members) != 3 {
			return fmt.Errorf("status %+v %v", st, err)
		}
		return nil
	})
	m1.must("service", "create", "--name", "web", "--replicas", "3", imageV1)

	net.disconnect(m1)
	var leader *containerNode
	eventually(t, 20*time.Second, "the majority elects a leader", func() error {
		for _, n := range []*containerNode{m2, m3} {
			if st, err := n.clusterStatus(); err == nil && st.LeaderID != "" && st.LeaderID != m1.nodeID {
				leader = n
				return nil
			}
		}
		return fmt.Errorf("no leader on the majority side")
	})
	leader.must("service", "create", "-d", "--name", "during", imageV1)

	// The minority answers reads and refuses writes at once.
	if out := m1.must("service", "ls"); !strings.Contains(out, "web") {
		t.Fatalf("the cut-off manager does not serve reads:\n%s", out)
	}
	start := time.Now()
	_, stderr, err := m1.run("service", "create", "-d", "--name", "minority", imageV1)
	if err == nil || !strings.Contains(stderr, "no quorum") {
		t.Fatalf("a write on the minority: err %v stderr %q, want a no quorum error", err, stderr)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the refused write took %v: it must fail at once, not hang", took)
	}

	net.reconnect(m1)
	m1.eventually(30*time.Second, "one consistent state", func() error {
		out, _, err := m1.run("service", "ls")
		if err != nil || !strings.Contains(out, "during") || strings.Contains(out, "minority") {
			return fmt.Errorf("services on the healed manager: %v\n%s", err, out)
		}
		running := 0
		for _, c := range m1.tasksByNode("web") {
			running += c
		}
		if running != 3 {
			return fmt.Errorf("%d tasks of web running, want exactly 3", running)
		}
		return nil
	})
}
