package docker

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"

	"github.com/hiveorch/hive/internal/testutil"
	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// fakeEngine serves a few Docker API routes on a unix socket, to check
// what the real engine cannot be made to do on demand: a connection that
// breaks mid-wait, a registry answering a pull.
type fakeEngine struct {
	mu     sync.Mutex
	routes map[string]http.HandlerFunc // "METHOD /path" without the version
	host   string
}

var apiVersion = regexp.MustCompile(`^/v[0-9.]+`)

func newFakeEngine(t *testing.T) *fakeEngine {
	t.Helper()
	// Not t.TempDir: unix socket paths must stay under about 100 bytes.
	dir, err := os.MkdirTemp("", "hive-docker-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeEngine{routes: map[string]http.HandlerFunc{}, host: "unix://" + sock}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		path := apiVersion.ReplaceAllString(req.URL.Path, "")
		if path == "/_ping" {
			w.Header().Set("Api-Version", "1.41")
			w.WriteHeader(http.StatusOK)
			return
		}
		f.mu.Lock()
		h := f.routes[req.Method+" "+path]
		f.mu.Unlock()
		if h == nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"message":"fake engine: no route %s %s"}`, req.Method, path)
			return
		}
		h(w, req)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return f
}

func (f *fakeEngine) handle(route string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[route] = h
}

func (f *fakeEngine) runtime(t *testing.T) *Runtime {
	t.Helper()
	r := New(testutil.Logger(t))
	if err := r.Configure(t.Context(), map[string]string{"host": f.host}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprint(w, body)
}

const runningContainer = `{"Id":"abc","Name":"/web.1","State":{"Status":"running","Running":true,"Pid":42}}`

func TestWaitReportsABrokenConnectionAsUnavailable(t *testing.T) {
	f := newFakeEngine(t)
	f.handle("GET /containers/abc/json", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, runningContainer)
	})
	f.handle("POST /containers/abc/wait", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		// The engine goes away before the container exits.
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	st, err := f.runtime(t).Wait(t.Context(), "abc")
	if st != nil {
		t.Fatalf("Wait = %+v; a broken connection must not look like an exit", st)
	}
	mustErrIs(t, err, sdk.ErrUnavailable)
}

func TestWaitReturnsTheExitOfARunningContainer(t *testing.T) {
	f := newFakeEngine(t)
	var inspects int
	f.handle("GET /containers/abc/json", func(w http.ResponseWriter, _ *http.Request) {
		f.mu.Lock()
		inspects++
		n := inspects
		f.mu.Unlock()
		if n == 1 {
			writeJSON(w, http.StatusOK, runningContainer)
			return
		}
		writeJSON(w, http.StatusOK, `{"Id":"abc","State":{"Status":"exited","ExitCode":7,"Error":"oom","FinishedAt":"2024-05-06T07:08:09Z"}}`)
	})
	f.handle("POST /containers/abc/wait", func(w http.ResponseWriter, req *http.Request) {
		if c := req.URL.Query().Get("condition"); c != "not-running" {
			t.Errorf("wait condition %q, want not-running", c)
		}
		writeJSON(w, http.StatusOK, `{"StatusCode":7}`)
	})
	st, err := f.runtime(t).Wait(t.Context(), "abc")
	if err != nil {
		t.Fatal(err)
	}
	if st.ExitCode != 7 || st.Error != "oom" || st.FinishedAt.IsZero() {
		t.Fatalf("Wait = %+v", st)
	}
}

func TestEnsureImagePullsAndReportsProgress(t *testing.T) {
	f := newFakeEngine(t)
	var pulled bool
	f.handle("GET /images/example.com/app:1/json", func(w http.ResponseWriter, _ *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if !pulled {
			writeJSON(w, http.StatusNotFound, `{"message":"No such image: example.com/app:1"}`)
			return
		}
		writeJSON(w, http.StatusOK, `{"Id":"sha256:1"}`)
	})
	f.handle("POST /images/create", func(w http.ResponseWriter, req *http.Request) {
		if q := req.URL.Query(); q.Get("fromImage") != "example.com/app" || q.Get("tag") != "1" {
			t.Errorf("pull query %v", q)
		}
		f.mu.Lock()
		pulled = true
		f.mu.Unlock()
		writeJSON(w, http.StatusOK, `{"status":"Pulling from app","id":"1"}
{"status":"Downloading","progressDetail":{"current":10,"total":100},"id":"layer1"}
{"status":"Pull complete","id":"layer1"}
`)
	})
	var got []runtime.PullProgress
	if err := f.runtime(t).EnsureImage(t.Context(), "example.com/app:1", nil, func(p runtime.PullProgress) { got = append(got, p) }); err != nil {
		t.Fatal(err)
	}
	want := []runtime.PullProgress{
		{Status: "Pulling from app", Layer: "1"},
		{Status: "Downloading", Layer: "layer1", Current: 10, Total: 100},
		{Status: "Pull complete", Layer: "layer1"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("progress = %+v, want %+v", got, want)
	}
}

func TestEnsureImageFindsErrorsInThePullStream(t *testing.T) {
	f := newFakeEngine(t)
	f.handle("GET /images/example.com/app:2/json", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, `{"message":"No such image: example.com/app:2"}`)
	})
	f.handle("POST /images/create", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, `{"status":"Pulling from app","id":"2"}
{"errorDetail":{"message":"manifest for example.com/app:2 not found: manifest unknown"},"error":"manifest for example.com/app:2 not found: manifest unknown"}
`)
	})
	err := f.runtime(t).EnsureImage(t.Context(), "example.com/app:2", nil, nil)
	mustErrIs(t, err, sdk.ErrNotFound)
	want := "image not found: example.com/app:2: manifest for example.com/app:2 not found: manifest unknown"
	if err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
}

func TestEnsureImageChecksThePulledImageIsThere(t *testing.T) {
	f := newFakeEngine(t)
	f.handle("GET /images/example.com/app:3/json", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, `{"message":"No such image: example.com/app:3"}`)
	})
	f.handle("POST /images/create", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, `{"status":"Status: Downloaded newer image"}`+"\n")
	})
	err := f.runtime(t).EnsureImage(t.Context(), "example.com/app:3", nil, nil)
	mustErrIs(t, err, sdk.ErrNotFound)
	if !strings.HasPrefix(err.Error(), "image not found: example.com/app:3: ") {
		t.Fatalf("error %q", err)
	}
}

// TestEnsureImageSaysWhenTheRegistryWantsCredentials: the engine's answers
// to a pull a registry refused (a 404 or 500 with the registry's text)
// become runtime.PullDenied's error, which says whether credentials were
// missing or refused, and never holds the password.
func TestEnsureImageSaysWhenTheRegistryWantsCredentials(t *testing.T) {
	const password = "pa55-do-not-print"
	good := &runtime.RegistryAuth{ServerAddress: "example.com", Username: "alice", Password: password}
	for _, tc := range []struct {
		name   string
		auth   *runtime.RegistryAuth
		status int
		answer string
		want   []string
	}{
		{"docker hub style, no credential", nil, http.StatusNotFound,
			"pull access denied for example.com/private, repository does not exist or may require 'docker login'",
			[]string{"image not found: example.com/private:1: the registry example.com requires credentials (pull access denied): pull access denied for", "--with-registry-auth"}},
		{"basic auth registry, no credential", nil, http.StatusInternalServerError,
			`Head \"http://example.com/v2/private/manifests/1\": no basic auth credentials`,
			[]string{"the registry example.com requires credentials", "no basic auth credentials", "log in to example.com"}},
		{"credential refused", good, http.StatusInternalServerError,
			"unauthorized: authentication required",
			[]string{"image not found: example.com/private:1: the registry example.com refused the credentials given (username alice): unauthorized: authentication required", "docker login example.com"}},
		{"credential for another registry", &runtime.RegistryAuth{ServerAddress: "other.example", Username: "alice", Password: password}, http.StatusInternalServerError,
			"no basic auth credentials",
			[]string{"requires credentials", "the credential given is for other.example, not example.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEngine(t)
			f.handle("GET /images/example.com/private:1/json", func(w http.ResponseWriter, _ *http.Request) {
				writeJSON(w, http.StatusNotFound, `{"message":"No such image"}`)
			})
			f.handle("POST /images/create", func(w http.ResponseWriter, _ *http.Request) {
				writeJSON(w, tc.status, `{"message":"`+tc.answer+`"}`)
			})
			err := f.runtime(t).EnsureImage(t.Context(), "example.com/private:1", tc.auth, nil)
			mustErrIs(t, err, sdk.ErrNotFound)
			if errors.Is(err, sdk.ErrUnavailable) {
				t.Errorf("error %q wraps sdk.ErrUnavailable; a refusal is final", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), password) {
				t.Error("the error holds the password")
			}
		})
	}
}

// TestEnsureImageSendsTheCredentialToItsRegistryOnly: the credential goes
// to the engine as the X-Registry-Auth header the docker CLI sends (the
// engine's own decoder reads it back), for a pull from the registry it is
// for; a pull from another registry goes without it.
func TestEnsureImageSendsTheCredentialToItsRegistryOnly(t *testing.T) {
	auth := &runtime.RegistryAuth{ServerAddress: "https://index.docker.io/v1/", Username: "alice", Password: "pa55", IdentityToken: "tok"}
	for _, tc := range []struct {
		ref, fromImage string
		want           *registry.AuthConfig
	}{
		{"acme/web:1", "docker.io/acme/web", &registry.AuthConfig{ServerAddress: "https://index.docker.io/v1/", Username: "alice", Password: "pa55", IdentityToken: "tok"}},
		{"example.com/web:1", "example.com/web", nil},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			f := newFakeEngine(t)
			var pulled bool
			var header string
			f.handle("GET /images/"+tc.ref+"/json", func(w http.ResponseWriter, _ *http.Request) {
				f.mu.Lock()
				defer f.mu.Unlock()
				if !pulled {
					writeJSON(w, http.StatusNotFound, `{"message":"No such image"}`)
					return
				}
				writeJSON(w, http.StatusOK, `{"Id":"sha256:1"}`)
			})
			f.handle("POST /images/create", func(w http.ResponseWriter, req *http.Request) {
				if got := req.URL.Query().Get("fromImage"); got != tc.fromImage {
					t.Errorf("fromImage %q, want %q", got, tc.fromImage)
				}
				f.mu.Lock()
				pulled, header = true, req.Header.Get(registry.AuthHeader)
				f.mu.Unlock()
				writeJSON(w, http.StatusOK, `{"status":"Pull complete"}`+"\n")
			})
			if err := f.runtime(t).EnsureImage(t.Context(), tc.ref, auth, nil); err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if header != "" {
					t.Errorf("a pull from another registry sent %s", registry.AuthHeader)
				}
				return
			}
			got, err := authconfig.Decode(header)
			if err != nil {
				t.Fatalf("decode %s: %v", registry.AuthHeader, err)
			}
			if *got != *tc.want {
				t.Errorf("the engine got the credential %+v, want %+v", runtime.RegistryAuth{ServerAddress: got.ServerAddress, Username: got.Username}, runtime.RegistryAuth{ServerAddress: tc.want.ServerAddress, Username: tc.want.Username})
			}
		})
	}
}
