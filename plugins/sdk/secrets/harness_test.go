package secrets_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/secrets"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestHarnessCarriesRefsSettingsAndErrorKinds(t *testing.T) {
	ctx := ctxT(t)
	f := secrets.NewFake()
	d := secrets.NewHarness(t, f)

	if err := d.Configure(ctx, map[string]string{"address": "https://vault:8200"}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	if got := f.Settings()["address"]; got != "https://vault:8200" {
		t.Errorf("settings reached the plugin as %q", got)
	}
	info, err := d.Describe(ctx)
	if err != nil || info.Kind != sdk.KindSecrets || info.Name != "secrets-fake" {
		t.Fatalf("Describe = %+v, %v", info, err)
	}

	ref := f.Set("db", []byte("pw"))
	ref.Secret = "db_password"
	v, err := d.Get(ctx, ref)
	if err != nil || string(v.Reveal()) != "pw" {
		t.Fatalf("Get = %d bytes, %v", v.Len(), err)
	}
	if refs := f.Refs(); len(refs) != 1 || refs[0].Secret != "db_password" || refs[0].Options["name"] != "db" {
		t.Errorf("refs received = %+v", refs)
	}

	for _, kind := range []error{sdk.ErrNotFound, sdk.ErrInvalidArgument, sdk.ErrUnavailable, sdk.ErrFailedPrecondition} {
		msg := fmt.Sprintf("read secret/data/app: %v", kind)
		f.FailNext("Get", fmt.Errorf("read secret/data/app: %w", kind))
		_, err := d.Get(ctx, ref)
		if !errors.Is(err, kind) || err.Error() != msg {
			t.Errorf("error %q came back as %q (is %v: %v)", msg, err, kind, errors.Is(err, kind))
		}
	}

	f.SetDown(true)
	if err := d.Health(ctx); !errors.Is(err, sdk.ErrUnavailable) {
		t.Errorf("Health of a down store = %v, want unavailable", err)
	}
	f.SetDown(false)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.Get(cctx, ref); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled context = %v, want context.Canceled", err)
	}
}
