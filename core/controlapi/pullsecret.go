package controlapi

import (
	"fmt"

	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// A service's registry credential (--with-registry-auth, Docker's
// X-Registry-Auth) is kept as a secret of its own, its pull secret: sealed
// like every secret, delivered only to the nodes that run the service's
// tasks, labelled types.LabelRegistryAuth with the service's ID, hidden
// from secret listings, and made, changed and removed with the service.
// The spec names it (ContainerSpec.PullSecret); the credential itself
// never enters a stored spec.

// registryAuth is a request's credential, sealed, on its way into a
// transaction.
type registryAuth struct {
	value  types.SecretValue
	sealed []byte
}

// takeRegistryAuth takes the request-only credential out of spec and
// seals it (nil when the request carries none).
func (s *Server) takeRegistryAuth(spec *types.ServiceSpec) (*registryAuth, error) {
	a := spec.RegistryAuth
	spec.RegistryAuth = nil
	if a == nil {
		return nil, nil
	}
	if err := a.Validate(); err != nil {
		return nil, invalid(err)
	}
	value, err := a.SecretValue()
	if err != nil {
		return nil, err
	}
	sealed, err := s.sealValue("registry credential", value)
	if err != nil {
		return nil, err
	}
	return &registryAuth{value: value, sealed: sealed}, nil
}

// pullSecretName names the pull secret of service id.
func pullSecretName(id string) string { return "hive.registry-auth." + id }

// keepPullSecret checks the PullSecret of a requested spec against the
// service's (cur, nil on create): a request may name the one the service
// has (or had before its last update), or none, which keeps the current
// one; hive alone sets it.
func keepPullSecret(spec *types.ServiceSpec, cur *types.Service) error {
	want := &spec.Task.Container.PullSecret
	if cur == nil {
		if *want != "" {
			return invalid(fmt.Errorf("pull_secret is set by hive: pass the registry credential with --with-registry-auth (or X-Registry-Auth) instead"))
		}
		return nil
	}
	has := cur.Spec.Task.Container.PullSecret
	switch {
	case *want == "":
		*want = has
	case *want == has, cur.PreviousSpec != nil && *want == cur.PreviousSpec.Task.Container.PullSecret:
	default:
		return invalid(fmt.Errorf("pull_secret %s is not service %s's: hive sets it; pass the registry credential with --with-registry-auth instead", *want, cur.Spec.Name))
	}
	return nil
}

// putPullSecret stores a's credential as the pull secret of service svcID
// in tx: in place when spec names one that exists (a new value version
// when it changed; no task is replaced, the next pull uses it), else as a
// new secret that spec then names.
func (s *Server) putPullSecret(tx store.Tx, svcID string, spec *types.ServiceSpec, a *registryAuth) error {
	if a == nil {
		return nil
	}
	if cur := tx.Secret(spec.Task.Container.PullSecret); cur != nil && cur.Spec.Labels[types.LabelRegistryAuth] == svcID {
		same, err := s.holdsValue(cur, a.value)
		if err != nil || same {
			return err
		}
		sec := cur.Copy()
		sec.Sealed = a.sealed
		sec.ValueVersion++
		return tx.UpdateSecret(sec)
	}
	if old := tx.SecretByName(pullSecretName(svcID)); old != nil {
		// Left by a rollback to a spec without a credential.
		if err := tx.DeleteSecret(old.ID); err != nil {
			return err
		}
	}
	sec := &types.Secret{ID: s.IDs.NewID(), ValueVersion: 1, Sealed: a.sealed, Spec: types.SecretSpec{
		Name: pullSecretName(svcID), Labels: map[string]string{types.LabelRegistryAuth: svcID}}}
	if err := tx.CreateSecret(sec); err != nil {
		return err
	}
	spec.Task.Container.PullSecret = sec.ID
	return nil
}

// removePullSecrets deletes the pull secrets of service svcID.
func removePullSecrets(tx store.Tx, svcID string) error {
	for _, sec := range tx.Secrets() {
		if sec.Spec.Labels[types.LabelRegistryAuth] == svcID {
			if err := tx.DeleteSecret(sec.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// isPullSecret reports whether sec is a service's pull secret.
func isPullSecret(sec *types.Secret) bool {
	_, ok := sec.Spec.Labels[types.LabelRegistryAuth]
	return ok
}
