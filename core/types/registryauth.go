package types

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// LabelRegistryAuth marks the secret that holds a service's registry
// credential (ContainerSpec.PullSecret); its value is the service's ID.
// Such a secret belongs to its service: it is made, changed and removed
// with it, and hidden from secret listings.
const LabelRegistryAuth = "com.hive.registry-auth.service"

// RegistryAuth is a credential for the registry a service's image is
// pulled from, as `docker login` stores it and Docker's X-Registry-Auth
// carries it. Every way of printing it redacts the password and the token;
// its JSON form carries them, for the request that hands it to the
// managers (ServiceSpec.RegistryAuth), which seal it at once.
type RegistryAuth struct {
	// ServerAddress is the registry the credential is for (a host[:port],
	// or https://index.docker.io/v1/ for Docker Hub); empty means the
	// image's registry.
	ServerAddress string `json:"server_address,omitempty"`
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	// IdentityToken is a registry's refresh token, used instead of a
	// password when set.
	IdentityToken string `json:"identity_token,omitempty"`
}

// Validate checks that the credential names a user with a password, or
// carries a token.
func (a *RegistryAuth) Validate() error {
	switch {
	case a.IdentityToken != "":
		return nil
	case a.Username == "":
		return fmt.Errorf("registry credential for %s: no username: log in to the registry (docker login %s) and try again", a.server(), a.loginArg())
	case a.Password == "":
		return fmt.Errorf("registry credential for %s: user %s has no password: log in to the registry again (docker login %s)", a.server(), a.Username, a.loginArg())
	}
	return nil
}

func (a *RegistryAuth) server() string {
	if a.ServerAddress == "" {
		return "the image's registry"
	}
	return a.ServerAddress
}

func (a *RegistryAuth) loginArg() string {
	if a.ServerAddress == "" || strings.Contains(a.ServerAddress, "index.docker.io") {
		return ""
	}
	return a.ServerAddress
}

// String names the user and the server only.
func (a RegistryAuth) String() string {
	user := a.Username
	if user == "" && a.IdentityToken != "" {
		user = "(token)"
	}
	return fmt.Sprintf("{%s@%s [REDACTED]}", user, a.ServerAddress)
}

// GoString redacts too.
func (a RegistryAuth) GoString() string { return a.String() }

// Format redacts under every verb.
func (a RegistryAuth) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, a.String()) }

// LogValue redacts.
func (a RegistryAuth) LogValue() slog.Value { return slog.StringValue(a.String()) }

// SecretValue is the credential as its pull secret holds it.
func (a RegistryAuth) SecretValue() (SecretValue, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return SecretValue{}, fmt.Errorf("encode registry credential: %w", err)
	}
	return NewSecretValue(b), nil
}

// RegistryAuthOf decodes the value of a pull secret.
func RegistryAuthOf(v SecretValue) (*RegistryAuth, error) {
	var a RegistryAuth
	if err := json.Unmarshal(v.Reveal(), &a); err != nil {
		// The error of encoding/json may quote the input: leave it out.
		return nil, fmt.Errorf("the pull secret does not hold a registry credential (%d bytes of something else)", v.Len())
	}
	return &a, nil
}
