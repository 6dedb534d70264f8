package runtime

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/distribution/reference"

	"github.com/hiveorch/hive/plugins/sdk"
)

// RegistryAuth is the credential for pulling an image from a registry
// that requires one. Its String, GoString, Format and LogValue forms redact
// the password and token (print the username and server only).
//
// A runtime uses it for the one pull it is given to, sends it only to the
// registry it is for (AppliesTo), and never stores or logs it.
type RegistryAuth struct {
	// ServerAddress is the registry the credential is for, as Docker writes
	// it (a host[:port], or https://index.docker.io/v1/ for Docker Hub);
	// empty means the image's own registry.
	ServerAddress string
	Username      string
	Password      string
	// IdentityToken is a registry's refresh token, used instead of a
	// password when set.
	IdentityToken string
}

const redacted = "[REDACTED]"

// String prints the server and the username; the password and the
// token, when set, print as [REDACTED].
func (a RegistryAuth) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "{server %q, username %q", a.ServerAddress, a.Username)
	if a.Password != "" {
		b.WriteString(", password " + redacted)
	}
	if a.IdentityToken != "" {
		b.WriteString(", identity token " + redacted)
	}
	b.WriteString("}")
	return b.String()
}

// GoString redacts as String does.
func (a RegistryAuth) GoString() string { return "runtime.RegistryAuth" + a.String() }

// Format redacts under every verb (%v, %+v, %#v, %s, %q...).
func (a RegistryAuth) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, a.GoString())
		return
	}
	_, _ = io.WriteString(f, a.String())
}

// LogValue logs the server and the username; the password and the token,
// when set, log as [REDACTED].
func (a RegistryAuth) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("server_address", a.ServerAddress), slog.String("username", a.Username)}
	if a.Password != "" {
		attrs = append(attrs, slog.String("password", redacted))
	}
	if a.IdentityToken != "" {
		attrs = append(attrs, slog.String("identity_token", redacted))
	}
	return slog.GroupValue(attrs...)
}

// AppliesTo reports whether the credential is for the registry host (as
// an image reference names it: "registry.example.com:5000", "docker.io"):
// its ServerAddress is empty or names host. Docker Hub's names
// (https://index.docker.io/v1/, index.docker.io, docker.io,
// registry-1.docker.io) are one registry. A nil credential applies to
// none.
func (a *RegistryAuth) AppliesTo(host string) bool {
	if a == nil {
		return false
	}
	return a.ServerAddress == "" || registryHost(a.ServerAddress) == registryHost(host)
}

// dockerHub is the name registryHost gives Docker Hub.
const dockerHub = "docker.io"

// registryHost is the host[:port] a server address names, lowercased,
// without a scheme or a path, with each of Docker Hub's names as
// "docker.io".
func registryHost(addr string) string {
	h := strings.ToLower(strings.TrimSpace(addr))
	if i := strings.Index(h, "://"); i >= 0 {
		h = h[i+3:]
	}
	if i := strings.IndexByte(h, '/'); i >= 0 {
		h = h[:i]
	}
	switch h {
	case "index.docker.io", "registry-1.docker.io", dockerHub:
		return dockerHub
	}
	return h
}

// PullDenied is the error for a pull of ref the registry refused, for
// want of a credential (auth nil, or a credential for another registry)
// or because it refused the one given; reason is the registry's or the
// engine's answer. It wraps sdk.ErrNotFound and reads "image not found:
// REF: the registry HOST requires credentials (pull access denied):
// REASON; ..." or "image not found: REF: the registry HOST refused the
// credentials given (username USER): REASON; ...", each ending with what
// to do. It names the username, never the password or the token.
func PullDenied(ref string, auth *RegistryAuth, reason error) error {
	host := ImageRegistry(ref)
	var msg string
	switch {
	case auth == nil:
		msg = fmt.Sprintf("image not found: %s: the registry %s requires credentials (pull access denied): %v; "+
			"log in to %s and pass --with-registry-auth so that the node can pull it",
			ref, host, reason, host)
	case !auth.AppliesTo(host):
		msg = fmt.Sprintf("image not found: %s: the registry %s requires credentials (pull access denied): %v; "+
			"the credential given is for %s, not %s: log in to %s and pass --with-registry-auth",
			ref, host, reason, auth.ServerAddress, host, host)
	default:
		who := "username " + auth.Username
		if auth.IdentityToken != "" {
			who = "an identity token"
		}
		msg = fmt.Sprintf("image not found: %s: the registry %s refused the credentials given (%s): %v; "+
			"check them (docker login %s) and pass --with-registry-auth again",
			ref, host, who, reason, host)
	}
	return &pullDeniedError{msg: msg}
}

// pullDeniedError is PullDenied's error: its text, wrapping
// sdk.ErrNotFound.
type pullDeniedError struct{ msg string }

func (e *pullDeniedError) Error() string { return e.msg }
func (e *pullDeniedError) Unwrap() error { return sdk.ErrNotFound }

// ImageRegistry is the registry host an image reference pulls from:
// "docker.io" for Docker Hub ("nginx", "acme/web:1"), the reference's own
// host otherwise ("registry.example.com:5000/web:1"). An invalid reference
// gives its text before the first "/".
func ImageRegistry(ref string) string {
	if named, err := reference.ParseNormalizedNamed(ref); err == nil {
		return reference.Domain(named)
	}
	host, _, _ := strings.Cut(ref, "/")
	return host
}
