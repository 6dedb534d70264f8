// Package registry resolves image references on Docker registries (the
// distribution API) with containerd's resolver: what a runtime pulls from
// and what `hive stack deploy --resolve-image` pins services to.
package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	remoteerrors "github.com/containerd/containerd/v2/core/remotes/errors"
	"github.com/containerd/log"
	"github.com/distribution/reference"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sirupsen/logrus"

	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// Resolver resolves references over HTTPS, or over plain HTTP for
// loopback registries and those in insecure (host[:port]), as the Docker
// Engine treats 127.0.0.0/8 and its insecure-registries. It answers a
// registry's token or basic challenge with auth when auth applies to that
// registry (runtime.RegistryAuth.AppliesTo: Docker Hub's names are one),
// anonymously otherwise and when auth is nil. The resolver keeps auth for
// its own life only: make one per pull.
func Resolver(insecure []string, auth *runtime.RegistryAuth) remotes.Resolver {
	insecure = slices.Clone(insecure)
	// Token (and basic) challenges answered anonymously when there is no
	// credential: Docker Hub wants a token even for a public image.
	var authOpts []docker.AuthorizerOpt
	if auth != nil {
		cred := *auth
		authOpts = append(authOpts, docker.WithAuthCreds(func(host string) (string, string, error) {
			switch {
			case !cred.AppliesTo(host):
				return "", "", nil
			case cred.IdentityToken != "":
				// containerd takes an empty user name with a secret as
				// a refresh token.
				return "", cred.IdentityToken, nil
			}
			return cred.Username, cred.Password, nil
		}))
	}
	return docker.NewResolver(docker.ResolverOptions{
		Hosts: docker.ConfigureDefaultRegistries(
			docker.WithPlainHTTP(func(host string) (bool, error) {
				if ok, _ := docker.MatchLocalhost(host); ok {
					return true, nil
				}
				return slices.Contains(insecure, host), nil
			}),
			docker.WithAuthorizer(docker.NewDockerAuthorizer(authOpts...)),
		),
	})
}

// Denied reports whether err, from a resolver of this package or a fetch
// through it, is a registry refusing access for want of credentials or of
// valid ones: a challenge the resolver could not answer ("no basic auth
// credentials", a refused token) or a 401 or 403 answer.
func Denied(err error) bool {
	if errors.Is(err, docker.ErrInvalidAuthorization) {
		return true
	}
	var status remoteerrors.ErrUnexpectedStatus
	return errors.As(err, &status) && (status.StatusCode == http.StatusUnauthorized || status.StatusCode == http.StatusForbidden)
}

// Pin returns image with the digest its tag points at on its registry
// (as docker service create does: "nginx:1.27@sha256:…"), so that every
// node runs the same image. An image that names a digest already is
// returned as it is. Pin asks with auth, or anonymously when it is nil.
// A registry's error is returned as the resolver gives it (it names the
// registry, not the image).
func Pin(ctx context.Context, image string, insecure []string, auth *runtime.RegistryAuth) (string, error) {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return "", fmt.Errorf("image %s: %w", image, err)
	}
	if _, ok := named.(reference.Canonical); ok {
		return image, nil
	}
	tagged := reference.TagNameOnly(named)
	desc, err := Resolve(ctx, tagged.String(), insecure, auth)
	if err != nil {
		return "", err
	}
	pinned, err := reference.WithDigest(tagged, desc.Digest)
	if err != nil {
		return "", fmt.Errorf("image %s: digest %s: %w", image, desc.Digest, err)
	}
	return reference.FamiliarString(pinned), nil
}

// Resolve returns the descriptor the registry holds for ref (a full
// reference, as docker.io/library/nginx:latest), asked with auth (nil:
// anonymously). The resolver's log of each failed request is kept quiet:
// its error says it all.
func Resolve(ctx context.Context, ref string, insecure []string, auth *runtime.RegistryAuth) (ocispec.Descriptor, error) {
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	ctx = log.WithLogger(ctx, logrus.NewEntry(quiet))
	_, desc, err := Resolver(insecure, auth).Resolve(ctx, ref)
	return desc, err
}
