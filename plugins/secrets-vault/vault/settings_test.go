package vault

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/plugins/sdk"
)

func TestParseSettings(t *testing.T) {
	c, err := parseSettings(map[string]string{"address": "https://vault:8200", "token": "t", "mounts": "secret, kv/team-a/ ,", "timeout": "3"})
	if err != nil {
		t.Fatal(err)
	}
	if c.timeout != 3*time.Second || strings.Join(c.mounts, ",") != "kv/team-a,secret" || c.approle() {
		t.Fatalf("config = %+v", c)
	}
	c, err = parseSettings(map[string]string{"address": "http://127.0.0.1:8200", "role_id": "r", "secret_id_file": "/run/sid"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.approle() || c.approleMount != "approle" || c.timeout != defaultTimeout || strings.Join(c.mounts, ",") != "secret" {
		t.Fatalf("config = %+v", c)
	}
}

func TestParseSettingsRefusesBadSettingsWithoutShowingCredentials(t *testing.T) {
	const cred = "s.VeryS3cretToken"
	for _, s := range []map[string]string{
		{},
		{"token": cred},
		{"address": "vault:8200", "token": cred},
		{"address": "ftp://vault", "token": cred},
		{"address": "https://vault:8200"},
		{"address": "https://vault:8200", "token": cred, "role_id": "r", "secret_id": cred},
		{"address": "https://vault:8200", "role_id": "r"},
		{"address": "https://vault:8200", "role_id": "r", "secret_id": cred, "secret_id_file": "/f"},
		{"address": "https://vault:8200", "token": cred, "secret_id": cred},
		{"address": "https://vault:8200", "token": cred, "approle_mount": "x"},
		{"address": "https://vault:8200", "token": cred, "timeout": "soon"},
		{"address": "https://vault:8200", "token": cred, "client_cert": "/c"},
		{"address": "https://vault:8200", "token": cred, "mounts": "a//b"},
		{"address": "https://vault:8200", "token": cred, "tls_skip_verify": "true"},
	} {
		_, err := parseSettings(s)
		if !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("parseSettings(%v) = %v, want invalid argument", s, err)
			continue
		}
		if strings.Contains(err.Error(), cred) {
			t.Errorf("error shows a credential: %v", err)
		}
	}
}

func TestCACertMustHoldACertificate(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{bad, filepath.Join(dir, "missing.pem")} {
		err := New(nil).Configure(t.Context(), map[string]string{"address": "https://vault:8200", "token": "t", "ca_cert": path})
		if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), "ca_cert") {
			t.Errorf("ca_cert %s: %v, want an invalid argument naming ca_cert", path, err)
		}
	}
}

func TestUnconfiguredDriverSaysSo(t *testing.T) {
	d := New(nil)
	if err := d.Health(t.Context()); !errors.Is(err, sdk.ErrFailedPrecondition) || !strings.Contains(err.Error(), "plugins.config.secrets-vault") {
		t.Errorf("Health before Configure = %v", err)
	}
}
