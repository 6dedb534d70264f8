package secrets

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/seal"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

func TestOpener(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory(clock.Real{})
	defer st.Close()
	dek, _ := seal.NewKey()
	sealed, _ := seal.Seal(dek, []byte("pw-v3"))
	drv := &types.Driver{Name: "vault", Options: map[string]string{"path": "secret/app#pw"}}
	err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateSecret(&types.Secret{ID: "s1", Spec: types.SecretSpec{Name: "db"}, ValueVersion: 3, Sealed: sealed}); err != nil {
			return err
		}
		return tx.CreateSecret(&types.Secret{ID: "s2", Spec: types.SecretSpec{Name: "vaulted", Driver: drv}, ValueVersion: 1})
	})
	if err != nil {
		t.Fatal(err)
	}
	o := NewOpener(st, dek)
	v, ver, err := o.Open(ctx, "s1")
	if err != nil || string(v.Reveal()) != "pw-v3" || ver != 3 {
		t.Fatalf("Open(s1) = %v, %d, %v", v, ver, err)
	}
	if _, _, err := o.Open(ctx, "gone"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Open of a missing secret: %v, want not found", err)
	}
	if _, _, err := o.Open(ctx, "s2"); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("Open of a driver secret without DriverFetch: %v, want unavailable", err)
	}
	var asked types.Driver
	o.DriverFetch = func(_ context.Context, d types.Driver) (types.SecretValue, error) {
		asked = d
		return types.NewSecretValue([]byte("from-vault")), nil
	}
	v, ver, err = o.Secret(ctx, "s2")
	if err != nil || string(v.Reveal()) != "from-vault" || ver != 1 || asked.Options["path"] != "secret/app#pw" {
		t.Fatalf("Open(s2) = %v, %d, %v (asked %+v)", v, ver, err, asked)
	}

	other, _ := seal.NewKey()
	_, _, err = NewOpener(st, other).Open(ctx, "s1")
	if !errors.Is(err, seal.ErrOpen) || !strings.Contains(err.Error(), "does not open") || strings.Contains(err.Error(), "pw-v3") {
		t.Fatalf("Open with the wrong key: %v", err)
	}
}
