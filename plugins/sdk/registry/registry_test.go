package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// fakeRegistry answers the distribution API for acme/web:v1 only, behind
// a bearer-token challenge as Docker Hub's is.
func fakeRegistry(t *testing.T) string {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			if r.URL.Query().Get("scope") != "repository:acme/web:pull" {
				http.Error(w, "bad scope "+r.URL.Query().Get("scope"), http.StatusBadRequest)
				return
			}
			json.NewEncoder(w).Encode(map[string]string{"token": "t0ken"})
			return
		}
		if r.Header.Get("Authorization") != "Bearer t0ken" {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q,service="fake",scope="repository:acme/web:pull"`, srv.URL+"/token"))
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/v2/":
		case "/v2/acme/web/manifests/v1":
			w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
			w.Header().Set("Docker-Content-Digest", testDigest)
			w.Header().Set("Content-Length", "100")
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestPin(t *testing.T) {
	host := fakeRegistry(t)
	ctx := context.Background()
	got, err := Pin(ctx, host+"/acme/web:v1", nil)
	if err != nil || got != host+"/acme/web:v1@"+testDigest {
		t.Fatalf("Pin = %q, %v; want the tag with its digest", got, err)
	}
	pinned := host + "/acme/web:v1@" + testDigest
	if got, err := Pin(ctx, pinned, nil); err != nil || got != pinned {
		t.Errorf("Pin of a pinned image = %q, %v; want it unchanged", got, err)
	}
	if _, err := Pin(ctx, host+"/acme/web:v9", nil); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("Pin of an unknown tag: %v; want not found, naming it", err)
	}
	if _, err := Pin(ctx, "UPPER/case", nil); err == nil {
		t.Error("Pin of an invalid reference succeeded")
	}
}
