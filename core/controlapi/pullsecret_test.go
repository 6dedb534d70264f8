package controlapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/secrets"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

const testPassword = "pull-pass-8c1f" // must never reach a stored spec or an error

// TestRegistryAuthBecomesTheServicesPullSecret checks the life of a
// service's registry credential: sealed into a hidden secret of its own
// on create, changed in place (no task replaced) on update, kept by an
// update without one, refused as a task's secret or through the secret
// API, and removed with the service.
func TestRegistryAuthBecomesTheServicesPullSecret(t *testing.T) {
	s, st := newServer(t)
	dek := withKey(t, s)
	ctx := context.Background()
	auth := &types.RegistryAuth{ServerAddress: "127.0.0.1:5000", Username: "ci", Password: testPassword}

	sp := spec("app")
	sp.RegistryAuth = auth
	svc, err := s.CreateService(ctx, sp)
	if err != nil {
		t.Fatal(err)
	}
	pull := svc.Spec.Task.Container.PullSecret
	if pull == "" || svc.Spec.RegistryAuth != nil {
		t.Fatalf("created spec: pull secret %q, registry auth %v: want a pull secret and no credential", pull, svc.Spec.RegistryAuth)
	}
	open := func() (*types.RegistryAuth, uint64) {
		t.Helper()
		var sec *types.Secret
		st.View(func(tx store.ReadTx) { sec = tx.Secret(pull) })
		if sec == nil {
			t.Fatalf("pull secret %s not stored", pull)
		}
		if bytes.Contains(sec.Sealed, []byte(testPassword)) {
			t.Fatal("the pull secret holds the password in plain text")
		}
		v, err := secrets.Unseal(dek, sec)
		if err != nil {
			t.Fatal(err)
		}
		a, err := types.RegistryAuthOf(v)
		if err != nil {
			t.Fatal(err)
		}
		return a, sec.ValueVersion
	}
	if a, v := open(); *a != *auth || v != 1 {
		t.Fatalf("pull secret holds %v v%d, want %v v1", a, v, auth)
	}
	stored, _ := json.Marshal(svc)
	if bytes.Contains(stored, []byte(testPassword)) {
		t.Fatal("the service as the API returns it carries the password")
	}
	if list, _ := s.ListSecrets(ctx); len(list) != 0 {
		t.Fatalf("secret ls shows %d secrets, want the pull secret hidden", len(list))
	}

	// An update without a credential keeps it; a new one changes it in
	// place, replacing no task.
	next := svc.Spec.Copy()
	next.Task.Container.PullSecret = ""
	next.Labels = map[string]string{"a": "b"}
	svc, err = s.UpdateService(ctx, "app", svc.Version, next)
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.Task.Container.PullSecret != pull {
		t.Fatalf("an update without a credential dropped the pull secret: %q", svc.Spec.Task.Container.PullSecret)
	}
	same := svc.Spec.Copy()
	same.RegistryAuth = &types.RegistryAuth{ServerAddress: "127.0.0.1:5000", Username: "ci", Password: testPassword + "-2"}
	version := svc.Version
	svc, err = s.UpdateService(ctx, "app", svc.Version, same)
	if err != nil {
		t.Fatal(err)
	}
	if a, v := open(); a.Password != testPassword+"-2" || v != 2 {
		t.Fatalf("after a new credential: v%d", v)
	}
	if svc.Version != version {
		t.Fatalf("a new credential changed the service (version %d -> %d): it must replace no task", version, svc.Version)
	}

	// Hive alone names pull secrets, and they are for pulls only.
	bad := spec("other")
	bad.Task.Container.PullSecret = pull
	if _, err := s.CreateService(ctx, bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("create naming a pull secret: %v, want invalid argument", err)
	}
	grant := spec("thief")
	grant.Task.Container.Secrets = []types.SecretReference{{SecretName: pullSecretName(svc.ID)}}
	if _, err := s.CreateService(ctx, grant); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "registry credential") {
		t.Fatalf("granting a pull secret to a task: %v, want invalid argument", err)
	}
	if err := s.RemoveSecret(ctx, pull); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("secret rm of a pull secret: %v, want conflict", err)
	}
	if _, err := s.UpdateSecret(ctx, pull, value("x")); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("secret update of a pull secret: %v, want conflict", err)
	}
	if _, err := s.CreateSecret(ctx, types.SecretSpec{Name: "fake", Labels: map[string]string{types.LabelRegistryAuth: svc.ID}}, value("x")); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("a secret with hive's label: %v, want invalid argument", err)
	}

	// A credential without a password is refused, saying what to do, and
	// stores nothing.
	half := spec("half")
	half.RegistryAuth = &types.RegistryAuth{ServerAddress: "127.0.0.1:5000", Username: "ci"}
	if _, err := s.CreateService(ctx, half); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "docker login") {
		t.Fatalf("credential without a password: %v", err)
	}

	if err := s.RemoveService(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	st.View(func(tx store.ReadTx) {
		if n := len(tx.Secrets()); n != 0 {
			t.Errorf("%d secrets left after the service's removal, want its pull secret gone", n)
		}
	})
	if msg := fmt.Sprint(auth); strings.Contains(msg, testPassword) {
		t.Fatalf("a printed credential shows its password: %s", msg)
	}
}
