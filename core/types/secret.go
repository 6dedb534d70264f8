package types

import (
	"bytes"
	"io/fs"
	"log/slog"
	"maps"
)

// Limits on the values of secrets and configs, as in Swarm.
const (
	MaxSecretSize = 500 * 1024
	MaxConfigSize = 1000 * 1024
)

// Secret is a sensitive value granted to services. hive never stores its
// plaintext: Sealed holds it sealed under the cluster's data-encryption
// key, and a secret with a Driver is not stored by hive at all (the
// driver's plugin is asked for it when a task needs it).
type Secret struct {
	ID string `json:"id"`
	Meta
	Spec SecretSpec `json:"spec"`
	// ValueVersion counts the values the secret has had: `hive secret
	// update` stores a new one and rolls the services that use it.
	ValueVersion uint64 `json:"value_version"`
	// Sealed is the value sealed with nacl/secretbox under the cluster's
	// data-encryption key; empty for a driver-backed secret.
	Sealed []byte `json:"sealed,omitempty"`
}

// SecretSpec is what a user declares of a secret.
type SecretSpec struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
	// Driver names the secrets plugin that holds the value, with its
	// options (for Vault: path=secret/data/app#password); nil means hive
	// stores the value.
	Driver *Driver `json:"driver,omitempty"`
}

// Driver is a plugin and its options.
type Driver struct {
	Name    string            `json:"name"`
	Options map[string]string `json:"options,omitempty"`
}

// Config is a non-sensitive value granted to services, stored as it is.
type Config struct {
	ID string `json:"id"`
	Meta
	Spec ConfigSpec `json:"spec"`
	// ValueVersion counts the values the config has had.
	ValueVersion uint64 `json:"value_version"`
	Data         []byte `json:"data"`
}

// ConfigSpec is what a user declares of a config.
type ConfigSpec struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
}

// FileTarget is where a secret or config appears in a task's container,
// owned and with the mode asked for.
type FileTarget struct {
	// Name is the file: for a secret, relative to /run/secrets (default
	// the secret's name); for a config, an absolute path (default
	// /NAME).
	Name string      `json:"name"`
	UID  string      `json:"uid"`  // default "0"
	GID  string      `json:"gid"`  // default "0"
	Mode fs.FileMode `json:"mode"` // default 0444
}

// SecretReference grants a secret to a service's tasks.
type SecretReference struct {
	SecretID   string     `json:"secret_id"`
	SecretName string     `json:"secret_name"`
	File       FileTarget `json:"file"`
}

// ConfigReference grants a config to a service's tasks.
type ConfigReference struct {
	ConfigID   string     `json:"config_id"`
	ConfigName string     `json:"config_name"`
	File       FileTarget `json:"file"`
}

// SecretValue is a secret's plaintext in memory. Every way of printing or
// encoding it redacts: code that must hand the bytes on (to the sealing
// code, to the agent's tmpfs file, into an RPC message's []byte field)
// calls Reveal, so a plaintext can only leave on purpose.
type SecretValue struct{ b []byte }

// NewSecretValue wraps b (not copied).
func NewSecretValue(b []byte) SecretValue { return SecretValue{b: b} }

// Reveal returns the plaintext.
func (v SecretValue) Reveal() []byte { return v.b }

// Len is the plaintext's length.
func (v SecretValue) Len() int { return len(v.b) }

const redacted = "[REDACTED]"

func (v SecretValue) String() string               { return redacted }
func (v SecretValue) GoString() string             { return redacted }
func (v SecretValue) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (v SecretValue) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
func (v SecretValue) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Copy returns a deep copy of s.
func (s *Secret) Copy() *Secret {
	if s == nil {
		return nil
	}
	c := *s
	c.Spec = s.Spec.Copy()
	c.Sealed = bytes.Clone(s.Sealed)
	return &c
}

// Copy returns a deep copy of s.
func (s SecretSpec) Copy() SecretSpec {
	s.Labels = maps.Clone(s.Labels)
	if s.Driver != nil {
		d := *s.Driver
		d.Options = maps.Clone(d.Options)
		s.Driver = &d
	}
	return s
}

// Copy returns a deep copy of c.
func (c *Config) Copy() *Config {
	if c == nil {
		return nil
	}
	out := *c
	out.Spec.Labels = maps.Clone(c.Spec.Labels)
	out.Data = bytes.Clone(c.Data)
	return &out
}

// Defaults of a FileTarget.
const (
	DefaultFileUID  = "0"
	DefaultFileGID  = "0"
	DefaultFileMode = fs.FileMode(0o444)
	// SecretsDir is where a task's secrets appear in its container.
	SecretsDir = "/run/secrets"
)

// normalize fills a file target's defaults: the name def, owner 0:0 and
// mode 0444.
func (f *FileTarget) normalize(def string) {
	if f.Name == "" {
		f.Name = def
	}
	if f.UID == "" {
		f.UID = DefaultFileUID
	}
	if f.GID == "" {
		f.GID = DefaultFileGID
	}
	if f.Mode == 0 {
		f.Mode = DefaultFileMode
	}
}
