package commands

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/transport"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/testutil"
)

// withCA gives the harness's backend a cluster CA and address.
func withCA(t *testing.T, h *harness) *ca.Root {
	t.Helper()
	root, err := ca.NewRoot(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h.b.CA, h.b.ClusterAddr = root, "10.0.0.1:4242"
	return root
}

func TestJoinTokenPrintsTheJoinCommand(t *testing.T) {
	h := newHarness(t)
	withCA(t, h)
	tokens, err := h.b.JoinTokens(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"join-token", "worker"}, "To add a worker to this cluster, run the following command:\n\n    hive join --token " + tokens.Worker + " 10.0.0.1:4242\n\n"},
		{[]string{"join-token", "manager"}, "To add a manager to this cluster, run the following command:\n\n    hive join --token " + tokens.Manager + " 10.0.0.1:4242\n\n"},
		{[]string{"join-token", "-q", "worker"}, tokens.Worker + "\n"},
		{[]string{"join-token", "manager", "--quiet"}, tokens.Manager + "\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			if out := h.mustRun(tt.args...); out != tt.want {
				t.Errorf("stdout:\n%q\nwant:\n%q", out, tt.want)
			}
		})
	}
	if h.b.Called("RotateJoinToken") {
		t.Error("showing a token rotated it")
	}
}

func TestJoinTokenRotate(t *testing.T) {
	h := newHarness(t)
	withCA(t, h)
	before, _ := h.b.JoinTokens(context.Background())
	out := h.mustRun("join-token", "--rotate", "worker")
	after, _ := h.b.JoinTokens(context.Background())
	if after.Worker == before.Worker || after.Manager != before.Manager {
		t.Fatalf("tokens before %+v, after %+v", before, after)
	}
	want := "Successfully rotated worker join token.\n\nTo add a worker to this cluster, run the following command:\n\n    hive join --token " + after.Worker + " 10.0.0.1:4242\n\n"
	if out != want {
		t.Errorf("stdout:\n%q\nwant:\n%q", out, want)
	}
	if out := h.mustRun("join-token", "-q", "--rotate", "manager"); strings.TrimSpace(out) == after.Manager || !strings.HasPrefix(out, "HIVE-1-") {
		t.Errorf("-q --rotate printed %q", out)
	}
	if g := h.b.Generations(); g != (types.JoinTokens{Worker: 1, Manager: 1}) {
		t.Errorf("generations %+v", g)
	}
}

func TestJoinTokenRefusesABadRole(t *testing.T) {
	h := newHarness(t)
	withCA(t, h)
	for _, args := range [][]string{{"join-token", "admin"}, {"join-token"}, {"join-token", "worker", "manager"}} {
		_, errOut, code := h.run(args...)
		if code == 0 || !strings.Contains(errOut, "See 'hive join-token --help'.") {
			t.Errorf("hive %v: exit %d, stderr %q", args, code, errOut)
		}
	}
	_, errOut, _ := h.run("join-token", "admin")
	if !strings.Contains(errOut, `invalid role "admin": want worker or manager`) {
		t.Errorf("stderr %q", errOut)
	}
	if h.b.Called("JoinTokens") || h.b.Called("RotateJoinToken") {
		t.Error("a bad role reached the API")
	}
}

func TestClientCertWritesTheFilesAndKeepsTheKey(t *testing.T) {
	h := newHarness(t)
	root := withCA(t, h)
	dir := filepath.Join(t.TempDir(), "tls")
	out := h.mustRun("cluster", "client-cert", "--name", "ci", "--out", dir)

	reqs := h.b.ClientCertRequests()
	if len(reqs) != 1 || reqs[0].Name != "ci" || !strings.HasPrefix(reqs[0].PublicKeyPEM, "-----BEGIN PUBLIC KEY-----") {
		t.Fatalf("requests %+v", reqs)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "client.key"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(reqs[0].PublicKeyPEM, string(keyPEM)) {
		t.Fatal("the private key was sent")
	}
	certPEM, _ := os.ReadFile(filepath.Join(dir, "client.crt"))
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("client.crt and client.key do not match: %v", err)
	}
	if pair.Leaf.Subject.CommonName != "ci" || pair.Leaf.Subject.OrganizationalUnit[0] != ca.OUClient {
		t.Errorf("certificate names %s/%v", pair.Leaf.Subject.CommonName, pair.Leaf.Subject.OrganizationalUnit)
	}
	caPEM, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if string(caPEM) != string(root.PEM) {
		t.Error("ca.crt is not the cluster's CA")
	}
	for name, same := range map[string]string{"key.pem": "client.key", "cert.pem": "client.crt", "ca.pem": "ca.crt"} {
		a, _ := os.ReadFile(filepath.Join(dir, name))
		b, _ := os.ReadFile(filepath.Join(dir, same))
		if len(a) == 0 || string(a) != string(b) {
			t.Errorf("%s, for the docker CLI, is not %s", name, same)
		}
	}
	for name, mode := range map[string]os.FileMode{"client.key": 0o600, "client.crt": 0o644, "ca.crt": 0o644, "key.pem": 0o600, "cert.pem": 0o644, "ca.pem": 0o644} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, %v; want %v", name, fi.Mode().Perm(), err, mode)
		}
	}
	for _, want := range []string{`Wrote a client certificate for "ci" to ` + dir, "HIVE_TLS_DIR=" + dir + " HIVE_HOST=tcp://10.0.0.1:4242 hive node ls", "DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH=" + dir + ";", "Keep client.key and key.pem\nsecret"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
}

func TestClientCertDefaultsToTheTLSDir(t *testing.T) {
	h := newHarness(t)
	withCA(t, h)
	home := t.TempDir()
	h.env = append(h.env, "HOME="+home, "USER=alice")
	out := h.mustRun("cluster", "client-cert")
	dir := filepath.Join(home, ".config", "hive", "tls")
	if _, err := os.Stat(filepath.Join(dir, "client.key")); err != nil {
		t.Fatalf("no key in the default directory: %v", err)
	}
	if name := h.b.ClientCertRequests()[0].Name; !strings.HasPrefix(name, "alice@") {
		t.Errorf("default name %q, want alice@<host>", name)
	}
	if !strings.Contains(out, "\n    HIVE_HOST=tcp://10.0.0.1:4242 hive node ls\n") {
		t.Errorf("the default directory needs no HIVE_TLS_DIR:\n%s", out)
	}
	_, errOut, code := h.run("cluster", "client-cert", "--name", "bad name")
	if code == 0 || !strings.Contains(errOut, `invalid --name: invalid client name "bad name"`) {
		t.Errorf("bad name: exit %d, %q", code, errOut)
	}
}

// TestRemoteCLIWithAClientCertificate gets a client certificate over the
// socket, then manages the cluster over its cluster port with it, as the
// issue's remote CLI does; without the certificate the CLI says how to get
// one.
func TestRemoteCLIWithAClientCertificate(t *testing.T) {
	h := newHarness(t)
	root, clusterAddr := withClusterPort(t, h)

	dir := filepath.Join(t.TempDir(), "tls")
	h.mustRun("cluster", "client-cert", "--out", dir, "--name", "remote")

	remote := []string{"HIVE_HOST=tcp://" + clusterAddr, "HIVE_TLS_DIR=" + dir}
	out, errOut, code := runCLI(t, remote, "node", "ls")
	if code != 0 || !strings.Contains(out, "laptop") {
		t.Fatalf("remote node ls: exit %d\n%s%s", code, out, errOut)
	}
	out, _, code = runCLI(t, []string{"HIVE_HOST=tcp://" + clusterAddr}, "--tls-dir", dir, "join-token", "-q", "worker")
	if code != 0 || !strings.HasPrefix(out, "HIVE-1-"+root.Digest()) {
		t.Fatalf("remote join-token: exit %d, %q", code, out)
	}

	empty := t.TempDir()
	_, errOut, code = runCLI(t, []string{"HIVE_HOST=tcp://" + clusterAddr, "HIVE_TLS_DIR=" + empty}, "node", "ls")
	if code == 0 || !strings.Contains(errOut, "no client certificate for a tcp:// host: "+filepath.Join(empty, "ca.crt")+" does not exist: on a manager, run 'hive cluster client-cert") {
		t.Fatalf("without a certificate: exit %d, %q", code, errOut)
	}
}

// withClusterPort gives the harness's backend a cluster CA and serves its
// API on a cluster port of its own, for managers and clients only, as a
// manager does; it returns the root and the port's address.
func withClusterPort(t *testing.T, h *harness) (*ca.Root, string) {
	t.Helper()
	root, nc, err := ca.Bootstrap(t.TempDir(), h.b.InfoValue.NodeID, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	mux, err := transport.Listen("127.0.0.1:0", ca.ServerTLS(root, nc), testutil.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mux.Close() })
	h.b.CA, h.b.ClusterAddr = root, mux.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- api.NewServer(h.b, testutil.Logger(t)).ServeRestricted(ctx, mux.Listener(transport.ProtoAPI, false), ca.OUManager, ca.OUClient)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeRestricted: %v", err)
		}
	})
	return root, mux.Addr().String()
}
