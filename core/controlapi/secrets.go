package controlapi

import (
	"context"
	"crypto/subtle"
	"fmt"
	"sort"
	"strings"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/orchestrator/update"
	"github.com/hiveorch/hive/core/seal"
	"github.com/hiveorch/hive/core/secrets"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// SetDataKey gives the server the cluster's data-encryption key, which
// seals secret values before they enter a Raft command. Until it is
// called, creating or updating a secret fails as unavailable.
func (s *Server) SetDataKey(k *seal.Key) { s.dek.Store(k) }

// DriverCheck vets the driver of a secret about to be created: an error
// says why no manager could read it (the driver is not configured, its
// options are malformed). A store that is down is no reason to refuse.
type DriverCheck func(ctx context.Context, d types.Driver) error

// SetSecretDriverCheck sets the check CreateSecret runs on a driver.
func (s *Server) SetSecretDriverCheck(check DriverCheck) { s.checkDriver.Store(&check) }

// dataKey returns the DEK, or why there is none.
func (s *Server) dataKey() (*seal.Key, error) {
	k := s.dek.Load()
	if k == nil {
		return nil, fmt.Errorf("%w: this manager holds no data-encryption key, so it cannot seal secrets: run the command against another manager", errdefs.ErrUnavailable)
	}
	return k, nil
}

// forAPI returns a copy of a secret fit to leave the managers: without
// its sealed value.
func forAPI(sec *types.Secret) *types.Secret {
	c := sec.Copy()
	c.Sealed = nil
	return c
}

// CreateSecret seals value under the cluster's data-encryption key and
// stores the secret. A secret with a driver takes no value: its plugin
// holds it. The plaintext never reaches the store, a log or an error.
func (s *Server) CreateSecret(ctx context.Context, spec types.SecretSpec, value types.SecretValue) (*types.Secret, error) {
	spec = spec.Copy()
	if err := spec.Validate(); err != nil {
		return nil, invalid(err)
	}
	if _, ok := spec.Labels[types.LabelRegistryAuth]; ok {
		return nil, invalid(fmt.Errorf("secret %s: label %s is hive's own (it marks a service's registry credential): choose another label", spec.Name, types.LabelRegistryAuth))
	}
	sec := &types.Secret{ID: s.IDs.NewID(), Spec: spec, ValueVersion: 1}
	if spec.Driver != nil {
		if value.Len() > 0 {
			return nil, invalid(fmt.Errorf("secret %s: a secret with a driver takes no value (driver %s holds it): leave out the file", spec.Name, spec.Driver.Name))
		}
		if check := s.checkDriver.Load(); check != nil {
			if err := (*check)(ctx, *spec.Driver); err != nil {
				return nil, invalid(fmt.Errorf("secret %s: %w", spec.Name, err))
			}
		}
	} else {
		sealed, err := s.sealValue(spec.Name, value)
		if err != nil {
			return nil, err
		}
		sec.Sealed = sealed
	}
	err := s.update(ctx, func(tx store.Tx) error {
		if other := tx.SecretByName(spec.Name); other != nil {
			return fmt.Errorf("%w: secret name %q is already in use by secret %s: choose another name, or change its value with 'hive secret update %s FILE'", errdefs.ErrConflict, spec.Name, shortID(other.ID), spec.Name)
		}
		return tx.CreateSecret(sec)
	})
	if err != nil {
		return nil, storeErr(err)
	}
	s.logger.Info("secret created", "secret_id", sec.ID, "secret", spec.Name)
	return s.GetSecret(ctx, sec.ID)
}

// sealValue checks a value's size and seals it.
func (s *Server) sealValue(name string, value types.SecretValue) ([]byte, error) {
	if err := types.ValidateSecretValue(name, value); err != nil {
		return nil, invalid(err)
	}
	dek, err := s.dataKey()
	if err != nil {
		return nil, err
	}
	sealed, err := seal.Seal(dek, value.Reveal())
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	return sealed, nil
}

// ownedByService refuses to change or remove a service's pull secret
// other than through its service.
func ownedByService(sec *types.Secret) error {
	if svc, ok := sec.Spec.Labels[types.LabelRegistryAuth]; ok {
		return fmt.Errorf("%w: secret %s holds the registry credential of service %s: it changes with 'hive service update --with-registry-auth' and goes with the service", errdefs.ErrConflict, sec.Spec.Name, shortID(svc))
	}
	return nil
}

// ListSecrets returns every secret but the services' pull secrets,
// without values, sorted by name.
func (s *Server) ListSecrets(ctx context.Context) ([]*types.Secret, error) {
	var out []*types.Secret
	s.view(ctx, func(tx store.ReadTx) {
		for _, sec := range tx.Secrets() {
			if !isPullSecret(sec) {
				out = append(out, forAPI(sec))
			}
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.Name < out[j].Spec.Name })
	return out, nil
}

// GetSecret resolves a secret reference (ID, name or unique ID prefix);
// the secret comes without its value.
func (s *Server) GetSecret(ctx context.Context, ref string) (*types.Secret, error) {
	var sec *types.Secret
	var err error
	s.view(ctx, func(tx store.ReadTx) { sec, err = resolveSecret(tx, ref) })
	if err != nil {
		return nil, err
	}
	return forAPI(sec), nil
}

func resolveSecret(tx store.ReadTx, ref string) (*types.Secret, error) {
	if sec := tx.Secret(ref); sec != nil {
		return sec, nil
	}
	if sec := tx.SecretByName(ref); sec != nil {
		return sec, nil
	}
	return resolve("secret", ref, tx.Secrets(), func(s *types.Secret) (string, string) { return s.ID, s.Spec.Name })
}

// RemoveSecret deletes a secret no service uses; while services use it,
// it refuses and names them.
func (s *Server) RemoveSecret(ctx context.Context, ref string) error {
	var name string
	err := s.update(ctx, func(tx store.Tx) error {
		sec, err := resolveSecret(tx, ref)
		if err != nil {
			return err
		}
		name = sec.Spec.Name
		if err := ownedByService(sec); err != nil {
			return err
		}
		if users := servicesUsing(tx, func(c types.ContainerSpec) bool { return usesSecret(c, sec.ID) }); len(users) > 0 {
			return inUse("secret", name, "--secret-rm", users)
		}
		return tx.DeleteSecret(sec.ID)
	})
	if err != nil {
		return storeErr(err)
	}
	s.logger.Info("secret removed", "secret", name)
	return nil
}

// UpdateSecret rotates a secret: it stores value, sealed, as the secret's
// next version and starts a rolling update of every service that uses it,
// which replaces their tasks by their update policy so that new tasks get
// the new value. A value equal to the one it holds changes nothing (no
// new version, no service rolled), so a stack can send its values on
// every deploy. A secret with a driver takes no value: the update only
// rolls its services, to fetch the driver's current value.
func (s *Server) UpdateSecret(ctx context.Context, ref string, value types.SecretValue) (*types.Secret, error) {
	var id string
	var rolled []string
	var unchanged bool
	err := s.update(ctx, func(tx store.Tx) error {
		cur, err := resolveSecret(tx, ref)
		if err != nil {
			return err
		}
		id = cur.ID
		if err := ownedByService(cur); err != nil {
			return err
		}
		sec := cur.Copy()
		if cur.Spec.Driver != nil {
			if value.Len() > 0 {
				return invalid(fmt.Errorf("secret %s: its value is held by driver %s, not by hive: change it there, then run 'hive secret update %s' without a file to roll the services", cur.Spec.Name, cur.Spec.Driver.Name, cur.Spec.Name))
			}
		} else {
			same, err := s.holdsValue(cur, value)
			if err != nil || same {
				unchanged = same
				return err
			}
			if sec.Sealed, err = s.sealValue(cur.Spec.Name, value); err != nil {
				return err
			}
		}
		sec.ValueVersion++
		if err := tx.UpdateSecret(sec); err != nil {
			return err
		}
		rolled, err = s.rollServices(tx, func(c types.ContainerSpec) bool { return usesSecret(c, cur.ID) })
		return err
	})
	if err != nil {
		return nil, storeErr(err)
	}
	if unchanged {
		s.logger.Info("secret unchanged: the new value is the one it holds", "secret_id", id)
	} else {
		s.logger.Info("secret rotated", "secret_id", id, "services_rolled", len(rolled))
	}
	return s.GetSecret(ctx, id)
}

// holdsValue reports whether the sealed secret cur holds value already
// (compared in constant time, the opened copy wiped after).
func (s *Server) holdsValue(cur *types.Secret, value types.SecretValue) (bool, error) {
	dek, err := s.dataKey()
	if err != nil {
		return false, err
	}
	held, err := secrets.Unseal(dek, cur)
	if err != nil {
		return false, err
	}
	b := held.Reveal()
	defer clear(b)
	return subtle.ConstantTimeCompare(b, value.Reveal()) == 1, nil
}

func usesSecret(c types.ContainerSpec, id string) bool {
	for _, r := range c.Secrets {
		if r.SecretID == id {
			return true
		}
	}
	return false
}

// servicesUsing returns the names of the services whose current spec
// matches uses, sorted.
func servicesUsing(tx store.ReadTx, uses func(types.ContainerSpec) bool) []string {
	var out []string
	for _, svc := range tx.Services() {
		if uses(svc.Spec.Task.Container) {
			out = append(out, svc.Spec.Name)
		}
	}
	sort.Strings(out)
	return out
}

// rollServices starts a rolling update of every service whose spec
// matches uses, as a change of their task spec would: ForceUpdate is
// bumped, so each task is replaced by the service's update policy. It
// returns the names of the services rolled.
func (s *Server) rollServices(tx store.Tx, uses func(types.ContainerSpec) bool) ([]string, error) {
	var rolled []string
	for _, cur := range tx.Services() {
		if !uses(cur.Spec.Task.Container) {
			continue
		}
		svc := cur.Copy()
		prev := cur.Spec.Copy()
		svc.PreviousSpec = &prev
		svc.Spec.Task.ForceUpdate++
		svc.SpecVersion++
		svc.UpdateStatus = &types.UpdateStatus{State: types.UpdateUpdating, StartedAt: s.clock.Now(),
			SpecVersion: svc.SpecVersion, Message: update.MsgUpdating}
		if err := tx.UpdateService(svc); err != nil {
			return nil, err
		}
		rolled = append(rolled, cur.Spec.Name)
	}
	return rolled, nil
}

// inUse is the refusal to remove a secret or config (kind) that the
// services users use.
func inUse(kind, name, rmFlag string, users []string) error {
	if len(users) == 1 {
		return fmt.Errorf("%w: %s %s is in use by service %s: take it from the service first ('hive service update %s %s %s') or remove the service",
			errdefs.ErrConflict, kind, name, users[0], rmFlag, name, users[0])
	}
	return fmt.Errorf("%w: %s %s is in use by services %s: take it from each first ('hive service update %s %s SERVICE') or remove them",
		errdefs.ErrConflict, kind, name, strings.Join(users, ", "), rmFlag, name)
}
