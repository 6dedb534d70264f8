package config

import (
	"reflect"
	"testing"
)

func TestPluginsSecrets(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  []string
		want []string
	}{
		{name: "none by default", want: nil},
		{name: "a list in a file; a driver name stands for secrets-NAME",
			file: "plugins:\n  secrets: [vault, aws]\n",
			want: []string{"secrets-vault", "secrets-aws"}},
		{name: "a plugin name and a path in a TOML file",
			file: "[plugins]\nsecrets = [\"secrets-vault\", \"/opt/hive/secrets-gcp\"]\n",
			want: []string{"secrets-vault", "/opt/hive/secrets-gcp"}},
		{name: "comma-separated in the environment overrides the file",
			file: "plugins:\n  secrets: [aws]\n",
			env:  []string{"HIVE_PLUGINS_SECRETS= vault , ./bin/secrets-x ,"},
			want: []string{"secrets-vault", "WORK/bin/secrets-x"}},
		{name: "a string in a file",
			file: "plugins:\n  secrets: vault\n",
			want: []string{"secrets-vault"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.file != "" {
				name := "hive.yaml"
				if tt.file[0] == '[' {
					name = "hive.toml"
				}
				write(t, f.work, name, tt.file)
			}
			c := f.mustLoad(t, LoadOptions{Env: tt.env})
			var want []string
			for _, w := range tt.want {
				if len(w) > 4 && w[:4] == "WORK" {
					w = f.work + w[4:]
				}
				want = append(want, w)
			}
			if !reflect.DeepEqual(c.Plugins.Secrets, want) {
				t.Errorf("plugins.secrets = %q, want %q", c.Plugins.Secrets, want)
			}
		})
	}
}

func TestPluginsSecretsErrors(t *testing.T) {
	for _, tt := range []struct {
		name, file string
		env        []string
		says       []string
	}{
		{name: "two entries for one driver", file: "plugins:\n  secrets: [vault, secrets-vault]\n",
			says: []string{`config: plugins.secrets: invalid value`, `"vault" and "secrets-vault" both serve the driver "vault": keep one`}},
		{name: "not a name", env: []string{"HIVE_PLUGINS_SECRETS=vault,bad name"},
			says: []string{`from env HIVE_PLUGINS_SECRETS`, `"bad name" is neither`}},
		{name: "a number in the list", file: "plugins:\n  secrets: [vault, 3]\n",
			says: []string{`want a list of secrets drivers such as [vault]`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.file != "" {
				write(t, f.work, "hive.yaml", tt.file)
			}
			_, err := f.load(LoadOptions{Env: tt.env})
			wantErrContains(t, err, tt.says...)
		})
	}
}

func TestSecretsPluginSettingsFromEnv(t *testing.T) {
	f := newFixture(t)
	c := f.mustLoad(t, LoadOptions{Env: []string{
		"HIVE_PLUGINS_SECRETS=vault,/opt/hive/secrets-aws",
		"HIVE_PLUGINS_CONFIG_SECRETS_AWS_REGION=eu-west-1",
		"HIVE_PLUGINS_CONFIG_SECRETS_VAULT_ROLE_ID=r",
	}})
	want := map[string]map[string]string{"secrets-aws": {"region": "eu-west-1"}, "secrets-vault": {"role_id": "r"}}
	if !reflect.DeepEqual(c.Plugins.Config, want) {
		t.Errorf("plugins.config = %v, want %v", c.Plugins.Config, want)
	}
	if got := entry(t, c, "plugins.secrets").Value; got != "secrets-vault,/opt/hive/secrets-aws" {
		t.Errorf("plugins.secrets shows as %q", got)
	}
	for ref, driver := range map[string]string{"secrets-vault": "vault", "/opt/hive/secrets-aws": "aws", "/opt/mine": "mine"} {
		if got := SecretsDriver(ref); got != driver {
			t.Errorf("SecretsDriver(%q) = %q, want %q", ref, got, driver)
		}
	}
}
