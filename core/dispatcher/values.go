package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/session"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// SecretOpener returns a secret's plaintext and the ValueVersion it
// belongs to: the daemon's implementation unseals it from the store or
// asks the secret's driver plugin. An error wrapping errdefs.ErrNotFound
// means the secret no longer exists. Safe for concurrent use; errors never
// carry the value.
type SecretOpener interface {
	Secret(ctx context.Context, id string) (types.SecretValue, uint64, error)
}

// StoreSource is the SecretSource of a manager: secrets from an opener,
// configs from the store, where they are kept as they are.
type StoreSource struct {
	Store   *store.Store
	Secrets SecretOpener
}

var _ SecretSource = StoreSource{}

// Secret opens the secret with Secrets.
func (s StoreSource) Secret(ctx context.Context, id string) (types.SecretValue, uint64, error) {
	if s.Secrets == nil {
		return types.SecretValue{}, 0, fmt.Errorf("secret %s: this manager cannot open secrets: %w", id, errdefs.ErrUnavailable)
	}
	return s.Secrets.Secret(ctx, id)
}

// Config reads the config from the store.
func (s StoreSource) Config(_ context.Context, id string) ([]byte, uint64, error) {
	var c *types.Config
	s.Store.View(func(tx store.ReadTx) { c = tx.Config(id) })
	if c == nil {
		return nil, 0, fmt.Errorf("config %s: %w", id, errdefs.ErrNotFound)
	}
	return c.Data, c.ValueVersion, nil
}

// SecretSource gives the dispatcher the plaintext values of secrets and
// configs, which it sends to the nodes whose tasks reference them (and to
// no other node). On a manager the daemon implements it: secrets unsealed
// from the store or read from their driver's plugin, configs read from the
// store (StoreConfigs).
//
// Methods are safe for concurrent use and return the value with the
// ValueVersion it belongs to. An error wrapping errdefs.ErrNotFound means
// the secret or config no longer exists; any other error is retried at the
// next refresh. Errors never carry the value.
type SecretSource interface {
	Secret(ctx context.Context, id string) (types.SecretValue, uint64, error)
	Config(ctx context.Context, id string) ([]byte, uint64, error)
}

// Timing of the value delivery.
const (
	// DefaultValueRefresh is Dispatcher.ValueRefresh's default: how often
	// a session tries again the values it could not read.
	DefaultValueRefresh = 5 * time.Second
	// valueFetchTimeout bounds one call to the SecretSource.
	valueFetchTimeout = 5 * time.Second
)

// Needs reports whether a task still needs the values of the secrets and
// configs it references: it has not ended and is meant to run. A task
// that is told to stop needs them no longer (its files, if any, are
// already in place).
func Needs(t *types.Task) bool {
	return !t.Status.State.Terminal() && t.DesiredState <= types.TaskStateRunning
}

// References returns the IDs of the secrets and configs the tasks that
// still need them reference, each once, sorted. A task's pull secret (its
// registry credential) counts as a secret it references.
func References(tasks []*types.Task) (secrets, configs []string) {
	for _, t := range tasks {
		if !Needs(t) {
			continue
		}
		for _, r := range t.Spec.Container.Secrets {
			secrets = append(secrets, r.SecretID)
		}
		if id := t.Spec.Container.PullSecret; id != "" {
			secrets = append(secrets, id)
		}
		for _, r := range t.Spec.Container.Configs {
			configs = append(configs, r.ConfigID)
		}
	}
	slices.Sort(secrets)
	slices.Sort(configs)
	return slices.Compact(secrets), slices.Compact(configs)
}

// valueCache holds the values read from the SecretSource, shared by every
// session, so that a node's assignment changing (which happens at each of
// its tasks' status reports) does not read them again: a value is read
// again only when the store has a newer ValueVersion for it (the store is
// read first, cheaply). It holds plaintexts in memory only, and drops
// those no session asked for in two refresh periods.
type valueCache struct {
	d *Dispatcher

	mu      sync.Mutex
	secrets map[string]cached[session.SecretData]
	configs map[string]cached[session.ConfigData]
}

// cached is one value in the cache, with its ValueVersion and when a
// session last asked for it.
type cached[D any] struct {
	data    D
	version uint64
	used    time.Time
}

func newValueCache(d *Dispatcher) *valueCache {
	return &valueCache{d: d, secrets: map[string]cached[session.SecretData]{}, configs: map[string]cached[session.ConfigData]{}}
}

// collect returns the values of the secrets and configs that tasks
// reference, leaving out those that do not exist and those it cannot get
// (logged, without the value).
func (c *valueCache) collect(ctx context.Context, nodeID string, tasks []*types.Task) *session.Assignment {
	secretIDs, configIDs := References(tasks)
	secrets := make(map[string]session.SecretData, len(secretIDs))
	configs := make(map[string]session.ConfigData, len(configIDs))
	a := &session.Assignment{Tasks: tasks, Secrets: secrets, Configs: configs}
	if len(secretIDs)+len(configIDs) == 0 {
		return a
	}
	secretVersions := make(map[string]uint64, len(secretIDs))
	configVersions := make(map[string]uint64, len(configIDs))
	c.d.store.View(func(tx store.ReadTx) {
		for _, id := range secretIDs {
			if s := tx.Secret(id); s != nil {
				secretVersions[id] = s.ValueVersion
			}
		}
		for _, id := range configIDs {
			if cf := tx.Config(id); cf != nil {
				configVersions[id] = cf.ValueVersion
			}
		}
	})
	for _, id := range secretIDs {
		version, ok := secretVersions[id]
		if !ok {
			c.d.logger.Debug("a task references a secret that does not exist", "node_id", nodeID, "secret_id", id)
			continue
		}
		v, err := c.secret(ctx, nodeID, id, version)
		switch {
		case err == nil:
			secrets[id] = v
		case !errors.Is(err, errdefs.ErrNotFound) && ctx.Err() == nil:
			if a.SecretErrors == nil {
				a.SecretErrors = map[string]string{}
			}
			a.SecretErrors[id] = err.Error()
		}
	}
	for _, id := range configIDs {
		version, ok := configVersions[id]
		if !ok {
			c.d.logger.Debug("a task references a config that does not exist", "node_id", nodeID, "config_id", id)
			continue
		}
		if v, err := c.config(ctx, nodeID, id, version); err == nil {
			configs[id] = v
		}
	}
	c.prune()
	return a
}

// secret returns the secret's value at version (or newer), from the cache
// or the source, or why it cannot.
func (c *valueCache) secret(ctx context.Context, nodeID, id string, version uint64) (session.SecretData, error) {
	return lookup(ctx, c, c.secrets, "secret", nodeID, id, version, func(ctx context.Context, src SecretSource) (session.SecretData, uint64, error) {
		v, got, err := src.Secret(ctx, id)
		return session.SecretData{ValueVersion: got, Value: v}, got, err
	})
}

// config is secret for a config.
func (c *valueCache) config(ctx context.Context, nodeID, id string, version uint64) (session.ConfigData, error) {
	return lookup(ctx, c, c.configs, "config", nodeID, id, version, func(ctx context.Context, src SecretSource) (session.ConfigData, uint64, error) {
		b, got, err := src.Config(ctx, id)
		return session.ConfigData{ValueVersion: got, Data: b}, got, err
	})
}

// lookup returns the value of the secret or config (kind) id at version
// or newer from cache, or reads it from the source with read and caches
// it; it logs, without the value, why it cannot.
func lookup[D any](ctx context.Context, c *valueCache, cache map[string]cached[D], kind, nodeID, id string, version uint64,
	read func(context.Context, SecretSource) (D, uint64, error)) (D, error) {
	var zero D
	now := c.d.clock.Now()
	c.mu.Lock()
	e, ok := cache[id]
	if ok && e.version >= version {
		e.used = now
		cache[id] = e
		c.mu.Unlock()
		return e.data, nil
	}
	c.mu.Unlock()
	src := c.d.Values
	if src == nil {
		c.d.logger.Debug("no secret source on this manager: "+kind+" not delivered", "node_id", nodeID, kind+"_id", id)
		return zero, fmt.Errorf("this manager cannot open %ss: %w", kind, errdefs.ErrUnavailable)
	}
	fctx, cancel := clock.WithTimeout(ctx, c.d.clock, valueFetchTimeout)
	data, got, err := read(fctx, src)
	cancel()
	if err != nil {
		c.d.logValueError(ctx, kind, nodeID, id, err)
		return zero, err
	}
	c.mu.Lock()
	cache[id] = cached[D]{data: data, version: got, used: now}
	c.mu.Unlock()
	return data, nil
}

// prune drops the values no session used in two refresh periods.
func (c *valueCache) prune() {
	c.mu.Lock()
	defer c.mu.Unlock()
	limit := 2 * c.d.valueRefresh()
	now := c.d.clock.Now()
	maps.DeleteFunc(c.secrets, func(_ string, e cached[session.SecretData]) bool { return now.Sub(e.used) > limit })
	maps.DeleteFunc(c.configs, func(_ string, e cached[session.ConfigData]) bool { return now.Sub(e.used) > limit })
}

func (d *Dispatcher) logValueError(ctx context.Context, kind, nodeID, id string, err error) {
	level := slog.LevelWarn
	if errors.Is(err, errdefs.ErrNotFound) || ctx.Err() != nil {
		level = slog.LevelDebug
	}
	d.logger.Log(ctx, level, "cannot read a "+kind+"'s value for a node; its tasks wait", "node_id", nodeID, kind+"_id", id, "error", err)
}

func (d *Dispatcher) valueRefresh() time.Duration {
	if d.ValueRefresh > 0 {
		return d.ValueRefresh
	}
	return DefaultValueRefresh
}

// sameValues reports whether two assignments carry the same versions of
// the same values.
func sameValues(a, b *session.Assignment) bool {
	return maps.EqualFunc(a.Secrets, b.Secrets, func(x, y session.SecretData) bool { return x.ValueVersion == y.ValueVersion }) &&
		maps.EqualFunc(a.Configs, b.Configs, func(x, y session.ConfigData) bool { return x.ValueVersion == y.ValueVersion }) &&
		maps.Equal(a.SecretErrors, b.SecretErrors)
}

// Values is the part of a session message that carries secrets' and
// configs' values: those new to the node or at a new version, and the IDs
// of those it no longer needs (it forgets them). The first message of a
// session carries every value the node needs.
type Values struct {
	Secrets        []SecretDelivery `json:"secrets,omitempty"`
	Configs        []ConfigDelivery `json:"configs,omitempty"`
	RemovedSecrets []string         `json:"removed_secrets,omitempty"`
	RemovedConfigs []string         `json:"removed_configs,omitempty"`
	// SecretErrors say why the managers cannot get a secret's value, by
	// secret ID: new or changed reasons only. A delivery or a removal of
	// the secret clears its reason.
	SecretErrors map[string]string `json:"secret_errors,omitempty"`
}

func (v *Values) empty() bool {
	return len(v.Secrets) == 0 && len(v.Configs) == 0 && len(v.RemovedSecrets) == 0 && len(v.RemovedConfigs) == 0 &&
		len(v.SecretErrors) == 0
}

// SecretDelivery is one secret's value on its way to a node. Value is the
// plaintext, taken from the types.SecretValue at the moment the message is
// built, so that the wire encoding carries it; every way of printing a
// SecretDelivery redacts it.
type SecretDelivery struct {
	ID           string `json:"id"`
	ValueVersion uint64 `json:"value_version"`
	Value        []byte `json:"value"`
}

func (s SecretDelivery) String() string {
	return fmt.Sprintf("{%s v%d [REDACTED]}", s.ID, s.ValueVersion)
}

// GoString redacts too.
func (s SecretDelivery) GoString() string { return s.String() }

// Format redacts under every verb.
func (s SecretDelivery) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// LogValue redacts.
func (s SecretDelivery) LogValue() slog.Value { return slog.StringValue(s.String()) }

// ConfigDelivery is one config's value on its way to a node.
type ConfigDelivery struct {
	ID           string `json:"id"`
	ValueVersion uint64 `json:"value_version"`
	Data         []byte `json:"data"`
}

// sentValues is what a session has sent its node: value versions by ID.
type sentValues struct {
	secrets map[string]uint64
	configs map[string]uint64
	errors  map[string]string // reasons by secret ID
}

// diff returns the changes that bring the node from what it was sent to
// a's values, and records a's as sent; nil when nothing changed.
func (s *sentValues) diff(a *session.Assignment) *Values {
	v := &Values{}
	for _, id := range slices.Sorted(maps.Keys(a.Secrets)) {
		data := a.Secrets[id]
		if old, ok := s.secrets[id]; !ok || old != data.ValueVersion {
			v.Secrets = append(v.Secrets, SecretDelivery{ID: id, ValueVersion: data.ValueVersion, Value: data.Value.Reveal()})
		}
	}
	for _, id := range slices.Sorted(maps.Keys(a.Configs)) {
		data := a.Configs[id]
		if old, ok := s.configs[id]; !ok || old != data.ValueVersion {
			v.Configs = append(v.Configs, ConfigDelivery{ID: id, ValueVersion: data.ValueVersion, Data: data.Data})
		}
	}
	for id, reason := range a.SecretErrors {
		if s.errors[id] != reason {
			if v.SecretErrors == nil {
				v.SecretErrors = map[string]string{}
			}
			v.SecretErrors[id] = reason
		}
	}
	removed := map[string]bool{}
	for id := range s.secrets {
		removed[id] = true
	}
	for id := range s.errors {
		removed[id] = true
	}
	for _, id := range slices.Sorted(maps.Keys(removed)) {
		_, delivered := a.Secrets[id]
		_, failed := a.SecretErrors[id]
		if !delivered && !failed {
			v.RemovedSecrets = append(v.RemovedSecrets, id)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(s.configs)) {
		if _, ok := a.Configs[id]; !ok {
			v.RemovedConfigs = append(v.RemovedConfigs, id)
		}
	}
	s.secrets = make(map[string]uint64, len(a.Secrets))
	for id, data := range a.Secrets {
		s.secrets[id] = data.ValueVersion
	}
	s.configs = make(map[string]uint64, len(a.Configs))
	for id, data := range a.Configs {
		s.configs[id] = data.ValueVersion
	}
	s.errors = maps.Clone(a.SecretErrors)
	if v.empty() {
		return nil
	}
	return v
}

// Apply brings a node's copy of its values up to date with v, as the
// agent's side of a session does: new and changed values replace the old
// ones, removed ones are dropped. The plaintexts are wrapped in
// types.SecretValue at once.
func (v *Values) Apply(secrets map[string]session.SecretData, configs map[string]session.ConfigData, secretErrors map[string]string) {
	for id, reason := range v.SecretErrors {
		secretErrors[id] = reason
		delete(secrets, id) // a secret the managers can no longer get
	}
	for _, s := range v.Secrets {
		secrets[s.ID] = session.SecretData{ValueVersion: s.ValueVersion, Value: types.NewSecretValue(s.Value)}
		delete(secretErrors, s.ID)
	}
	for _, c := range v.Configs {
		configs[c.ID] = session.ConfigData{ValueVersion: c.ValueVersion, Data: c.Data}
	}
	for _, id := range v.RemovedSecrets {
		delete(secrets, id)
		delete(secretErrors, id)
	}
	for _, id := range v.RemovedConfigs {
		delete(configs, id)
	}
}
