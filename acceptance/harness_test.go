//go:build acceptance

package acceptance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Images built by testimage/build.sh.
const (
	imageV1    = "hive-test/web:v1"
	imageV2    = "hive-test/web:v2"
	imageCrash = "hive-test/web:crash"
)

var hiveBin string

func TestMain(m *testing.M) {
	if err := setup(); err != nil {
		fmt.Fprintln(os.Stderr, "acceptance setup:", err)
		if os.Getenv("CI") == "" {
			fmt.Fprintln(os.Stderr, "acceptance: skipped (CI is not set)")
			os.Exit(0)
		}
		os.Exit(1)
	}
	code := m.Run()
	checked, err := leaks.check()
	fmt.Fprintln(os.Stderr, "acceptance: leak check:", checked)
	if err != nil {
		fmt.Fprintln(os.Stderr, "acceptance:", err)
		code = 1
	}
	os.Exit(code)
}

func setup() error {
	hiveBin = os.Getenv("HIVE_TEST_BIN")
	if hiveBin == "" {
		return fmt.Errorf("HIVE_TEST_BIN is not set: run `make acceptance`, or build bin/hive and set HIVE_TEST_BIN to its path")
	}
	if _, err := os.Stat(hiveBin); err != nil {
		return fmt.Errorf("HIVE_TEST_BIN: %w", err)
	}
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		return fmt.Errorf("the Docker Engine does not answer (docker info: %v: %s)", err, bytes.TrimSpace(out))
	}
	for _, img := range []string{imageV1, imageV2, imageCrash} {
		if err := exec.Command("docker", "image", "inspect", img).Run(); err != nil {
			return fmt.Errorf("test image %s is missing: run acceptance/testimage/build.sh", img)
		}
	}
	return nil
}

// node is one hive daemon started by a test.
type node struct {
	t       *testing.T
	dataDir string
	host    string
	listen  string
	cmd     *exec.Cmd
	// groups are the process groups of every launch (a hive and its
	// plugins), stopped by the cleanup.
	groups []int
	log    *bytes.Buffer
	logMu  *sync.Mutex
	exited chan struct{}
	nodeID string
	// args are the hive arguments of the daemon's last launch.
	args []string
	// upFlags are extra `hive up` flags, for every start of the node.
	upFlags []string
	// env is added to the environment of every launch of the node.
	env []string
}

// startHive starts `hive up` in the foreground on a fresh data directory,
// a socket in it and a free loopback cluster port, and waits for its API.
// Everything it creates is removed when the test ends.
func startHive(t *testing.T, extraEnv ...string) *node {
	t.Helper()
	return startHiveFlags(t, nil, extraEnv...)
}

// startHiveFlags is startHive with extra `hive up` flags, which restarts
// of the node keep.
func startHiveFlags(t *testing.T, upFlags []string, extraEnv ...string) *node {
	t.Helper()
	dir, err := os.MkdirTemp("", "hive-acc-")
	if err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, dataDir: dir, host: "unix://" + filepath.Join(dir, "hive.sock"), listen: "127.0.0.1:" + freePort(t), upFlags: upFlags}
	t.Cleanup(func() { n.cleanup(); os.RemoveAll(dir) })
	n.start(extraEnv...)
	info := n.info()
	n.nodeID = info["node_id"].(string)
	return n
}

// start runs `hive up` on the node's data directory, with its upFlags and
// extraEnv, and waits for its API.
func (n *node) start(extraEnv ...string) {
	n.t.Helper()
	n.launchEnv(append([]string{"up", "-H", n.host, "--data-dir", n.dataDir, "--listen-addr", n.listen, "--log-level", "debug"}, n.upFlags...), extraEnv)
}

// launchEnv starts hive with args and env added to the environment, in
// the foreground with a new log, and waits for its API.
func (n *node) launchEnv(args, env []string) {
	n.t.Helper()
	n.newLog()
	cmd := exec.Command(hiveBin, args...)
	// Many nodes share the loopback: each gets a free metrics port unless
	// env sets HIVE_METRICS_LISTEN (the last value wins).
	cmd.Env = append(append(os.Environ(), "HIVE_METRICS_LISTEN=127.0.0.1:0"), env...)
	w := &lockedWriter{mu: n.logMu, w: n.log}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = ownGroup()
	if err := cmd.Start(); err != nil {
		n.t.Fatalf("start hive: %v", err)
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

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

// newLog gives the node a new log buffer for its next launch, which the
// run's leak check reads at the end.
func (n *node) newLog() {
	buf, mu := &bytes.Buffer{}, &sync.Mutex{}
	n.log, n.logMu = buf, mu
	leaks.log(func() string {
		mu.Lock()
		defer mu.Unlock()
		return buf.String()
	})
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (n *node) logs() string {
	n.logMu.Lock()
	defer n.logMu.Unlock()
	return n.log.String()
}

// kill9 kills the daemon with SIGKILL, as a crash would.
func (n *node) kill9() {
	n.t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		n.t.Fatalf("kill hive: %v", err)
	}
	<-n.exited
}

// cleanup removes every service, waits for hive to remove their
// containers, stops hive, and then force-removes whatever containers of
// this node are left (label hive.node.id), so nothing outlives the test.
func (n *node) cleanup() {
	if n.cmd == nil {
		return // never started
	}
	if n.t.Failed() {
		n.t.Logf("hive log:\n%s", n.logs())
	}
	select {
	case <-n.exited:
	default:
		// A manager removes the services and waits for its containers to
		// go; a worker cannot, and its leftovers are force-removed below.
		if out, _, err := n.run("service", "ls", "-q"); err == nil {
			for _, id := range strings.Fields(out) {
				n.run("service", "rm", id)
			}
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) && len(n.containers("")) > 0 {
				time.Sleep(200 * time.Millisecond)
			}
		}
		n.run("down")
		select {
		case <-n.exited:
		case <-time.After(20 * time.Second):
			n.cmd.Process.Kill()
			<-n.exited
		}
	}
	// A plugin the daemon started can outlive it (a kill, or a down that
	// timed out) and finish a container it was creating: its process
	// group goes first, then the node's containers, twice.
	for _, pgid := range n.groups {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	n.removeContainers()
}

// removeContainers force-removes the node's containers once it is down,
// twice: the second sweep takes a create the engine finished for a plugin
// killed mid-request.
func (n *node) removeContainers() {
	if n.nodeID == "" {
		return
	}
	for i := range 2 {
		if ids := n.containers(""); len(ids) > 0 {
			exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
		}
		if i == 0 {
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// ownGroup puts a launched hive in a process group of its own, which its
// plugins join, so that the cleanup can stop them all.
func ownGroup() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// started records a launched hive: its command and its process group.
func (n *node) started(cmd *exec.Cmd) {
	n.cmd = cmd
	n.groups = append(n.groups, cmd.Process.Pid)
}

// run runs a hive CLI command against this node.
func (n *node) run(args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, hiveBin, append([]string{"-H", n.host}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	leaks.output(args, o.String(), e.String())
	if err != nil {
		err = fmt.Errorf("hive %s: %w\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, o.String(), e.String())
	}
	return o.String(), e.String(), err
}

// must runs a hive command that has to succeed and returns its stdout.
func (n *node) must(args ...string) string {
	n.t.Helper()
	out, _, err := n.run(args...)
	if err != nil {
		n.t.Fatal(err)
	}
	return out
}

func (n *node) info() map[string]any {
	n.t.Helper()
	var info map[string]any
	if err := json.Unmarshal([]byte(n.must("info", "--format", "json")), &info); err != nil {
		n.t.Fatalf("hive info --format json: %v", err)
	}
	return info
}

// task is the part of `hive service ps --format json` the tests read.
type task struct {
	ID           string `json:"id"`
	Slot         uint64 `json:"slot"`
	NodeID       string `json:"node_id"`
	DesiredState string `json:"desired_state"`
	Status       struct {
		State       string `json:"state"`
		Err         string `json:"err"`
		ContainerID string `json:"container_id"`
		Message     string `json:"message"`
	} `json:"status"`
}

func (n *node) tasks(service string) []task {
	n.t.Helper()
	var ts []task
	if err := json.Unmarshal([]byte(n.must("service", "ps", service, "--format", "json")), &ts); err != nil {
		n.t.Fatalf("service ps --format json: %v", err)
	}
	return ts
}

// running returns the container IDs of the service's tasks that are
// running and meant to be, by slot.
func (n *node) running(service string) map[uint64]string {
	out := map[uint64]string{}
	for _, t := range n.tasks(service) {
		if t.DesiredState == "running" && t.Status.State == "running" {
			out[t.Slot] = t.Status.ContainerID
		}
	}
	return out
}

// containers lists the IDs of this node's containers, optionally of one
// service only, running or not, as the engine sees them.
func (n *node) containers(service string, extra ...string) []string {
	args := []string{"ps", "-aq", "--no-trunc", "--filter", "label=hive.node.id=" + n.nodeID}
	if service != "" {
		args = append(args, "--filter", "label=hive.service.name="+service)
	}
	args = append(args, extra...)
	out, err := exec.Command("docker", args...).Output()
	if err != nil {
		return nil
	}
	return strings.Fields(string(out))
}

func (n *node) runningContainers(service string) []string {
	return n.containers(service, "--filter", "status=running")
}

type stopError struct{ error }

// stop marks an error that ends eventually at once.
func stop(err error) error { return stopError{err} }

// eventually polls fn until it returns nil or the deadline passes.
func (n *node) eventually(timeout time.Duration, what string, fn func() error) {
	n.t.Helper()
	eventually(n.t, timeout, what, fn)
}

func eventually(t *testing.T, timeout time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = fn(); err == nil {
			return
		}
		if _, ok := err.(stopError); ok || time.Now().After(deadline) {
			t.Fatalf("waiting %v for %s: %v", timeout, what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// get fetches http://addr/path with a fresh connection and returns the body.
func get(addr, path string) (string, error) {
	c := http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return strings.TrimSpace(string(b)), err
}

// uniq returns a name unique to this test run.
func uniq(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1_000_000_000)
}

func mustJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
}

func netListen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }
