package runtime_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

const (
	testPassword = "pa55-do-not-print"
	testToken    = "refresh-do-not-print"
)

// TestRegistryAuthRedacts: every way of printing or logging a credential
// shows its server and username, never its password or token.
func TestRegistryAuthRedacts(t *testing.T) {
	a := runtime.RegistryAuth{ServerAddress: "registry.example.com", Username: "alice", Password: testPassword, IdentityToken: testToken}
	var logged bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logged, nil))
	logger.Info("pull", "auth", a, "auth_ptr", &a)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("pull", "auth", a)
	forms := map[string]string{
		"String":  a.String(),
		"%v":      fmt.Sprintf("%v", a),
		"%+v":     fmt.Sprintf("%+v", a),
		"%#v":     fmt.Sprintf("%#v", a),
		"%s":      fmt.Sprintf("%s", a),
		"%q":      fmt.Sprintf("%q", a),
		"%v ptr":  fmt.Sprintf("%v", &a),
		"%+v ptr": fmt.Sprintf("%+v", &a),
		"in a struct": fmt.Sprintf("%+v", struct {
			Auth *runtime.RegistryAuth
			Val  runtime.RegistryAuth
		}{&a, a}),
		"slog": logged.String(),
	}
	for name, s := range forms {
		if strings.Contains(s, testPassword) || strings.Contains(s, testToken) {
			t.Errorf("%s shows a secret: %s", name, s)
		}
		if name != "in a struct" && (!strings.Contains(s, "alice") || !strings.Contains(s, "registry.example.com")) {
			t.Errorf("%s = %s; want the username and the server", name, s)
		}
	}
	if !strings.Contains(logged.String(), `"password":"[REDACTED]"`) {
		t.Errorf("slog JSON = %s; want password [REDACTED]", logged.String())
	}
}

func TestRegistryAuthAppliesTo(t *testing.T) {
	for _, tc := range []struct {
		server, host string
		want         bool
	}{
		{"", "anything.example", true},
		{"registry.example.com:5000", "registry.example.com:5000", true},
		{"Registry.Example.com:5000", "registry.example.com:5000", true},
		{"https://registry.example.com:5000/v2/", "registry.example.com:5000", true},
		{"registry.example.com", "registry.example.com:5000", false},
		{"registry.example.com", "other.example.com", false},
		{"https://index.docker.io/v1/", "docker.io", true},
		{"https://index.docker.io/v1/", "registry-1.docker.io", true},
		{"index.docker.io", "docker.io", true},
		{"docker.io", "registry-1.docker.io", true},
		{"registry-1.docker.io", "index.docker.io", true},
		{"docker.io", "quay.io", false},
	} {
		a := &runtime.RegistryAuth{ServerAddress: tc.server, Username: "u"}
		if got := a.AppliesTo(tc.host); got != tc.want {
			t.Errorf("RegistryAuth{ServerAddress: %q}.AppliesTo(%q) = %v, want %v", tc.server, tc.host, got, tc.want)
		}
	}
	var none *runtime.RegistryAuth
	if none.AppliesTo("docker.io") {
		t.Error("a nil credential applies to docker.io")
	}
}

// TestPullDenied: the error says whether credentials were missing, for
// another registry, or refused; it is not found, keeps the "image not
// found: REF: REASON" form and holds no secret.
func TestPullDenied(t *testing.T) {
	reason := errors.New("401 Unauthorized")
	for _, tc := range []struct {
		name string
		ref  string
		auth *runtime.RegistryAuth
		want string
	}{
		{"none", "registry.example.com/web:1", nil,
			"image not found: registry.example.com/web:1: the registry registry.example.com requires credentials (pull access denied): 401 Unauthorized; log in to registry.example.com and pass --with-registry-auth"},
		{"docker hub", "acme/web:1", nil,
			"image not found: acme/web:1: the registry docker.io requires credentials (pull access denied)"},
		{"another registry's", "registry.example.com/web:1", &runtime.RegistryAuth{ServerAddress: "quay.io", Username: "alice", Password: testPassword},
			"the credential given is for quay.io, not registry.example.com"},
		{"refused password", "registry.example.com/web:1", &runtime.RegistryAuth{Username: "alice", Password: testPassword},
			"image not found: registry.example.com/web:1: the registry registry.example.com refused the credentials given (username alice): 401 Unauthorized; check them (docker login registry.example.com)"},
		{"refused token", "registry.example.com/web:1", &runtime.RegistryAuth{IdentityToken: testToken},
			"refused the credentials given (an identity token)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := runtime.PullDenied(tc.ref, tc.auth, reason)
			if !errors.Is(err, sdk.ErrNotFound) {
				t.Errorf("PullDenied = %v, want it to wrap sdk.ErrNotFound", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("PullDenied = %q\nwant it to hold %q", err, tc.want)
			}
			if strings.Contains(err.Error(), testPassword) || strings.Contains(err.Error(), testToken) {
				t.Errorf("PullDenied shows a secret: %q", err)
			}
		})
	}
}

// TestHarnessCarriesTheCredential: the credential crosses the wire, each
// field intact, and a nil one stays nil; the Fake records it.
func TestHarnessCarriesTheCredential(t *testing.T) {
	f, rt := newHarness(t)
	ctx := ctxFor(t)
	auth := &runtime.RegistryAuth{ServerAddress: "https://index.docker.io/v1/", Username: "alice", Password: testPassword, IdentityToken: testToken}
	if err := rt.EnsureImage(ctx, testImage, auth, nil); err != nil {
		t.Fatalf("EnsureImage = %v", err)
	}
	if got := f.LastPullAuth(testImage); got == nil || *got != *auth {
		t.Errorf("the plugin got the credential %v, want %v", got, auth)
	}
	if err := rt.EnsureImage(ctx, testImage, nil, nil); err != nil {
		t.Fatalf("EnsureImage without a credential = %v", err)
	}
	if got := f.LastPullAuth(testImage); got != nil {
		t.Errorf("an anonymous EnsureImage reached the plugin with the credential %v", got)
	}
}

// TestFakePrivateImage: an image added with RequireAuth pulls only with
// its credential, and the refusal comes back over the wire as PullDenied's
// not-found error.
func TestFakePrivateImage(t *testing.T) {
	const ref = "registry.example.com/private:1"
	want := runtime.RegistryAuth{ServerAddress: "registry.example.com", Username: "alice", Password: testPassword}
	f, rt := newHarness(t)
	f.RequireAuth(ref, want)
	ctx := ctxFor(t)
	for _, tc := range []struct {
		name string
		auth *runtime.RegistryAuth
		want string
	}{
		{"anonymous", nil, "requires credentials"},
		{"wrong password", &runtime.RegistryAuth{ServerAddress: "registry.example.com", Username: "alice", Password: "nope"}, "refused the credentials given (username alice)"},
		{"another registry's", &runtime.RegistryAuth{ServerAddress: "quay.io", Username: "alice", Password: testPassword}, "the credential given is for quay.io"},
	} {
		err := rt.EnsureImage(ctx, ref, tc.auth, nil)
		if !errors.Is(err, sdk.ErrNotFound) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: EnsureImage = %v; want not found saying %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), testPassword) {
			t.Errorf("%s: the error shows the password", tc.name)
		}
	}
	if err := rt.EnsureImage(ctx, ref, &want, nil); err != nil {
		t.Fatalf("EnsureImage with the credential = %v", err)
	}
	if err := rt.EnsureImage(ctx, ref, nil, nil); err != nil {
		t.Errorf("EnsureImage of the image pulled already, anonymously = %v; want no pull, no error", err)
	}
	if got := f.LastPullAuth("never/asked:1"); got != nil {
		t.Errorf("LastPullAuth of an image never asked for = %v, want nil", got)
	}
}
