package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/secrets"
)

// secretsPluginPrefix starts every secrets plugin's name: the driver NAME
// is served by the plugin secrets-NAME.
const secretsPluginPrefix = "secrets-"

// SecretDriverName returns the secret driver a secrets plugin serves: its
// name (the file name of a path) without the "secrets-" prefix.
// "secrets-vault" and "/opt/hive/secrets-vault" serve "vault".
func SecretDriverName(plugin string) string {
	return strings.TrimPrefix(filepath.Base(plugin), secretsPluginPrefix)
}

// SecretDrivers reads driver-backed secrets through the secrets plugins a
// manager runs (plugins.secrets), each found by the name of the driver it
// serves. Safe for concurrent use.
type SecretDrivers struct {
	drivers map[string]*Secrets // by driver name
}

// SecretDrivers starts the secrets plugins named in plugins (the values of
// plugins.secrets: "secrets-vault", "/opt/hive/secrets-aws"), each with its
// settings from settings (plugins.config, by plugin name). It returns
// once they are resolved, before their processes are up; an error means a
// plugin cannot be found, or two serve the same driver.
func (h *Host) SecretDrivers(ctx context.Context, plugins []string, settings map[string]map[string]string) (*SecretDrivers, error) {
	s := &SecretDrivers{drivers: map[string]*Secrets{}}
	for _, ref := range plugins {
		driver := SecretDriverName(ref)
		if _, dup := s.drivers[driver]; dup {
			return nil, fmt.Errorf("secrets plugins: two plugins in plugins.secrets serve the driver %q: keep one", driver)
		}
		p, err := h.Secrets(ctx, Spec{Name: ref, Settings: settings[filepath.Base(ref)]})
		if err != nil {
			return nil, fmt.Errorf("secrets plugin for driver %s: %w", driver, err)
		}
		s.drivers[driver] = p
	}
	return s, nil
}

// Drivers lists the driver names served, sorted.
func (s *SecretDrivers) Drivers() []string {
	if s == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(s.drivers))
}

// Fetch reads the value of a driver-backed secret from the plugin of
// d.Name, with d.Options as the plugin's options; it is the daemon's
// secrets.Opener.DriverFetch. It never returns the value in an error.
//
// Its errors say what to do, and keep the plugin's kind (sdk.ErrNotFound
// for a path the store does not have, sdk.ErrInvalidArgument for bad
// options, sdk.ErrFailedPrecondition for refused credentials). A driver
// this manager does not run, and a plugin that is down or whose store is
// unreachable, also wrap errdefs.ErrUnavailable: retrying later may work.
// No error wraps errdefs.ErrNotFound, which would tell the dispatcher that
// the hive secret itself is gone.
func (s *SecretDrivers) Fetch(ctx context.Context, d types.Driver) (types.SecretValue, error) {
	name := strings.TrimSpace(d.Name)
	if name == "" {
		return types.SecretValue{}, fmt.Errorf("secret driver: no driver name: %w", sdk.ErrInvalidArgument)
	}
	var p *Secrets
	if s != nil {
		p = s.drivers[name]
	}
	if p == nil {
		runs := "no secrets plugins"
		if names := s.Drivers(); len(names) > 0 {
			runs = "only the drivers " + strings.Join(names, ", ")
		}
		return types.SecretValue{}, &fetchError{
			msg: fmt.Sprintf("secret driver %s is not configured on this manager (it runs %s): add %s to plugins.secrets (HIVE_PLUGINS_SECRETS) "+
				"and give the plugin %s%s its settings under plugins.config.%s%s, then restart hive",
				name, runs, name, secretsPluginPrefix, name, secretsPluginPrefix, name),
			kinds: []error{errdefs.ErrUnavailable},
		}
	}

	v, err := p.Get(ctx, secrets.Ref{Options: maps.Clone(d.Options)})
	if err != nil {
		return types.SecretValue{}, fetchErr(p.e.name, name, err)
	}
	if v.Len() > types.MaxSecretSize {
		return types.SecretValue{}, fmt.Errorf("secret driver %s: the value is %d bytes, more than the %d a secret may hold: %w",
			name, v.Len(), types.MaxSecretSize, sdk.ErrInvalidArgument)
	}
	return types.NewSecretValue(v.Reveal()), nil
}

// fetchErr wraps an error of a secrets plugin with what failed, adding
// errdefs.ErrUnavailable to the kinds worth retrying.
func fetchErr(plugin, driver string, err error) error {
	if !errors.Is(err, sdk.ErrUnavailable) {
		return fmt.Errorf("secret driver %s: %w", driver, err)
	}
	msg := fmt.Sprintf("secret driver %s: %v", driver, err)
	if strings.HasPrefix(err.Error(), "plugin "+plugin+" ") {
		// The plugin process is down (restarting or failed): say so.
		msg = fmt.Sprintf("secret driver %s: its plugin is down, retrying later: %v", driver, err)
	}
	return &fetchError{msg: msg, kinds: []error{err, errdefs.ErrUnavailable}}
}

// fetchError is an error of several kinds, with its own message.
type fetchError struct {
	msg   string
	kinds []error
}

func (e *fetchError) Error() string   { return e.msg }
func (e *fetchError) Unwrap() []error { return e.kinds }
