package client_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hiveorch/hive/core/api/apitest"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

// leaky is a backend that wrongly returns sealed bytes, to prove the API
// drops them.
type leaky struct{ *apitest.Backend }

func (l leaky) GetSecret(ctx context.Context, ref string) (*types.Secret, error) {
	s, err := l.Backend.GetSecret(ctx, ref)
	if s != nil {
		s.Sealed = []byte("sealed-bytes")
	}
	return s, err
}

func (l leaky) ListSecrets(ctx context.Context) ([]*types.Secret, error) {
	list, err := l.Backend.ListSecrets(ctx)
	for _, s := range list {
		s.Sealed = []byte("sealed-bytes")
	}
	return list, err
}

func TestSecretsRoundTrip(t *testing.T) {
	b := backend(t)
	c := start(t, b)
	ctx := context.Background()
	plain := []byte("s3cr3t\x00\xffbinary")
	sec, err := c.CreateSecret(ctx, types.SecretSpec{Name: "db", Labels: map[string]string{"a": "b"}}, types.NewSecretValue(plain))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := b.SecretValue("db"); !bytes.Equal(got, plain) {
		t.Fatalf("the backend got %q, want the value sent", got)
	}
	if sec.Spec.Labels["a"] != "b" || sec.ValueVersion != 1 {
		t.Errorf("created %+v", sec)
	}
	if _, err := c.UpdateSecret(ctx, "db", types.NewSecretValue([]byte("v2"))); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.SecretValue("db"); string(got) != "v2" {
		t.Fatalf("after the update the backend holds %q", got)
	}
	_, err = c.CreateSecret(ctx, types.SecretSpec{Name: "big"}, types.NewSecretValue(bytes.Repeat([]byte("Q"), types.MaxSecretSize+1)))
	if !errors.Is(err, errdefs.ErrInvalidArgument) || strings.Contains(err.Error(), "QQQQ") {
		t.Errorf("a value too large: %v", err)
	}
	if err := c.RemoveSecret(ctx, "db"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetSecret(ctx, "db"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("get after remove: %v", err)
	}

	cfg, err := c.CreateConfig(ctx, types.ConfigSpec{Name: "app"}, bytes.Repeat([]byte("c"), types.MaxConfigSize))
	if err != nil {
		t.Fatalf("a config of the largest size: %v", err)
	}
	if got, _ := c.GetConfig(ctx, cfg.ID[:4]); got == nil || len(got.Data) != types.MaxConfigSize {
		t.Errorf("inspect of a config shows its data")
	}
	if up, err := c.UpdateConfig(ctx, "app", []byte("x")); err != nil || up.ValueVersion != 2 {
		t.Fatalf("update config: %+v %v", up, err)
	}
	if list, _ := c.ListConfigs(ctx); len(list) != 1 {
		t.Errorf("%d configs", len(list))
	}
	if err := c.RemoveConfig(ctx, "app"); err != nil {
		t.Fatal(err)
	}
}

func TestTheAPINeverReturnsSealedBytes(t *testing.T) {
	b := backend(t)
	c := start(t, leaky{b})
	ctx := context.Background()
	if _, err := c.CreateSecret(ctx, types.SecretSpec{Name: "db"}, types.NewSecretValue([]byte("pw"))); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetSecret(ctx, "db")
	if err != nil || got.Sealed != nil {
		t.Fatalf("inspect = %+v, %v: want no sealed bytes", got, err)
	}
	list, err := c.ListSecrets(ctx)
	if err != nil || len(list) != 1 || list[0].Sealed != nil {
		t.Fatalf("list = %+v, %v: want no sealed bytes", list, err)
	}
}

func TestAutolockCalls(t *testing.T) {
	b := backend(t)
	c := start(t, b)
	ctx := context.Background()
	if _, err := c.UnlockKey(ctx); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("unlock key with autolock off: %v", err)
	}
	on, err := c.SetAutolock(ctx, true)
	if err != nil || !on.Autolock || on.Key == "" {
		t.Fatalf("autolock on: %+v, %v", on, err)
	}
	rot, err := c.RotateUnlockKey(ctx)
	if err != nil || rot.Key == on.Key {
		t.Fatalf("rotate: %+v, %v", rot, err)
	}
	if err := c.Unlock(ctx, on.Key); !errors.Is(err, errdefs.ErrPermissionDenied) {
		t.Errorf("unlock with the old key: %v", err)
	}
	if err := c.Unlock(ctx, rot.Key); err != nil {
		t.Errorf("unlock with the current key: %v", err)
	}
}
