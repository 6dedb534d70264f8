package commands

import (
	"strings"
	"testing"

	"github.com/hiveorch/hive/core/types"
)

func TestParseGrant(t *testing.T) {
	r, err := parseSecretRef("--secret", "db_pw")
	if err != nil || r.SecretName != "db_pw" || r.File != (types.FileTarget{}) {
		t.Fatalf("--secret db_pw = %+v, %v", r, err)
	}
	r, err = parseSecretRef("--secret", "source=db_pw,target=app/pw,uid=1000,gid=1001,mode=0400")
	want := types.FileTarget{Name: "app/pw", UID: "1000", GID: "1001", Mode: 0o400}
	if err != nil || r.SecretName != "db_pw" || r.File != want {
		t.Fatalf("long form = %+v, %v", r, err)
	}
	c, err := parseConfigRef("--config", "src=app.conf,target=/etc/app.conf")
	if err != nil || c.ConfigName != "app.conf" || c.File.Name != "/etc/app.conf" {
		t.Fatalf("--config long form = %+v, %v", c, err)
	}
	for _, tc := range []struct{ v, want string }{
		{"target=x", "name the secret with source=NAME"},
		{"source=db,mode=999", "in octal"},
		{"source=db,uid=root", "numeric ID"},
		{"source=db,tagret=x", "unknown field"},
		{"-bad", "invalid secret name"},
		{"source=db,target", "has no value"},
	} {
		if _, err := parseSecretRef("--secret", tc.v); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--secret %s: %v, want %q", tc.v, err, tc.want)
		}
	}
}
