package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/secrets"
	"github.com/hiveorch/hive/plugins/sdk/secrets/conformance"
	"github.com/hiveorch/hive/plugins/secrets-vault/vault/vaulttest"
)

// logBuffer collects a driver's logs, to check that they hold no secret.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newDriver(t *testing.T, logs *logBuffer, settings map[string]string) *Driver {
	t.Helper()
	var log *slog.Logger
	if logs != nil {
		log = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	d := New(log)
	if err := d.Configure(t.Context(), settings); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return d
}

func get(t *testing.T, d secrets.Driver, options ...string) (string, error) {
	t.Helper()
	ref := secrets.Ref{Secret: "test", Options: map[string]string{}}
	for i := 0; i+1 < len(options); i += 2 {
		ref.Options[options[i]] = options[i+1]
	}
	v, err := d.Get(t.Context(), ref)
	return string(v.Reveal()), err
}

// conformanceOptions stores the suite's values under secret/conformance/.
func conformanceOptions(srv *vaulttest.Server, prefix string) conformance.Options {
	var n atomic.Int64
	return conformance.Options{
		Put: func(t *testing.T, value []byte) secrets.Ref {
			path := fmt.Sprintf("conformance/%s-%d", prefix, n.Add(1))
			srv.Put(t, path, map[string]any{"value": string(value)})
			return secrets.Ref{Options: map[string]string{"path": "secret/" + path + "#value"}}
		},
		Missing: func(t *testing.T) secrets.Ref {
			return secrets.Ref{Options: map[string]string{"path": fmt.Sprintf("secret/data/conformance/%s-missing-%d#value", prefix, n.Add(1))}}
		},
		Invalid: []secrets.Ref{
			{Options: map[string]string{"path": "secret/app"}},
			{Options: map[string]string{"path": "secret/app#pw", "version": "-1"}},
		},
	}
}

// TestAgainstVault runs the driver against one real dev-mode Vault.
func TestAgainstVault(t *testing.T) {
	srv := vaulttest.Start(t)
	t.Logf("vault %s at %s", srv.Version(t), srv.Addr)
	logs := &logBuffer{}
	const password = "pa55-w0rd-5ecret"
	v1 := srv.Put(t, "app", map[string]any{"password": "old-" + password})
	srv.Put(t, "app", map[string]any{"password": password, "port": 5432, "tls": true, "list": []any{"a", "b"}})

	token := srv.Token(t, "default", "hive-read")
	tokenSettings := map[string]string{"address": srv.Addr, "token": token}

	t.Run("token auth reads a field by API path and by kv path", func(t *testing.T) {
		d := newDriver(t, logs, tokenSettings)
		if err := d.Health(t.Context()); err != nil {
			t.Fatalf("Health: %v", err)
		}
		for _, path := range []string{"secret/data/app#password", "secret/app#password"} {
			got, err := get(t, d, "path", path)
			if err != nil || got != password {
				t.Fatalf("Get %s = %q, %v", path, got, err)
			}
		}
		got, err := get(t, d, "path", "secret/app#password", "version", fmt.Sprint(v1))
		if err != nil || got != "old-"+password {
			t.Fatalf("Get version %d = %q, %v", v1, got, err)
		}
		for field, want := range map[string]string{"port": "5432", "tls": "true", "list": `["a","b"]`} {
			if got, err := get(t, d, "path", "secret/app#"+field); err != nil || got != want {
				t.Errorf("Get field %s = %q, %v; want %q", field, got, err, want)
			}
		}
	})

	t.Run("what does not exist is not found and says what", func(t *testing.T) {
		d := newDriver(t, logs, tokenSettings)
		srv.Put(t, "gone", map[string]any{"pw": "x"})
		srv.DeleteVersion(t, "gone", 1)
		for _, tc := range []struct{ path, version, says string }{
			{"secret/app#nope", "", `no field "nope" (fields: list, password, port, tls)`},
			{"secret/missing#pw", "", "secret/data/missing"},
			{"secret/app#password", "99", "secret/data/app"},
			{"secret/gone#pw", "", "deleted"},
		} {
			opts := []string{"path", tc.path}
			if tc.version != "" {
				opts = append(opts, "version", tc.version)
			}
			_, err := get(t, d, opts...)
			if !errors.Is(err, sdk.ErrNotFound) || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("Get %s = %v; want not found saying %q", tc.path, err, tc.says)
			}
		}
		// Outside its policy a token is refused whether the mount exists or
		// not; the root token sees that there is no such mount.
		root := newDriver(t, logs, map[string]string{"address": srv.Addr, "token": vaulttest.RootToken})
		_, err := get(t, root, "path", "nomount/app#pw")
		if !errors.Is(err, sdk.ErrNotFound) || !strings.Contains(err.Error(), "nomount/data/app") {
			t.Errorf("Get from a missing mount = %v; want not found", err)
		}
	})

	t.Run("a token without the policy is refused with a clear error", func(t *testing.T) {
		d := newDriver(t, logs, map[string]string{"address": srv.Addr, "token": srv.Token(t, "default")})
		if err := d.Health(t.Context()); err != nil {
			t.Fatalf("Health of a valid token: %v", err)
		}
		_, err := get(t, d, "path", "secret/app#password")
		if !errors.Is(err, sdk.ErrFailedPrecondition) || !strings.Contains(err.Error(), "vault answered 403: permission denied: the token is invalid") {
			t.Fatalf("Get without the policy = %v", err)
		}
		bad := newDriver(t, logs, map[string]string{"address": srv.Addr, "token": "hvs.not-a-token"})
		if err := bad.Health(t.Context()); !errors.Is(err, sdk.ErrFailedPrecondition) {
			t.Fatalf("Health with a bogus token = %v", err)
		}
	})

	t.Run("token_file is read at each call", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(file, []byte("hvs.not-a-token\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		d := newDriver(t, logs, map[string]string{"address": srv.Addr, "token_file": file})
		if _, err := get(t, d, "path", "secret/app#password"); !errors.Is(err, sdk.ErrFailedPrecondition) {
			t.Fatalf("Get with a bad token in the file = %v", err)
		}
		if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := get(t, d, "path", "secret/app#password"); err != nil || got != password {
			t.Fatalf("Get after the file was rotated = %q, %v", got, err)
		}
	})

	t.Run("conformance with token auth, direct", func(t *testing.T) {
		conformance.Run(t, func(t *testing.T) secrets.Driver { return newDriver(t, logs, tokenSettings) },
			conformanceOptions(srv, "token-direct"))
	})
	t.Run("conformance with token auth, over gRPC", func(t *testing.T) {
		conformance.Run(t, func(t *testing.T) secrets.Driver {
			return secrets.NewHarness(t, newDriver(t, logs, tokenSettings))
		}, conformanceOptions(srv, "token-grpc"))
	})

	roleID, secretID := srv.AppRole(t, "hive", "", "")
	approle := map[string]string{"address": srv.Addr, "role_id": roleID, "secret_id": secretID}

	t.Run("approle auth reads, and logs in again when its token is revoked", func(t *testing.T) {
		d := newDriver(t, logs, approle)
		if err := d.Health(t.Context()); err != nil {
			t.Fatalf("Health: %v", err)
		}
		if got, err := get(t, d, "path", "secret/app#password"); err != nil || got != password {
			t.Fatalf("Get = %q, %v", got, err)
		}
		st, _ := d.current()
		tok := st.auth.(*appRole).current()
		if err := srv.Client.Auth().Token().RevokeTree(tok); err != nil {
			t.Fatal(err)
		}
		if got, err := get(t, d, "path", "secret/app#password"); err != nil || got != password {
			t.Fatalf("Get after the token was revoked = %q, %v", got, err)
		}
		if now := st.auth.(*appRole).current(); now == tok || now == "" {
			t.Fatal("no new login after the token was revoked")
		}
	})

	t.Run("approle with secret_id_file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "secret-id")
		_, sid := srv.AppRole(t, "hive", "", "")
		if err := os.WriteFile(file, []byte(sid+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		d := newDriver(t, logs, map[string]string{"address": srv.Addr, "role_id": roleID, "secret_id_file": file})
		if got, err := get(t, d, "path", "secret/app#password"); err != nil || got != password {
			t.Fatalf("Get = %q, %v", got, err)
		}
	})

	t.Run("approle renews its token, then logs in again at its max TTL", func(t *testing.T) {
		rid, sid := srv.AppRole(t, "short", "2s", "5s")
		renewLogs := &logBuffer{}
		d := newDriver(t, renewLogs, map[string]string{"address": srv.Addr, "role_id": rid, "secret_id": sid})
		deadline := time.Now().Add(9 * time.Second)
		for time.Now().Before(deadline) {
			if got, err := get(t, d, "path", "secret/app#password"); err != nil || got != password {
				t.Fatalf("Get at %s = %q, %v", time.Until(deadline), got, err)
			}
			time.Sleep(250 * time.Millisecond)
		}
		out := renewLogs.String()
		if n := strings.Count(out, `"msg":"approle login"`); n < 2 {
			t.Errorf("%d logins in 9s of a token with a 5s max TTL; want 2 or more:\n%s", n, out)
		}
		if !strings.Contains(out, "approle token renewed") {
			t.Errorf("no renewal logged:\n%s", out)
		}
		logs.Write([]byte(out))
	})

	t.Run("a wrong secret_id is refused at login", func(t *testing.T) {
		d := newDriver(t, logs, map[string]string{"address": srv.Addr, "role_id": roleID, "secret_id": "00000000-0000-0000-0000-000000000000"})
		_, err := get(t, d, "path", "secret/app#password")
		if !errors.Is(err, sdk.ErrFailedPrecondition) || !strings.Contains(err.Error(), "check role_id, secret_id") {
			t.Fatalf("Get with a wrong secret_id = %v", err)
		}
	})

	t.Run("conformance with approle auth, over gRPC", func(t *testing.T) {
		conformance.Run(t, func(t *testing.T) secrets.Driver {
			return secrets.NewHarness(t, newDriver(t, logs, approle))
		}, conformanceOptions(srv, "approle-grpc"))
	})

	t.Run("vault down is unavailable", func(t *testing.T) {
		d := newDriver(t, logs, map[string]string{"address": vaulttest.ClosedAddr(t), "token": token})
		checkDown(t, d)
	})

	t.Run("logs hold no value and no credential", func(t *testing.T) {
		out := logs.String()
		if !strings.Contains(out, `"msg":"read secret"`) {
			t.Fatalf("no read was logged:\n%s", out)
		}
		for _, s := range []string{password, token, secretID} {
			if strings.Contains(out, s) {
				t.Errorf("the logs show %q", s)
			}
		}
	})

	// Last: stop the server under a configured driver.
	t.Run("a vault that stops is unavailable", func(t *testing.T) {
		d := secrets.NewHarness(t, newDriver(t, logs, tokenSettings))
		if _, err := get(t, d, "path", "secret/app#password"); err != nil {
			t.Fatal(err)
		}
		srv.Stop()
		if err := vaulttest.WaitDown(srv.Addr); err != nil {
			t.Fatal(err)
		}
		checkDown(t, d)
	})
}

func checkDown(t *testing.T, d secrets.Driver) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := d.Health(ctx); !errors.Is(err, sdk.ErrUnavailable) || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("Health with vault down = %v; want unavailable, saying unreachable", err)
	}
	_, err := d.Get(ctx, secrets.Ref{Options: map[string]string{"path": "secret/app#password"}})
	if !errors.Is(err, sdk.ErrUnavailable) || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("Get with vault down = %v; want unavailable, saying unreachable", err)
	}
}
