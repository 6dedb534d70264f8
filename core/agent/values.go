package agent

import (
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/hiveorch/hive/core/session"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// SecretsTarget is the directory where a task's container finds its
// secrets.
const SecretsTarget = "/run/secrets"

// Defaults of a file a secret or config becomes.
const (
	DefaultFileMode fs.FileMode = 0o444
	defaultOwner                = "0"
)

// values holds the secrets' and configs' values the managers sent for the
// node's tasks: in memory only, replaced by each assignment.
type values struct {
	mu      sync.Mutex
	secrets map[string]session.SecretData
	configs map[string]session.ConfigData
	// secretErrors say why the managers cannot get a secret, by ID.
	secretErrors map[string]string
}

// set takes the values of an assignment.
func (v *values) set(a *session.Assignment) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.secrets, v.configs, v.secretErrors = a.Secrets, a.Configs, a.SecretErrors
}

// taskFile is one file of a task's secrets or configs.
type taskFile struct {
	// secret is true for a secret (Target relative to SecretsTarget),
	// false for a config (Target absolute).
	secret   bool
	Target   string
	UID, GID int
	Mode     fs.FileMode
	// data is the value; for a secret, revealed from its SecretValue just
	// before it is written.
	data []byte
}

// waitingError says which value a task waits for, and why the managers
// could not send it when they know (reason, empty otherwise).
type waitingError struct{ what, reason string }

func (e *waitingError) Error() string { return "waiting for " + e.what }

// files resolves a task's secret and config references into the files to
// write. It returns a *waitingError naming the first value that has not
// arrived, or another error for a reference that cannot be honoured.
func (v *values) files(t *types.Task) ([]taskFile, error) {
	c := t.Spec.Container
	if len(c.Secrets) == 0 && len(c.Configs) == 0 {
		return nil, nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []taskFile
	for _, r := range c.Secrets {
		data, ok := v.secrets[r.SecretID]
		if !ok {
			return nil, &waitingError{what: "secret " + nameOr(r.SecretName, r.SecretID), reason: v.secretErrors[r.SecretID]}
		}
		f, err := fileOf(true, r.File, r.SecretName)
		if err != nil {
			return nil, fmt.Errorf("secret %s: %w", nameOr(r.SecretName, r.SecretID), err)
		}
		f.data = data.Value.Reveal()
		out = append(out, f)
	}
	for _, r := range c.Configs {
		data, ok := v.configs[r.ConfigID]
		if !ok {
			return nil, &waitingError{what: "config " + nameOr(r.ConfigName, r.ConfigID)}
		}
		f, err := fileOf(false, r.File, r.ConfigName)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", nameOr(r.ConfigName, r.ConfigID), err)
		}
		f.data = data.Data
		out = append(out, f)
	}
	return out, nil
}

// pullAuth returns the registry credential a task's image is pulled with
// (nil for none), or a *waitingError while its pull secret has not
// arrived.
func (v *values) pullAuth(t *types.Task) (*runtime.RegistryAuth, error) {
	id := t.Spec.Container.PullSecret
	if id == "" {
		return nil, nil
	}
	v.mu.Lock()
	data, ok := v.secrets[id]
	reason := v.secretErrors[id]
	v.mu.Unlock()
	if !ok {
		return nil, &waitingError{what: "the service's registry credential", reason: reason}
	}
	a, err := types.RegistryAuthOf(data.Value)
	if err != nil {
		return nil, err
	}
	ra := runtime.RegistryAuth(*a)
	return &ra, nil
}

func nameOr(name, id string) string {
	if name != "" {
		return name
	}
	return id
}

// fileOf applies the defaults to a file target and checks it.
func fileOf(secret bool, ft types.FileTarget, name string) (taskFile, error) {
	f := taskFile{secret: secret, Target: ft.Name, Mode: ft.Mode}
	if f.Target == "" {
		f.Target = name
		if !secret {
			f.Target = "/" + name
		}
	}
	if f.Mode == 0 {
		f.Mode = DefaultFileMode
	}
	if f.Mode&^fs.ModePerm != 0 {
		return f, fmt.Errorf("file mode %v is not a permission mode (0000-0777)", ft.Mode)
	}
	var err error
	if f.UID, err = owner(ft.UID); err != nil {
		return f, fmt.Errorf("uid: %w", err)
	}
	if f.GID, err = owner(ft.GID); err != nil {
		return f, fmt.Errorf("gid: %w", err)
	}
	if secret {
		clean := path.Clean(f.Target)
		if path.IsAbs(f.Target) || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
			return f, fmt.Errorf("target %q must be a file name under %s", f.Target, SecretsTarget)
		}
		f.Target = clean
	} else {
		if !path.IsAbs(f.Target) || path.Clean(f.Target) == "/" {
			return f, fmt.Errorf("target %q must be an absolute file path", f.Target)
		}
		f.Target = path.Clean(f.Target)
	}
	return f, nil
}

// owner parses a numeric user or group ID ("" is root).
func owner(s string) (int, error) {
	if s == "" {
		s = defaultOwner
	}
	n, err := strconv.ParseUint(s, 10, 31)
	if err != nil {
		return 0, fmt.Errorf("%q is not a numeric ID", s)
	}
	return int(n), nil
}
