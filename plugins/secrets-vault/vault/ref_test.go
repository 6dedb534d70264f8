package vault

import (
	"errors"
	"testing"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/secrets"
)

func TestParseRef(t *testing.T) {
	mounts := []string{"kv/team-a", "secret"}
	for _, tc := range []struct {
		name    string
		options map[string]string
		want    string // kvRef.String()
	}{
		{"api path", map[string]string{"path": "secret/data/app#password"}, "secret/data/app#password"},
		{"kv path", map[string]string{"path": "secret/app#password"}, "secret/data/app#password"},
		{"nested secret", map[string]string{"path": "secret/app/db#pw"}, "secret/data/app/db#pw"},
		{"nested api path", map[string]string{"path": "secret/data/app/db#pw"}, "secret/data/app/db#pw"},
		{"other mount", map[string]string{"path": "kv/app#pw"}, "kv/data/app#pw"},
		{"configured mount with a slash", map[string]string{"path": "kv/team-a/app#pw"}, "kv/team-a/data/app#pw"},
		{"configured mount with a slash, api path", map[string]string{"path": "kv/team-a/data/app#pw"}, "kv/team-a/data/app#pw"},
		{"a secret named data", map[string]string{"path": "secret/data/data#pw"}, "secret/data/data#pw"},
		{"version", map[string]string{"path": "secret/app#pw", "version": "3"}, "secret/data/app#pw@v3"},
		{"spaces around", map[string]string{"path": " secret/app#pw "}, "secret/data/app#pw"},
		{"last # is the field", map[string]string{"path": "secret/a#b#pw"}, "secret/data/a#b#pw"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseRef(secrets.Ref{Options: tc.options}, mounts)
			if err != nil {
				t.Fatalf("parseRef(%v): %v", tc.options, err)
			}
			if r.String() != tc.want {
				t.Fatalf("parseRef(%v) = %s, want %s", tc.options, r, tc.want)
			}
		})
	}
}

func TestParseRefRefusesMalformedOptions(t *testing.T) {
	for _, options := range []map[string]string{
		nil,
		{},
		{"path": ""},
		{"path": "secret/app"},        // no field
		{"path": "secret/app#"},       // empty field
		{"path": "secret#pw"},         // no secret
		{"path": "secret/data#pw"},    // no secret after data
		{"path": "/secret/app#pw"},    // leading slash
		{"path": "secret/app/#pw"},    // trailing slash
		{"path": "secret//app#pw"},    // empty segment
		{"path": "secret/../sys#pw"},  // dot-dot
		{"path": "secret/app?x=1#pw"}, // query
		{"path": "secret/app#pw", "version": "0"},
		{"path": "secret/app#pw", "version": "latest"},
		{"path": "secret/app#pw", "field": "pw"}, // unknown option
	} {
		_, err := parseRef(secrets.Ref{Secret: "app_pw", Options: options}, []string{"secret"})
		if !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("parseRef(%v) = %v, want invalid argument", options, err)
		}
	}
}
