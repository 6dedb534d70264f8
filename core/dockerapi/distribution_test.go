package dockerapi

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"
	"github.com/opencontainers/go-digest"
)

const (
	testManifestDigest = digest.Digest("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	testManifestType   = "application/vnd.oci.image.index.v1+json"
)

// fakeRegistry answers the distribution API on a loopback address (which
// the resolver asks over plain HTTP) for acme/web:v1, acme/web:latest and
// acme/web@testManifestDigest only. It returns the registry's host:port
// and records the manifest paths asked.
func fakeRegistry(t *testing.T) (host string, asked func() []string) {
	return fakeRegistryAuth(t, "", "")
}

// fakeRegistryAuth is fakeRegistry answering only user with password
// (basic authentication) when user is not empty.
func fakeRegistryAuth(t *testing.T, user, password string) (host string, asked func() []string) {
	t.Helper()
	var (
		mu    sync.Mutex
		paths []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, _ := r.BasicAuth(); user != "" && (u != user || p != password) {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/v2/" {
			return
		}
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		mu.Unlock()
		switch r.URL.Path {
		case "/v2/acme/web/manifests/v1", "/v2/acme/web/manifests/latest", "/v2/acme/web/manifests/" + string(testManifestDigest):
			w.Header().Set("Content-Type", testManifestType)
			w.Header().Set("Docker-Content-Digest", string(testManifestDigest))
			w.Header().Set("Content-Length", "321")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(paths)
	}
}

// closedAddr is a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestDistributionInspectResolvesOnTheRegistry(t *testing.T) {
	reg, asked := fakeRegistry(t)
	h := newHarness(t)
	c := h.client()
	for _, tc := range []struct {
		image, path string
	}{
		{reg + "/acme/web:v1", "/v2/acme/web/manifests/v1"},
		{reg + "/acme/web", "/v2/acme/web/manifests/latest"},
		{reg + "/acme/web@" + string(testManifestDigest), "/v2/acme/web/manifests/" + string(testManifestDigest)},
	} {
		t.Run(tc.image, func(t *testing.T) {
			res, err := c.DistributionInspect(t.Context(), tc.image, client.DistributionInspectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			d := res.Descriptor
			if d.Digest != testManifestDigest || d.MediaType != testManifestType || d.Size != 321 {
				t.Errorf("descriptor = %+v, want the registry's", d)
			}
			if !slices.Contains(asked(), "HEAD "+tc.path) {
				t.Errorf("registry was asked %v, want HEAD %s", asked(), tc.path)
			}
		})
	}
	// Platforms is empty, not left out: the CLI would copy platforms into
	// Placement.Platforms, which hive refuses.
	resp := h.raw("GET", "/v1.44/distribution/"+reg+"/acme/web:v1/json")
	var body map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || string(body["Platforms"]) != "[]" {
		t.Errorf("raw answer: %d %s (%v), want 200 with Platforms []", resp.StatusCode, body["Platforms"], err)
	}
}

func TestDistributionInspectErrors(t *testing.T) {
	reg, _ := fakeRegistry(t)
	h := newHarness(t)
	c := h.client()
	creds, err := authconfig.Encode(registry.AuthConfig{Username: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, image, auth string
		is                func(error) bool
		want              string
	}{
		{"unknown tag", reg + "/acme/web:v9", "", cerrdefs.IsNotFound, "not found on its registry"},
		{"unknown repository", reg + "/acme/db:v1", "", cerrdefs.IsNotFound, "acme/db:v1"},
		{"unreachable registry", closedAddr(t) + "/acme/web:v1", "", cerrdefs.IsUnavailable, "cannot resolve image"},
		{"bad reference", "acme/Web", "", cerrdefs.IsInvalidArgument, "invalid image reference"},
		{"image ID", strings.Repeat("a", 64), "", cerrdefs.IsInvalidArgument, "give a name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.DistributionInspect(t.Context(), tc.image, client.DistributionInspectOptions{EncodedRegistryAuth: tc.auth})
			if !tc.is(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one with %q", err, tc.want)
			}
		})
	}
	// A private registry: refused without the credential (the CLI warns
	// and goes on), answered with it.
	priv, _ := fakeRegistryAuth(t, "u", "p")
	if _, err := c.DistributionInspect(t.Context(), priv+"/acme/web:v1", client.DistributionInspectOptions{}); !cerrdefs.IsPermissionDenied(err) || !strings.Contains(err.Error(), "refused access") {
		t.Errorf("a private registry without credentials: %v, want a 403", err)
	}
	got, err := c.DistributionInspect(t.Context(), priv+"/acme/web:v1", client.DistributionInspectOptions{EncodedRegistryAuth: creds})
	if err != nil || got.Descriptor.Digest != testManifestDigest {
		t.Errorf("a private registry with credentials: %v %v, want the digest", got.Descriptor.Digest, err)
	}
	if resp := h.raw("GET", "/distribution/"+reg+"/acme/web:v1"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a path without /json: %d, want 404", resp.StatusCode)
	}
}

// The docker CLI asks /distribution before it creates a service: a
// known image is pinned to its digest with no platforms, an unknown one
// is a warning and the image as written.
func TestServiceCreateQueryingTheRegistry(t *testing.T) {
	reg, _ := fakeRegistry(t)
	h := newHarness(t)
	c := h.client()
	spec := simpleSpec("pinned", 1)
	spec.TaskTemplate.ContainerSpec.Image = reg + "/acme/web:v1"
	created, err := c.ServiceCreate(t.Context(), client.ServiceCreateOptions{Spec: spec, QueryRegistry: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(created.Warnings) != 0 {
		t.Errorf("warnings = %q, want none", created.Warnings)
	}
	svc, err := h.b.GetService(t.Context(), "pinned")
	if err != nil {
		t.Fatal(err)
	}
	if want := reg + "/acme/web:v1@" + string(testManifestDigest); svc.Spec.Task.Container.Image != want {
		t.Errorf("image = %q, want %q", svc.Spec.Task.Container.Image, want)
	}

	spec = simpleSpec("unpinned", 1)
	spec.TaskTemplate.ContainerSpec.Image = reg + "/acme/db:v1"
	created, err = c.ServiceCreate(t.Context(), client.ServiceCreateOptions{Spec: spec, QueryRegistry: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(created.Warnings) != 1 || !strings.Contains(created.Warnings[0], "could not be accessed on a registry") {
		t.Errorf("warnings = %q, want the CLI's digest warning", created.Warnings)
	}
	if svc, err := h.b.GetService(t.Context(), "unpinned"); err != nil || svc.Spec.Task.Container.Image != reg+"/acme/db:v1" {
		t.Errorf("unpinned service = %+v, %v; want the image as written", svc, err)
	}
}

// docker service create pins an image its registry knows and warns, and
// goes on, for one it does not know, as with dockerd.
func TestDockerServiceCreatePinsTheImage(t *testing.T) {
	reg, _ := fakeRegistry(t)
	h := newHarness(t)
	run := h.dockerCLI()
	if out := run("service", "create", "-d", "--name", "pinned", reg+"/acme/web:v1"); strings.Contains(out, "could not be accessed") {
		t.Errorf("docker service create of a known image warned:\n%s", out)
	}
	if svc, err := h.b.GetService(t.Context(), "pinned"); err != nil || svc.Spec.Task.Container.Image != reg+"/acme/web:v1@"+string(testManifestDigest) {
		t.Errorf("pinned service = %+v, %v; want the image with its digest", svc, err)
	}
	if out := run("service", "create", "-d", "--name", "unpinned", reg+"/acme/db:v1"); !strings.Contains(out, "could not be accessed on a registry") {
		t.Errorf("docker service create of an unknown image did not warn:\n%s", out)
	}
	if svc, err := h.b.GetService(t.Context(), "unpinned"); err != nil || svc.Spec.Task.Container.Image != reg+"/acme/db:v1" {
		t.Errorf("unpinned service = %+v, %v; want the image as written", svc, err)
	}
}
