package controlapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// CreateConfig stores a config. Configs are not secret: the data is
// stored as it is.
func (s *Server) CreateConfig(ctx context.Context, spec types.ConfigSpec, data []byte) (*types.Config, error) {
	spec.Labels = cloneLabels(spec.Labels)
	if err := spec.Validate(); err != nil {
		return nil, invalid(err)
	}
	if err := types.ValidateConfigData(spec.Name, data); err != nil {
		return nil, invalid(err)
	}
	cfg := &types.Config{ID: s.IDs.NewID(), Spec: spec, ValueVersion: 1, Data: bytes.Clone(data)}
	err := s.update(ctx, func(tx store.Tx) error {
		if other := tx.ConfigByName(spec.Name); other != nil {
			return fmt.Errorf("%w: config name %q is already in use by config %s: choose another name, or change its data with 'hive config update %s FILE'", errdefs.ErrConflict, spec.Name, shortID(other.ID), spec.Name)
		}
		return tx.CreateConfig(cfg)
	})
	if err != nil {
		return nil, storeErr(err)
	}
	s.logger.Info("config created", "config_id", cfg.ID, "config", spec.Name)
	return s.GetConfig(ctx, cfg.ID)
}

// ListConfigs returns every config, sorted by name.
func (s *Server) ListConfigs(ctx context.Context) ([]*types.Config, error) {
	var out []*types.Config
	s.view(ctx, func(tx store.ReadTx) {
		for _, c := range tx.Configs() {
			out = append(out, c.Copy())
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.Name < out[j].Spec.Name })
	return out, nil
}

// GetConfig resolves a config reference (ID, name or unique ID prefix).
func (s *Server) GetConfig(ctx context.Context, ref string) (*types.Config, error) {
	var c *types.Config
	var err error
	s.view(ctx, func(tx store.ReadTx) { c, err = resolveConfig(tx, ref) })
	if err != nil {
		return nil, err
	}
	return c.Copy(), nil
}

func resolveConfig(tx store.ReadTx, ref string) (*types.Config, error) {
	if c := tx.Config(ref); c != nil {
		return c, nil
	}
	if c := tx.ConfigByName(ref); c != nil {
		return c, nil
	}
	return resolve("config", ref, tx.Configs(), func(c *types.Config) (string, string) { return c.ID, c.Spec.Name })
}

// RemoveConfig deletes a config no service uses; while services use it,
// it refuses and names them.
func (s *Server) RemoveConfig(ctx context.Context, ref string) error {
	var name string
	err := s.update(ctx, func(tx store.Tx) error {
		c, err := resolveConfig(tx, ref)
		if err != nil {
			return err
		}
		name = c.Spec.Name
		if users := servicesUsing(tx, func(cs types.ContainerSpec) bool { return usesConfig(cs, c.ID) }); len(users) > 0 {
			return inUse("config", name, "--config-rm", users)
		}
		return tx.DeleteConfig(c.ID)
	})
	if err != nil {
		return storeErr(err)
	}
	s.logger.Info("config removed", "config", name)
	return nil
}

// UpdateConfig stores new data as the config's next version and starts a
// rolling update of every service that uses it. Data equal to what the
// config holds changes nothing.
func (s *Server) UpdateConfig(ctx context.Context, ref string, data []byte) (*types.Config, error) {
	var id string
	var rolled []string
	var changed bool
	err := s.update(ctx, func(tx store.Tx) error {
		cur, err := resolveConfig(tx, ref)
		if err != nil {
			return err
		}
		id = cur.ID
		if err := types.ValidateConfigData(cur.Spec.Name, data); err != nil {
			return invalid(err)
		}
		if bytes.Equal(cur.Data, data) {
			return nil
		}
		changed = true
		c := cur.Copy()
		c.Data = bytes.Clone(data)
		c.ValueVersion++
		if err := tx.UpdateConfig(c); err != nil {
			return err
		}
		rolled, err = s.rollServices(tx, func(cs types.ContainerSpec) bool { return usesConfig(cs, cur.ID) })
		return err
	})
	if err != nil {
		return nil, storeErr(err)
	}
	if changed {
		s.logger.Info("config updated", "config_id", id, "services_rolled", len(rolled))
	}
	return s.GetConfig(ctx, id)
}

func usesConfig(c types.ContainerSpec, id string) bool {
	for _, r := range c.Configs {
		if r.ConfigID == id {
			return true
		}
	}
	return false
}

func cloneLabels(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// resolveRefs fills the ID and the name of every secret and config a
// container references, from whichever the caller gave (a name, an ID or
// a unique ID prefix). An unknown one is an invalid_argument error saying
// how to create it.
func resolveRefs(tx store.ReadTx, c *types.ContainerSpec) error {
	for i := range c.Secrets {
		r := &c.Secrets[i]
		ref := r.SecretName
		if r.SecretID != "" {
			ref = r.SecretID
		}
		sec, err := resolveSecret(tx, ref)
		if err != nil {
			if errors.Is(err, errdefs.ErrNotFound) {
				return invalid(fmt.Errorf("secret %q not found: create it first with 'hive secret create %s FILE'", ref, ref))
			}
			return err
		}
		if isPullSecret(sec) {
			return invalid(fmt.Errorf("secret %s holds a service's registry credential: it is for pulling the image only, and cannot be granted to a task", sec.Spec.Name))
		}
		r.SecretID, r.SecretName = sec.ID, sec.Spec.Name
	}
	for i := range c.Configs {
		r := &c.Configs[i]
		ref := r.ConfigName
		if r.ConfigID != "" {
			ref = r.ConfigID
		}
		cfg, err := resolveConfig(tx, ref)
		if err != nil {
			if errors.Is(err, errdefs.ErrNotFound) {
				return invalid(fmt.Errorf("config %q not found: create it first with 'hive config create %s FILE'", ref, ref))
			}
			return err
		}
		r.ConfigID, r.ConfigName = cfg.ID, cfg.Spec.Name
	}
	return nil
}

// checkRefs checks, in the transaction that stores a service, that the
// secrets and configs it references still exist.
func checkRefs(tx store.ReadTx, c types.ContainerSpec) error {
	for _, r := range c.Secrets {
		if tx.Secret(r.SecretID) == nil {
			return invalid(fmt.Errorf("secret %s was removed meanwhile: create it again or leave it out", r.SecretName))
		}
	}
	for _, r := range c.Configs {
		if tx.Config(r.ConfigID) == nil {
			return invalid(fmt.Errorf("config %s was removed meanwhile: create it again or leave it out", r.ConfigName))
		}
	}
	return nil
}
