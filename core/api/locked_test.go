package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/errdefs"
)

type lockedFake struct{ tried []string }

func (f *lockedFake) Info(context.Context) (*api.Info, error) { return &api.Info{Locked: true}, nil }
func (f *lockedFake) Shutdown(context.Context) error          { return nil }
func (f *lockedFake) Unlock(_ context.Context, key string) error {
	f.tried = append(f.tried, key)
	if key != "HIVEKEY-1-right" {
		return errdefs.ErrPermissionDenied
	}
	return nil
}

func TestALockedManagerServesOnlyUnlockAndInfo(t *testing.T) {
	f := &lockedFake{}
	h := api.NewLockedServer(f, nil).Handler()
	do := func(method, path, body string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
		return rec
	}
	if rec := do("GET", "/v1/info", ""); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"locked":true`) {
		t.Errorf("info: %d %s", rec.Code, rec.Body)
	}
	for _, p := range []string{"/v1/services", "/v1/secrets", "/v1/nodes"} {
		rec := do("GET", p, "")
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "hive unlock") {
			t.Errorf("GET %s on a locked manager: %d %s", p, rec.Code, rec.Body)
		}
	}
	if rec := do("POST", "/v1/unlock", `{"unlock_key":"HIVEKEY-1-wrong"}`); rec.Code != http.StatusForbidden {
		t.Errorf("wrong key: %d %s", rec.Code, rec.Body)
	}
	if rec := do("POST", "/v1/unlock", `{"unlock_key":"HIVEKEY-1-right"}`); rec.Code != http.StatusOK {
		t.Errorf("right key: %d %s", rec.Code, rec.Body)
	}
	if len(f.tried) != 2 {
		t.Errorf("tried %d keys", len(f.tried))
	}
}
