package pluginhost

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/testutil"
	"github.com/hiveorch/hive/plugins/sdk"
)

func secretsHost(t *testing.T) *Host {
	return newHost(t, clock.Real{}, func(c *Config) {
		c.Builtins = append(c.Builtins, "secrets-fake", "secrets-other")
	})
}

func TestSecretDriversFetchThroughThePluginProcess(t *testing.T) {
	ctx := ctxT(t)
	h := secretsHost(t)
	drivers, err := h.SecretDrivers(ctx, []string{"secrets-fake"}, map[string]map[string]string{
		"secrets-fake": {"secret.db": "s3cr3t"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(drivers.Drivers(), ","); got != "fake" {
		t.Fatalf("Drivers = %s", got)
	}
	p := drivers.drivers["fake"]
	if err := p.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if st := p.Status(); st.Kind != sdk.KindSecrets || st.State != StateRunning || st.Source != SourceBuiltin {
		t.Fatalf("status = %+v", st)
	}

	v, err := drivers.Fetch(ctx, types.Driver{Name: "fake", Options: map[string]string{"name": "db"}})
	if err != nil || string(v.Reveal()) != "s3cr3t" {
		t.Fatalf("Fetch = %d bytes, %v", v.Len(), err)
	}

	// A path the store lacks keeps the plugin's kind, and must not read
	// as the hive secret being gone.
	_, err = drivers.Fetch(ctx, types.Driver{Name: "fake", Options: map[string]string{"name": "nope"}})
	if !errors.Is(err, sdk.ErrNotFound) || errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), `secret driver fake: fake secrets: no secret named "nope"`) {
		t.Fatalf("Fetch of a missing value = %v", err)
	}
	_, err = drivers.Fetch(ctx, types.Driver{Name: "fake", Options: map[string]string{"bad": "x"}})
	if !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("Fetch with bad options = %v", err)
	}
}

func TestSecretDriversUnknownDriverNamesTheConfigKey(t *testing.T) {
	ctx := ctxT(t)
	var none *SecretDrivers
	for _, drivers := range []*SecretDrivers{none, {}} {
		_, err := drivers.Fetch(ctx, types.Driver{Name: "vault", Options: map[string]string{"path": "secret/app#pw"}})
		if !errors.Is(err, errdefs.ErrUnavailable) {
			t.Fatalf("Fetch = %v, want unavailable", err)
		}
		for _, part := range []string{"secret driver vault is not configured on this manager (it runs no secrets plugins)",
			"add vault to plugins.secrets (HIVE_PLUGINS_SECRETS)", "plugins.config.secrets-vault"} {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("error %q does not say %q", err, part)
			}
		}
	}
	h := secretsHost(t)
	drivers, err := h.SecretDrivers(ctx, []string{"secrets-fake", "secrets-other"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := drivers.Fetch(ctx, types.Driver{Name: "vault"}); err == nil || !strings.Contains(err.Error(), "it runs only the drivers fake, other") {
		t.Fatalf("Fetch = %v", err)
	}
	if _, err := h.SecretDrivers(ctx, []string{"secrets-fake", "/opt/secrets-fake"}, nil); err == nil || !strings.Contains(err.Error(), `serve the driver "fake"`) {
		t.Fatalf("two plugins for one driver: %v", err)
	}
}

func TestSecretDriversPluginDownIsUnavailable(t *testing.T) {
	ctx := ctxT(t)
	h := secretsHost(t)
	drivers, err := h.SecretDrivers(ctx, []string{"secrets-fake"}, map[string]map[string]string{
		"secrets-fake": {"secret.db": "s3cr3t", "exit_on_get": "1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := drivers.drivers["fake"].WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	// The process exits under the call, then is restarting.
	for i, want := range []string{"secret driver fake", "secret driver fake: its plugin is down, retrying later: plugin secrets-fake is restarting"} {
		var err error
		testutil.Eventually(t, 10*time.Second, "Fetch to find the plugin down", func() bool {
			_, err = drivers.Fetch(ctx, types.Driver{Name: "fake", Options: map[string]string{"name": "db"}})
			return i == 0 || strings.Contains(err.Error(), "restarting")
		})
		if !errors.Is(err, sdk.ErrUnavailable) || !errors.Is(err, errdefs.ErrUnavailable) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Fetch %d with the plugin down = %v; want unavailable, starting %q", i, err, want)
		}
	}
}
