package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/plugins/sdk/runtime"
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
	got, err := Pin(ctx, host+"/acme/web:v1", nil, nil)
	if err != nil || got != host+"/acme/web:v1@"+testDigest {
		t.Fatalf("Pin = %q, %v; want the tag with its digest", got, err)
	}
	pinned := host + "/acme/web:v1@" + testDigest
	if got, err := Pin(ctx, pinned, nil, nil); err != nil || got != pinned {
		t.Errorf("Pin of a pinned image = %q, %v; want it unchanged", got, err)
	}
	if _, err := Pin(ctx, host+"/acme/web:v9", nil, nil); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("Pin of an unknown tag: %v; want not found, naming it", err)
	}
	if _, err := Pin(ctx, "UPPER/case", nil, nil); err == nil {
		t.Error("Pin of an invalid reference succeeded")
	}
}

// privateRegistry answers the distribution API for acme/web:v1 to alice
// only: with basic auth (token false) or, as Docker Hub does, with a
// bearer token its token endpoint gives for alice's password or for the
// identity token "refresh-me".
func privateRegistry(t *testing.T, token bool) string {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token && r.URL.Path == "/token" {
			user, pass, basic := r.BasicAuth()
			_ = r.ParseForm()
			refresh := r.PostForm.Get("grant_type") == "refresh_token" && r.PostForm.Get("refresh_token") == "refresh-me"
			password := r.PostForm.Get("grant_type") == "password" && r.PostForm.Get("username") == "alice" && r.PostForm.Get("password") == "pa55"
			if !refresh && !password && !(basic && user == "alice" && pass == "pa55") {
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}`, http.StatusUnauthorized)
				return
			}
			json.NewEncoder(w).Encode(map[string]string{"token": "alice-token", "access_token": "alice-token"})
			return
		}
		user, pass, ok := r.BasicAuth()
		authorized := (!token && ok && user == "alice" && pass == "pa55") || (token && r.Header.Get("Authorization") == "Bearer alice-token")
		if !authorized {
			if token {
				w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q,service="fake",scope="repository:acme/web:pull"`, srv.URL+"/token"))
			} else {
				w.Header().Set("WWW-Authenticate", `Basic realm="fake"`)
			}
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/v2/acme/web/manifests/v1" {
			w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
			w.Header().Set("Docker-Content-Digest", testDigest)
			w.Header().Set("Content-Length", "100")
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestResolverAnswersWithTheCredential: a private registry resolves with
// the credential for it (a password, or an identity token where the
// registry gives tokens), and refuses, as Denied says, without one, with
// a wrong one, and with one for another registry.
func TestResolverAnswersWithTheCredential(t *testing.T) {
	for _, scheme := range []struct {
		name  string
		token bool
	}{{"basic", false}, {"token", true}} {
		t.Run(scheme.name, func(t *testing.T) {
			host := privateRegistry(t, scheme.token)
			ref := host + "/acme/web:v1"
			cases := []struct {
				name string
				auth *runtime.RegistryAuth
				ok   bool
			}{
				{"anonymous", nil, false},
				{"right password", &runtime.RegistryAuth{ServerAddress: host, Username: "alice", Password: "pa55"}, true},
				{"no server address", &runtime.RegistryAuth{Username: "alice", Password: "pa55"}, true},
				{"wrong password", &runtime.RegistryAuth{ServerAddress: host, Username: "alice", Password: "nope"}, false},
				{"another registry's", &runtime.RegistryAuth{ServerAddress: "other.example", Username: "alice", Password: "pa55"}, false},
			}
			if scheme.token {
				cases = append(cases, struct {
					name string
					auth *runtime.RegistryAuth
					ok   bool
				}{"identity token", &runtime.RegistryAuth{ServerAddress: host, IdentityToken: "refresh-me"}, true})
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					_, desc, err := Resolver(nil, tc.auth).Resolve(ctx, ref)
					if tc.ok {
						if err != nil || desc.Digest != testDigest {
							t.Fatalf("Resolve = %v, %v; want %s", desc.Digest, err, testDigest)
						}
						return
					}
					if err == nil {
						t.Fatal("Resolve succeeded; want the registry to refuse")
					}
					if !Denied(err) {
						t.Errorf("Denied(%v) = false; want a refusal", err)
					}
				})
			}
		})
	}
}

func TestDeniedIsNotEveryError(t *testing.T) {
	host := fakeRegistry(t)
	_, _, err := Resolver(nil, nil).Resolve(context.Background(), host+"/acme/web:v9")
	if err == nil || Denied(err) {
		t.Errorf("an unknown tag: %v, Denied %v; want an error that is not a refusal", err, Denied(err))
	}
}
