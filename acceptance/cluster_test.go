//go:build acceptance

package acceptance

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestWorkersAndAManagerJoinWithTheirTokens(t *testing.T) {
	m := startManager(t)
	w1 := joinNode(t, m, "worker")
	w2 := joinNode(t, m, "worker")
	m2 := joinNode(t, m, "manager")

	roles := map[string]string{}
	for _, n := range m.nodes() {
		if n.Status.State != "ready" {
			t.Errorf("node %s is %s", n.ID, n.Status.State)
		}
		roles[n.ID] = n.Spec.Role
	}
	want := map[string]string{m.nodeID: "manager", w1.nodeID: "worker", w2.nodeID: "worker", m2.nodeID: "manager"}
	for id, role := range want {
		if roles[id] != role {
			t.Errorf("node %s has role %q, want %q (all: %v)", id, roles[id], role, roles)
		}
	}
	st, err := m.clusterStatus()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Members) != 2 || st.LeaderID != m.nodeID {
		t.Fatalf("cluster status: %+v, want 2 Raft members led by %s", st, m.nodeID)
	}
	// The new manager serves the API too, and sees the same cluster.
	if got := len(m2.nodes()); got != 4 {
		t.Fatalf("the second manager lists %d nodes, want 4", got)
	}
	// A worker is not a manager: its API refuses cluster operations.
	_, stderr, err := w1.run("service", "create", "-d", "--name", "nope", imageV1)
	if err == nil || !strings.Contains(stderr, "worker") {
		t.Fatalf("service create on a worker: err %v, stderr %q", err, stderr)
	}
}

func TestBadJoinsAreRefusedWithAClearMessage(t *testing.T) {
	m := startManager(t)
	other := startManager(t) // another cluster, for a wrong CA digest
	worker := strings.TrimSpace(m.must("join-token", "worker", "-q"))
	foreign := strings.TrimSpace(other.must("join-token", "worker", "-q"))
	m.must("join-token", "worker", "--rotate")

	cases := []struct {
		name  string
		token string
		extra []string
		want  string
	}{
		{"malformed token", "HIVE-1-nonsense", nil, "token"},
		{"another cluster's CA", foreign, nil, "another cluster"},
		{"rotated token", worker, nil, "rotated"},
		{"worker token for a manager", strings.TrimSpace(m.must("join-token", "worker", "-q")), []string{"--role", "manager"}, "worker join token"},
	}
	before := len(m.nodes())
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := newNode(t)
			args := append([]string{"join", "--token", c.token, "-H", n.host, "--data-dir", n.dataDir, "--listen-addr", n.listen}, c.extra...)
			out, err := exec.Command(hiveBin, append(args, m.listen)...).CombinedOutput()
			if err == nil {
				t.Fatalf("join succeeded: %s", out)
			}
			if !strings.Contains(string(out), c.want) {
				t.Fatalf("join output %q does not say %q", out, c.want)
			}
		})
	}
	if after := len(m.nodes()); after != before {
		t.Fatalf("refused joins changed the node count from %d to %d", before, after)
	}
}

func TestReplicasSpreadOnePerNodeAndThePortAnswersEverywhere(t *testing.T) {
	begin := time.Now()
	step := func(what string) { t.Logf("%-30s %v", what, time.Since(begin).Round(10*time.Millisecond)) }
	defer step("end")
	m := startManager(t)
	step("manager up")
	w1 := joinNode(t, m, "worker")
	w2 := joinNode(t, m, "worker")
	step("workers joined")
	port := publishPort(t, m, w1, w2)
	out := m.must("service", "create", "--name", "web", "--replicas", "3", "-p", port+":80", imageV1)
	step("created")
	if !strings.Contains(out, "verify: Service converged") {
		t.Fatalf("create:\n%s", out)
	}
	per := m.tasksByNode("web")
	for _, n := range []*node{m, w1, w2} {
		if per[n.nodeID] != 1 {
			t.Fatalf("tasks per node %v, want one on each of the three", per)
		}
	}
	for _, n := range []*node{m, w1, w2} {
		if _, err := get(n.ip()+":"+port, "/"); err != nil {
			t.Fatalf("the published port does not answer on %s: %v", n.ip(), err)
		}
	}
	// A node with no task of the service still answers, and balances
	// across the tasks on the other nodes.
	step("answered everywhere")
	m.must("service", "scale", "web=2")
	step("scaled")
	m.eventually(15*time.Second, "one node without a task", func() error {
		if len(m.tasksByNode("web")) != 2 || len(m.containers("web"))+len(w1.containers("web"))+len(w2.containers("web")) > 2 {
			return fmt.Errorf("tasks %v", m.tasksByNode("web"))
		}
		return nil
	})
	var empty *node
	for _, n := range []*node{m, w1, w2} {
		if m.tasksByNode("web")[n.nodeID] == 0 {
			empty = n
		}
	}
	hosts := map[string]bool{}
	for range 20 {
		body, err := get(empty.ip()+":"+port, "/")
		if err != nil {
			t.Fatalf("through the node with no task (%s): %v", empty.ip(), err)
		}
		hosts[strings.Fields(body)[0]] = true
	}
	if len(hosts) != 2 {
		t.Fatalf("the node with no task reached %d tasks, want both", len(hosts))
	}
}

func TestAKilledWorkersTasksRunElsewhereWithinTenSeconds(t *testing.T) {
	m := startManager(t)
	w1 := joinNode(t, m, "worker")
	joinNode(t, m, "worker")
	m.must("service", "create", "--name", "web", "--replicas", "3", imageV1)
	if m.tasksByNode("web")[w1.nodeID] != 1 {
		t.Fatalf("tasks per node %v: w1 has none", m.tasksByNode("web"))
	}
	start := time.Now()
	w1.killHost()
	m.eventually(10*time.Second, "3 tasks running on the other nodes", func() error {
		per := m.tasksByNode("web")
		total := 0
		for id, c := range per {
			if id != w1.nodeID {
				total += c
			}
		}
		if total != 3 {
			return fmt.Errorf("running per node %v", per)
		}
		return nil
	})
	t.Logf("replacements running %v after the host died", time.Since(start).Round(100*time.Millisecond))

	// The worker comes back: its stale task is stopped, never 4 running.
	w1.restart()
	m.eventually(20*time.Second, "the returned worker reconciled", func() error {
		if got := len(w1.runningContainers("web")); got != 0 {
			return fmt.Errorf("w1 still runs %d containers of web", got)
		}
		return nil
	})
	running := 0
	for _, c := range m.tasksByNode("web") {
		running += c
	}
	if running != 3 {
		t.Fatalf("%d tasks running after the worker returned, want 3", running)
	}
}

// meshLoad sends requests through addr until stopped and counts failures.
type meshLoad struct {
	ok, failed atomic.Int64
	stop       chan struct{}
	done       sync.WaitGroup
	lastErr    atomic.Value
}

func startMeshLoad(addr string) *meshLoad {
	l := &meshLoad{stop: make(chan struct{})}
	l.done.Add(1)
	go func() {
		defer l.done.Done()
		for {
			select {
			case <-l.stop:
				return
			default:
			}
			if _, err := get(addr, "/"); err != nil {
				l.failed.Add(1)
				l.lastErr.Store(err.Error())
			} else {
				l.ok.Add(1)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return l
}

func (l *meshLoad) finish() (ok, failed int64, last string) {
	close(l.stop)
	l.done.Wait()
	s, _ := l.lastErr.Load().(string)
	return l.ok.Load(), l.failed.Load(), s
}

func TestDrainEmptiesANodeWithNoFailedRequests(t *testing.T) {
	m := startManager(t)
	w1 := joinNode(t, m, "worker")
	w2 := joinNode(t, m, "worker")
	port := publishPort(t, m, w1, w2)
	m.must("service", "create", "--name", "web", "--replicas", "3", "-p", port+":80", imageV1)
	load := startMeshLoad(m.ip() + ":" + port)
	time.Sleep(500 * time.Millisecond)
	m.must("node", "update", "--availability", "drain", w1.nodeID)
	m.eventually(30*time.Second, "w1 empty and 3 running elsewhere", func() error {
		per := m.tasksByNode("web")
		if per[w1.nodeID] != 0 || per[m.nodeID]+per[w2.nodeID] != 3 || len(w1.runningContainers("web")) != 0 {
			return fmt.Errorf("running per node %v, w1 running containers %d", per, len(w1.runningContainers("web")))
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond)
	ok, failed, last := load.finish()
	if failed != 0 || ok == 0 {
		t.Fatalf("%d of %d requests failed during the drain (last: %s)", failed, ok+failed, last)
	}
}

func TestLosingTheLeaderOfThreeManagersLosesNoWrite(t *testing.T) {
	m1 := startManager(t)
	m2 := joinNode(t, m1, "manager")
	m3 := joinNode(t, m1, "manager")
	for i := range 3 {
		m1.must("service", "create", "-d", "--name", fmt.Sprintf("before-%d", i), imageV1)
	}
	m1.kill9()
	start := time.Now()
	var survivor *node
	eventually(t, 15*time.Second, "a new leader", func() error {
		for _, n := range []*node{m2, m3} {
			if st, err := n.clusterStatus(); err == nil && st.LeaderID != "" && st.LeaderID != m1.nodeID {
				survivor = n
				return nil
			}
		}
		return fmt.Errorf("no new leader yet")
	})
	t.Logf("new leader after %v", time.Since(start).Round(100*time.Millisecond))
	survivor.must("service", "create", "-d", "--name", "after", imageV1)
	out := survivor.must("service", "ls")
	for _, want := range []string{"before-0", "before-1", "before-2", "after"} {
		if !strings.Contains(out, want) {
			t.Fatalf("service %s missing after the leader died:\n%s", want, out)
		}
	}
}

func TestARemoteCLINeedsAClientCertificate(t *testing.T) {
	m := startManager(t)
	w := joinNode(t, m, "worker")
	tlsDir := t.TempDir()
	m.must("cluster", "client-cert", "--name", "acceptance", "--out", tlsDir)
	remote := "tcp://" + m.listen

	out, err := exec.Command(hiveBin, "-H", remote, "--tls-dir", tlsDir, "node", "ls").CombinedOutput()
	if err != nil || !strings.Contains(string(out), m.nodeID) {
		t.Fatalf("node ls over TCP with a client certificate: %v\n%s", err, out)
	}
	// Without a certificate the CLI cannot even try, and says how to get one.
	out, err = exec.Command(hiveBin, "-H", remote, "--tls-dir", t.TempDir(), "node", "ls").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "client-cert") {
		t.Fatalf("node ls over TCP without a certificate: %v\n%s", err, out)
	}
	// A worker's own node certificate may not call the API.
	workerTLS := t.TempDir()
	for src, dst := range map[string]string{"ca.crt": "ca.crt", "node.crt": "client.crt", "node.key": "client.key"} {
		b, err := os.ReadFile(filepath.Join(w.dataDir, "certs", src))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(workerTLS, dst), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err = exec.Command(hiveBin, "-H", remote, "--tls-dir", workerTLS, "service", "ls").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "worker") {
		t.Fatalf("service ls with a worker certificate: %v\n%s", err, out)
	}
}

func TestAPromotedWorkerBecomesAVoterAndADemotedManagerLeaves(t *testing.T) {
	m := startManager(t)
	w := joinNode(t, m, "worker")
	members := func() int {
		st, err := m.clusterStatus()
		if err != nil {
			return -1
		}
		return len(st.Members)
	}
	m.must("node", "promote", w.nodeID)
	m.eventually(20*time.Second, "the promoted node a Raft voter serving the API", func() error {
		if n := members(); n != 2 {
			return fmt.Errorf("%d members", n)
		}
		if _, _, err := w.run("service", "ls"); err != nil {
			return err
		}
		return nil
	})
	// The promoted manager received the cluster's data-encryption key: a
	// secret it seals opens on the leader, which delivers it to a task.
	m.forgetRunDir()
	value := secretValue(t)
	name := uniq("sealed_by_promoted")
	w.createSecret(name, value)
	m.must("service", "create", "--name", "reads", "--constraint", "node.id=="+m.nodeID,
		"--secret", name, imageV1, "stat", "/run/secrets/"+name)
	m.awaitLog("reads", fmt.Sprintf("content=%q", value))
	m.must("service", "rm", "reads")
	w.assertNoPlaintext(value)
	m.must("node", "demote", w.nodeID)
	m.eventually(20*time.Second, "the demoted node out of the Raft group and a worker again", func() error {
		if n := members(); n != 1 {
			return fmt.Errorf("%d members", n)
		}
		if _, stderr, err := w.run("service", "ls"); err == nil || !strings.Contains(stderr, "worker") {
			return fmt.Errorf("service ls on the demoted node: %v %s", err, stderr)
		}
		if _, err := os.Stat(filepath.Join(w.dataDir, "keys")); !os.IsNotExist(err) {
			return fmt.Errorf("the demoted node keeps its keyring (%v)", err)
		}
		return nil
	})
	// The last manager cannot be demoted.
	if _, stderr, err := m.run("node", "demote", m.nodeID); err == nil || !strings.Contains(stderr, "last manager") {
		t.Fatalf("demoting the last manager: %v %s", err, stderr)
	}
}

func TestFiveManagersSurviveTheLossOfTheirLeader(t *testing.T) {
	m1 := startManager(t)
	others := []*node{joinNode(t, m1, "manager"), joinNode(t, m1, "manager"), joinNode(t, m1, "manager"), joinNode(t, m1, "manager")}
	m1.eventually(20*time.Second, "five voters", func() error {
		st, err := m1.clusterStatus()
		if err != nil || len(st.Members) != 5 {
			return fmt.Errorf("status %+v %v", st, err)
		}
		return nil
	})
	m1.must("service", "create", "-d", "--name", "before", imageV1)
	m1.kill9()
	eventually(t, 15*time.Second, "a write through a surviving manager", func() error {
		_, _, err := others[0].run("service", "create", "-d", "--name", "after", imageV1)
		return err
	})
	out := others[3].must("service", "ls")
	if !strings.Contains(out, "before") || !strings.Contains(out, "after") {
		t.Fatalf("services on another survivor:\n%s", out)
	}
}
