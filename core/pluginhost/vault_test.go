package pluginhost

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/secrets-vault/vault/vaulttest"
)

// TestSecretDriversFetchFromARealVault runs the real secrets-vault plugin
// as a subprocess against a real Vault: what the daemon's DriverFetch
// does.
func TestSecretDriversFetchFromARealVault(t *testing.T) {
	vaulttest.Require(t)
	ctx := ctxT(t)
	bin := filepath.Join(t.TempDir(), "secrets-vault")
	if out, err := exec.Command("go", "build", "-o", bin, "../../plugins/secrets-vault").CombinedOutput(); err != nil {
		t.Fatalf("build secrets-vault: %v\n%s", err, out)
	}
	srv := vaulttest.Start(t)
	srv.Put(t, "app", map[string]any{"password": "from-vault"})
	roleID, secretID := srv.AppRole(t, "hive", "", "")

	h := newHost(t, nil, nil)
	drivers, err := h.SecretDrivers(ctx, []string{bin}, map[string]map[string]string{
		"secrets-vault": {"address": srv.Addr, "role_id": roleID, "secret_id": secretID},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := drivers.drivers["vault"]
	if err := p.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Health(ctx); err != nil {
		t.Fatalf("Health: %v", err)
	}

	d := types.Driver{Name: "vault", Options: map[string]string{"path": "secret/data/app#password"}}
	v, err := drivers.Fetch(ctx, d)
	if err != nil || string(v.Reveal()) != "from-vault" {
		t.Fatalf("Fetch = %d bytes, %v", v.Len(), err)
	}
	_, err = drivers.Fetch(ctx, types.Driver{Name: "vault", Options: map[string]string{"path": "secret/data/nope#password"}})
	if !errors.Is(err, sdk.ErrNotFound) || errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Fetch of a missing path = %v", err)
	}

	srv.Stop()
	if err := vaulttest.WaitDown(srv.Addr); err != nil {
		t.Fatal(err)
	}
	_, err = drivers.Fetch(ctx, d)
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("Fetch with vault down = %v", err)
	}
}
