// Package vaulttest runs a real Vault server in dev mode for tests: the
// vault binary built by `make vault` (bin/vault, from the module in
// plugins/secrets-vault/testvault), $HIVE_VAULT_BIN, or vault on $PATH.
//
// Without a binary, Start skips the test with a message naming `make
// vault`, except when CI is set, where it fails it: CI must test
// against Vault.
package vaulttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/hiveorch/hive/internal/testutil"
)

// RootToken is the dev server's root token.
const RootToken = "hive-test-root"

// Server is a running dev-mode Vault. Its KV v2 engine is mounted at
// secret/, as in every dev server.
type Server struct {
	// Addr is its URL, http://127.0.0.1:PORT.
	Addr string
	// Client is an API client with the root token.
	Client *api.Client

	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

// Binary returns the path of the vault binary to run, or "" and why there
// is none.
func Binary() (string, string) {
	if p := os.Getenv("HIVE_VAULT_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Sprintf("HIVE_VAULT_BIN=%s: %v", p, err)
		}
		return p, ""
	}
	if root := repoRoot(); root != "" {
		p := filepath.Join(root, "bin", "vault")
		if _, err := os.Stat(p); err == nil {
			return p, ""
		}
	}
	if p, err := exec.LookPath("vault"); err == nil {
		return p, ""
	}
	return "", "no vault binary: run `make vault` (builds bin/vault from plugins/secrets-vault/testvault), or set HIVE_VAULT_BIN"
}

// repoRoot finds hive's repository root above the working directory.
func repoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(b, []byte("module github.com/hiveorch/hive\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Require returns the vault binary, or skips t (fails it when CI is set).
func Require(t testing.TB) string {
	t.Helper()
	bin, why := Binary()
	if bin == "" {
		testutil.Unavailable(t, "no Vault to test against: %s", why)
	}
	return bin
}

// Start runs a dev-mode Vault on a free local port and waits until it
// serves; it is killed when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartAt(t, freeAddr(t))
}

// StartAt is Start on addr (host:port): a test that stopped a server
// starts a new one where the old one was. A dev server keeps nothing: its
// secrets must be written again.
func StartAt(t testing.TB, addr string) *Server {
	t.Helper()
	bin := Require(t)
	home := t.TempDir()
	cmd := exec.Command(bin, "server", "-dev",
		"-dev-root-token-id="+RootToken,
		"-dev-listen-address="+addr,
	)
	// A clean environment: no VAULT_* of the caller, a HOME of its own
	// for the token helper's file.
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
	s := &Server{Addr: "http://" + addr, cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start vault: %v", err)
	}
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("vault server output:\n%s", s.out.String())
		}
	})

	cfg := api.DefaultConfig()
	cfg.Address = s.Addr
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(RootToken)
	s.Client = c

	testutil.EventuallyWhy(t, 60*time.Second, "vault at "+s.Addr+" ready", func() (bool, string) {
		select {
		case <-s.done:
			t.Fatalf("vault exited at start:\n%s", s.out.String())
		default:
		}
		h, err := c.Sys().Health()
		if err != nil || !h.Initialized || h.Sealed {
			return false, fmt.Sprintf("last health %+v, %v; output:\n%s", h, err, s.out.String())
		}
		return true, ""
	})
	return s
}

// Stop kills the server and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
	}
	<-s.done
}

// Version is the server's version, as sys/health reports it.
func (s *Server) Version(t testing.TB) string {
	h, err := s.Client.Sys().Health()
	if err != nil {
		t.Fatal(err)
	}
	return h.Version
}

// Put writes data as a new version of the KV v2 secret at path in the
// secret/ mount ("app/db" for secret/data/app/db) and returns its version.
func (s *Server) Put(t testing.TB, path string, data map[string]any) int {
	t.Helper()
	v, err := s.Client.KVv2("secret").Put(context.Background(), path, data)
	if err != nil {
		t.Fatalf("vault kv put secret/%s: %v", path, err)
	}
	return v.VersionMetadata.Version
}

// DeleteVersion soft-deletes a version of the secret at path.
func (s *Server) DeleteVersion(t testing.TB, path string, version int) {
	t.Helper()
	if err := s.Client.KVv2("secret").DeleteVersions(context.Background(), path, []int{version}); err != nil {
		t.Fatalf("vault kv delete -versions=%d secret/%s: %v", version, path, err)
	}
}

// AppRole enables AppRole auth (once) and creates the role name whose
// tokens may read everything under secret/ and last ttl, renewable up to
// maxTTL ("" for Vault's defaults). It returns the role ID and a new
// secret ID.
func (s *Server) AppRole(t testing.TB, name, ttl, maxTTL string) (roleID, secretID string) {
	t.Helper()
	auths, err := s.Client.Sys().ListAuth()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := auths["approle/"]; !ok {
		if err := s.Client.Sys().EnableAuthWithOptions("approle", &api.EnableAuthOptions{Type: "approle"}); err != nil {
			t.Fatalf("enable approle: %v", err)
		}
	}
	if err := s.Client.Sys().PutPolicy("hive-read", `path "secret/data/*" { capabilities = ["read"] }`); err != nil {
		t.Fatalf("write policy: %v", err)
	}
	role := map[string]any{"token_policies": "hive-read"}
	if ttl != "" {
		role["token_ttl"] = ttl
	}
	if maxTTL != "" {
		role["token_max_ttl"] = maxTTL
	}
	if _, err := s.Client.Logical().Write("auth/approle/role/"+name, role); err != nil {
		t.Fatalf("write role: %v", err)
	}
	r, err := s.Client.Logical().Read("auth/approle/role/" + name + "/role-id")
	if err != nil || r == nil {
		t.Fatalf("read role id: %v", err)
	}
	sid, err := s.Client.Logical().Write("auth/approle/role/"+name+"/secret-id", nil)
	if err != nil || sid == nil {
		t.Fatalf("new secret id: %v", err)
	}
	return r.Data["role_id"].(string), sid.Data["secret_id"].(string)
}

// Token creates a token with the given policies ("default" and
// "hive-read" for a reader; see AppRole for hive-read).
func (s *Server) Token(t testing.TB, policies ...string) string {
	t.Helper()
	if err := s.Client.Sys().PutPolicy("hive-read", `path "secret/data/*" { capabilities = ["read"] }`); err != nil {
		t.Fatalf("write policy: %v", err)
	}
	sec, err := s.Client.Auth().Token().Create(&api.TokenCreateRequest{Policies: policies})
	if err != nil {
		t.Fatalf("create token: %v", err)
	}
	return sec.Auth.ClientToken
}

// ClosedAddr returns the URL of a local port where nothing listens.
func ClosedAddr(t testing.TB) string {
	return "http://" + freeAddr(t)
}

// freeAddr returns 127.0.0.1:PORT with PORT and PORT+1 free (a dev
// server also listens on the next port for cluster traffic).
func freeAddr(t testing.TB) string {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+1))
		_ = l.Close()
		if err != nil {
			continue
		}
		_ = l2.Close()
		return "127.0.0.1:" + strconv.Itoa(port)
	}
	t.Fatal("no two free consecutive ports")
	return ""
}

// WaitDown waits until nothing answers at addr.
func WaitDown(addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(addr + "/v1/sys/health")
		if err != nil {
			return nil
		}
		_ = resp.Body.Close()
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("vault still answers at " + addr)
}

// syncBuffer is a bytes.Buffer safe for the process's writes and the
// test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
