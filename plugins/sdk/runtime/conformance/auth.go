package conformance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// A registry that needs credentials, for the check that a runtime pulls
// with the credential hive gives it (Options.PrivateImage): StartRegistry
// with RequireBasicAuth, PushWithDockerLogin, or PushPrivate for both. No
// helper logs a password or puts one in an error.

// RegistryOption tunes StartRegistry.
type RegistryOption func(*registryConfig)

type registryConfig struct {
	basicAuth *runtime.RegistryAuth
}

// RequireBasicAuth makes the registry serve only auth's Username with its
// Password (an htpasswd file, as docker-registry's auth.htpasswd reads
// it): a pull or a push without them is refused with 401.
func RequireBasicAuth(auth runtime.RegistryAuth) RegistryOption {
	return func(c *registryConfig) { c.basicAuth = &auth }
}

// htpasswdConfig writes auth's htpasswd file (a bcrypt hash, the only
// kind docker-registry accepts) in dir and returns the registry
// configuration section that reads it.
func htpasswdConfig(t *testing.T, dir string, auth runtime.RegistryAuth) string {
	t.Helper()
	if auth.Username == "" || auth.Password == "" || strings.ContainsAny(auth.Username, ":\n") {
		t.Fatalf("RequireBasicAuth(%v): needs a username (without ':') and a password", auth)
	}
	// The lowest cost: the registry checks the hash at every request.
	hash, err := bcrypt.GenerateFromPassword([]byte(auth.Password), bcrypt.MinCost)
	if err != nil {
		t.Fatalf("RequireBasicAuth(%v): hash the password: %v", auth, err)
	}
	path := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(path, []byte(auth.Username+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("auth:\n  htpasswd:\n    realm: hive-conformance\n    path: %s\n", path)
}

// PushWithDockerLogin is PushWithDocker for a registry that needs
// credentials: it logs the docker CLI in to registry with auth (a
// temporary client configuration, so the user's own is left alone) and
// pushes with that login.
func PushWithDockerLogin(t *testing.T, registry, image string, auth runtime.RegistryAuth) string {
	t.Helper()
	config := t.TempDir()
	login := exec.Command("docker", "--config", config, "login", "--username", auth.Username, "--password-stdin", registry)
	login.Stdin = strings.NewReader(auth.Password)
	if out, err := login.CombinedOutput(); err != nil {
		t.Fatalf("docker login %s as %s: %v: %s", registry, auth.Username, err, redact(string(out), auth))
	}
	return pushWithDocker(t, []string{"--config", config}, registry+"/hive-conformance/private", image)
}

// PushPrivate starts a registry that needs a credential of its own
// (StartRegistry with RequireBasicAuth), pushes the local Docker image to
// it (PushWithDockerLogin) and returns the reference and the credential:
// what Options.PrivateImage returns.
func PushPrivate(t *testing.T, image string) (string, runtime.RegistryAuth) {
	t.Helper()
	auth := runtime.RegistryAuth{Username: "hive-conformance", Password: "pw-" + randomID() + randomID()}
	registry := StartRegistry(t, RequireBasicAuth(auth))
	auth.ServerAddress = registry
	return PushWithDockerLogin(t, registry, image, auth), auth
}

// redact is s with the secrets of auths replaced by [REDACTED].
func redact(s string, auths ...runtime.RegistryAuth) string {
	for _, a := range auths {
		for _, secret := range []string{a.Password, a.IdentityToken} {
			if secret != "" {
				s = strings.ReplaceAll(s, secret, "[REDACTED]")
			}
		}
	}
	return s
}

// testPrivatePull: with Options.PrivateImage, a pull from a registry that
// needs credentials fails without them and with a wrong password, with an
// error wrapping sdk.ErrNotFound that names the image and says that
// credentials are the matter, and works with them; no error shows a
// password.
func (s *suite) testPrivatePull(t *testing.T) {
	if s.opts.PrivateImage == nil {
		t.Skip("Options.PrivateImage is not set: no registry that needs credentials")
	}
	ref, auth := s.opts.PrivateImage(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*s.opts.Timeout)
	defer cancel()
	wrong := auth
	wrong.Password, wrong.IdentityToken = "wrong-"+randomID(), ""
	for _, c := range []struct {
		how  string
		auth *runtime.RegistryAuth
	}{
		{"without a credential", nil},
		{"with a wrong password", &wrong},
	} {
		err := s.rt.EnsureImage(ctx, ref, c.auth, nil)
		if err == nil {
			t.Fatalf("EnsureImage(%s) %s succeeded; the registry needs credentials", ref, c.how)
		}
		msg := redact(err.Error(), auth, wrong)
		t.Logf("EnsureImage %s: %s", c.how, msg)
		if msg != err.Error() {
			t.Errorf("EnsureImage(%s) %s: the error shows the password: %s", ref, c.how, msg)
		}
		if !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("EnsureImage(%s) %s = %s; want an error wrapping sdk.ErrNotFound", ref, c.how, msg)
		}
		if !strings.Contains(msg, ref) || !strings.Contains(strings.ToLower(msg), "credential") {
			t.Errorf("EnsureImage(%s) %s = %q; the message must name the image and say that credentials are missing or refused (runtime.PullDenied)", ref, c.how, msg)
		}
	}
	s.pullAndRun(t, ctx, ref, &auth, "private")
}
