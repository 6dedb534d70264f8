package types

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSecretValueNeverPrints(t *testing.T) {
	const plain = "hunter2-plaintext"
	v := NewSecretValue([]byte(plain))
	type holder struct {
		Name  string
		Value SecretValue
		Ptr   *SecretValue
	}
	h := holder{Name: "db", Value: v, Ptr: &v}
	var logs bytes.Buffer
	for _, hd := range []slog.Handler{slog.NewTextHandler(&logs, nil), slog.NewJSONHandler(&logs, nil)} {
		slog.New(hd).Info("secret", "value", v, "holder", h, "ptr", &v)
	}
	js, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := v.MarshalText()
	outs := map[string]string{
		"%v":    fmt.Sprintf("%v", v),
		"%+v":   fmt.Sprintf("%+v", h),
		"%#v":   fmt.Sprintf("%#v", h),
		"%s":    fmt.Sprintf("%s", v), //lint:ignore S1025 the %s verb itself is under test
		"%q":    fmt.Sprintf("%q", v),
		"ptr":   fmt.Sprintf("%v %+v", &v, &h),
		"slog":  logs.String(),
		"json":  string(js),
		"text":  string(text),
		"error": fmt.Errorf("wrap: %v", v).Error(),
	}
	for name, out := range outs {
		if strings.Contains(out, plain) {
			t.Errorf("%s leaks the value: %s", name, out)
		}
		if !strings.Contains(out, "REDACTED") {
			t.Errorf("%s does not say the value is redacted: %s", name, out)
		}
	}
	if string(v.Reveal()) != plain || v.Len() != len(plain) {
		t.Error("Reveal or Len lost the value")
	}
}

func TestValidateObjectNames(t *testing.T) {
	good := []string{"a", "db_password", "app.key-2", "A1", strings.Repeat("x", 64)}
	bad := []string{"", "-a", "a-", ".a", "a.", "a b", "a/b", strings.Repeat("x", 65), "é"}
	for _, n := range good {
		if err := ValidateSecretName(n); err != nil {
			t.Errorf("ValidateSecretName(%q) = %v", n, err)
		}
		if err := ValidateConfigName(n); err != nil {
			t.Errorf("ValidateConfigName(%q) = %v", n, err)
		}
	}
	for _, n := range bad {
		if err := ValidateSecretName(n); err == nil {
			t.Errorf("ValidateSecretName(%q) accepted a bad name", n)
		}
	}
	if err := ValidateSecretName(strings.Repeat("x", 65)); err == nil || !strings.Contains(err.Error(), "at most 64") {
		t.Errorf("a long name: %v, want it to say the limit", err)
	}
}

func TestValidateValueSizes(t *testing.T) {
	secret := strings.Repeat("s", MaxSecretSize+1)
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"empty secret", ValidateSecretValue("db", NewSecretValue(nil)), "empty"},
		{"large secret", ValidateSecretValue("db", NewSecretValue([]byte(secret))), "500 KB"},
		{"empty config", ValidateConfigData("cfg", nil), "empty"},
		{"large config", ValidateConfigData("cfg", make([]byte, MaxConfigSize+1)), "1000 KB"},
	}
	for _, tc := range tests {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: %v, want it to say %q", tc.name, tc.err, tc.want)
		}
		if tc.err != nil && strings.Contains(tc.err.Error(), "ssss") {
			t.Errorf("%s: the error contains the value", tc.name)
		}
	}
	if err := ValidateSecretValue("db", NewSecretValue(make([]byte, MaxSecretSize))); err != nil {
		t.Errorf("a value of exactly the limit: %v", err)
	}
	if err := ValidateConfigData("cfg", make([]byte, MaxConfigSize)); err != nil {
		t.Errorf("a config of exactly the limit: %v", err)
	}
}

func TestNormalizeFillsReferenceDefaults(t *testing.T) {
	s := validSpec()
	s.Task.Container.Secrets = []SecretReference{{SecretName: "db"}}
	s.Task.Container.Configs = []ConfigReference{{ConfigName: "nginx.conf"}}
	s.Normalize()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	want := FileTarget{Name: "db", UID: "0", GID: "0", Mode: 0o444}
	if got := s.Task.Container.Secrets[0].File; got != want {
		t.Errorf("secret file = %+v, want %+v", got, want)
	}
	want.Name = "/nginx.conf"
	if got := s.Task.Container.Configs[0].File; got != want {
		t.Errorf("config file = %+v, want %+v", got, want)
	}
}

func TestValidateReferences(t *testing.T) {
	sec := func(target string) SecretReference {
		return SecretReference{SecretName: "db", File: FileTarget{Name: target}}
	}
	cfg := func(target string) ConfigReference {
		return ConfigReference{ConfigName: "app", File: FileTarget{Name: target}}
	}
	tests := []struct {
		name    string
		secrets []SecretReference
		configs []ConfigReference
		want    string // "" means valid
	}{
		{"nested secret target", []SecretReference{sec("app/db")}, nil, ""},
		{"absolute secret target", []SecretReference{sec("/etc/db")}, nil, "relative to /run/secrets"},
		{"secret escapes", []SecretReference{sec("../etc/passwd")}, nil, "remove '..'"},
		{"secret escapes late", []SecretReference{sec("a/../../b")}, nil, "remove '..'"},
		{"secret target twice", []SecretReference{sec("db"), {SecretName: "other", File: FileTarget{Name: "db"}}}, nil, "its own target"},
		{"no source", []SecretReference{{File: FileTarget{Name: "x"}}}, nil, "names no secret"},
		{"bad secret name", []SecretReference{{SecretName: "-x"}}, nil, "invalid secret name"},
		{"mode too wide", []SecretReference{{SecretName: "db", File: FileTarget{Mode: 0o4755}}}, nil, "permission bits"},
		{"named uid", []SecretReference{{SecretName: "db", File: FileTarget{UID: "root"}}}, nil, "numeric"},
		{"negative gid", []SecretReference{{SecretName: "db", File: FileTarget{GID: "-1"}}}, nil, "numeric"},
		{"config absolute", nil, []ConfigReference{cfg("/etc/app.conf")}, ""},
		{"config relative", nil, []ConfigReference{cfg("etc/app.conf")}, "absolute path"},
		{"config escapes", nil, []ConfigReference{cfg("/etc/../../x")}, "without '..'"},
		{"config target twice", nil, []ConfigReference{cfg("/a"), {ConfigName: "b", File: FileTarget{Name: "/a"}}}, "its own target"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := validSpec()
			s.Task.Container.Secrets = tc.secrets
			s.Task.Container.Configs = tc.configs
			s.Normalize()
			err := s.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestCopiesAreDeep(t *testing.T) {
	spec := validSpec()
	spec.Task.Container.Secrets = []SecretReference{{SecretID: "s1", SecretName: "db"}}
	spec.Task.Container.Configs = []ConfigReference{{ConfigID: "c1", ConfigName: "app"}}
	cp := spec.Copy()
	cp.Task.Container.Secrets[0].SecretName = "changed"
	cp.Task.Container.Configs[0].ConfigName = "changed"
	if spec.Task.Container.Secrets[0].SecretName != "db" || spec.Task.Container.Configs[0].ConfigName != "app" {
		t.Error("ServiceSpec.Copy shares the secret or config references")
	}

	sec := &Secret{ID: "s1", Spec: SecretSpec{Name: "db", Labels: map[string]string{"a": "b"},
		Driver: &Driver{Name: "vault", Options: map[string]string{"path": "p"}}}, Sealed: []byte{1, 2}}
	sc := sec.Copy()
	sc.Spec.Labels["a"] = "x"
	sc.Spec.Driver.Options["path"] = "x"
	sc.Sealed[0] = 9
	if sec.Spec.Labels["a"] != "b" || sec.Spec.Driver.Options["path"] != "p" || sec.Sealed[0] != 1 {
		t.Error("Secret.Copy is shallow")
	}
	cfg := &Config{ID: "c1", Spec: ConfigSpec{Name: "app", Labels: map[string]string{"a": "b"}}, Data: []byte("x")}
	cc := cfg.Copy()
	cc.Spec.Labels["a"] = "x"
	cc.Data[0] = 'y'
	if cfg.Spec.Labels["a"] != "b" || cfg.Data[0] != 'x' {
		t.Error("Config.Copy is shallow")
	}
	cl := &Cluster{ID: ClusterID, Encryption: Encryption{SealedUnlockKey: []byte{1}}}
	cl.Copy().Encryption.SealedUnlockKey[0] = 2
	if cl.Encryption.SealedUnlockKey[0] != 1 {
		t.Error("Cluster.Copy shares the sealed unlock key")
	}
}
