package api_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/api/apitest"
	"github.com/hiveorch/hive/core/api/client"
	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/transport"
	"github.com/hiveorch/hive/internal/testutil"
)

// pki is a cluster CA and a manager's certificate for the server side.
type pki struct {
	root    *ca.Root
	manager *ca.NodeCert
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	root, nc, err := ca.Bootstrap(t.TempDir(), "manager1", clock.Real{}.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &pki{root: root, manager: nc}
}

// certDir writes a certificate of role (an OU) named name into a new
// client certificate directory and returns it.
func (p *pki) certDir(t *testing.T, name, ou string) string {
	t.Helper()
	key, _ := ca.GenerateKey()
	var certPEM []byte
	var err error
	if ou == ca.OUClient {
		certPEM, err = p.root.IssueClient(&key.PublicKey, name, clock.Real{}.Now(), time.Hour)
	} else {
		certPEM, err = p.root.Issue(&key.PublicKey, name, ou, clock.Real{}.Now(), time.Hour)
	}
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, _ := ca.MarshalKey(key)
	dir := t.TempDir()
	for f, b := range map[string][]byte{client.CACertFile: p.root.PEM, client.ClientCertFile: certPEM, client.ClientKeyFile: keyPEM} {
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// serveTLS serves the API for b over TLS with the cluster port's
// configuration, behind RequireRoles(manager, client).
func (p *pki) serveTLS(t *testing.T, b api.Backend) *httptest.Server {
	t.Helper()
	h := api.RequireRoles(api.NewServer(b, testutil.Logger(t)).Handler(), ca.OUManager, ca.OUClient)
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = ca.ServerTLS(p.root, p.manager)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestRequireRolesOverTLS(t *testing.T) {
	p := newPKI(t)
	b := apitest.New()
	srv := p.serveTLS(t, b)
	host := "tcp://" + srv.Listener.Addr().String()

	noCert, err := client.LoadTLS(p.certDir(t, "x", ca.OUClient))
	if err != nil {
		t.Fatal(err)
	}
	noCert.Certificates = nil

	tests := []struct {
		name string
		tls  func(t *testing.T) *tls.Config
		want string // "" for allowed
	}{
		{"manager certificate", func(t *testing.T) *tls.Config { return mustLoadTLS(t, p.certDir(t, "manager2", ca.OUManager)) }, ""},
		{"client certificate", func(t *testing.T) *tls.Config { return mustLoadTLS(t, p.certDir(t, "alice", ca.OUClient)) }, ""},
		{"worker certificate", func(t *testing.T) *tls.Config { return mustLoadTLS(t, p.certDir(t, "worker1", ca.OUWorker)) },
			"worker certificates (worker1) may not call the hive API, only manager and client certificates"},
		{"no certificate", func(*testing.T) *tls.Config { return noCert },
			"the hive API over TCP needs a client certificate signed by the cluster's CA: get one with 'hive cluster client-cert'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := client.New(host, client.WithTLS(tt.tls(t)))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, err = c.Info(context.Background())
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Info: %v", err)
				}
				return
			}
			var apiErr *client.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusForbidden || !errors.Is(err, errdefs.ErrPermissionDenied) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Info: %v, want a 403 containing %q", err, tt.want)
			}
		})
	}
}

func mustLoadTLS(t *testing.T, dir string) *tls.Config {
	t.Helper()
	cfg, err := client.LoadTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestRequireRolesRefusesPlainTCPAndAllowsTheSocket(t *testing.T) {
	b := apitest.New()
	h := api.RequireRoles(api.NewServer(b, testutil.Logger(t)).Handler(), ca.OUManager, ca.OUClient)

	plain := httptest.NewServer(h)
	defer plain.Close()
	code, _, body := do(t, plain, http.MethodGet, "/v1/info", "")
	if code != http.StatusForbidden || !strings.Contains(body, "the hive API over TCP needs TLS with a client certificate") {
		t.Errorf("plain TCP: %d %s", code, body)
	}

	sock := filepath.Join(t.TempDir(), "hive.sock")
	l, err := api.ListenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	defer srv.Close()
	c, err := client.New("unix://" + sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Info(context.Background()); err != nil {
		t.Errorf("unix socket: %v", err)
	}
}

// TestAPIOnTheClusterPort serves the API on a real cluster port (ALPN
// http/1.1) as the daemon does, and calls it with a client certificate
// loaded the way the CLI loads it.
func TestAPIOnTheClusterPort(t *testing.T) {
	p := newPKI(t)
	mux, err := transport.Listen("127.0.0.1:0", ca.ServerTLS(p.root, p.manager), testutil.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer mux.Close()
	b := apitest.New()
	b.InfoValue = api.Info{NodeID: "manager1"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// Register the protocol before any client can dial it.
	apiLn := mux.Listener(transport.ProtoAPI, false)
	go func() {
		done <- api.NewServer(b, testutil.Logger(t)).ServeRestricted(ctx, apiLn, ca.OUManager, ca.OUClient)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeRestricted: %v", err)
		}
	}()
	host := "tcp://" + mux.Addr().String()

	c, err := client.New(host, client.WithTLS(mustLoadTLS(t, p.certDir(t, "alice", ca.OUClient))))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	info, err := c.Info(ctx)
	if err != nil || info.NodeID != "manager1" {
		t.Fatalf("Info with a client certificate: %+v, %v", info, err)
	}

	w, err := client.New(host, client.WithTLS(mustLoadTLS(t, p.certDir(t, "worker1", ca.OUWorker))))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Info(ctx); !errors.Is(err, errdefs.ErrPermissionDenied) {
		t.Fatalf("Info with a worker certificate: %v", err)
	}
}
