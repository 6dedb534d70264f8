// Package registry resolves image references on Docker registries (the
// distribution API) with containerd's resolver: what a runtime pulls from
// and what `hive stack deploy --resolve-image` pins services to.
package registry

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/log"
	"github.com/distribution/reference"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sirupsen/logrus"
)

// Resolver resolves references over HTTPS, or over plain HTTP for
// loopback registries and those in insecure (host[:port]), as the Docker
// Engine treats 127.0.0.0/8 and its insecure-registries; it answers a
// registry's token challenge anonymously.
func Resolver(insecure []string) remotes.Resolver {
	insecure = slices.Clone(insecure)
	return docker.NewResolver(docker.ResolverOptions{
		Hosts: docker.ConfigureDefaultRegistries(
			docker.WithPlainHTTP(func(host string) (bool, error) {
				if ok, _ := docker.MatchLocalhost(host); ok {
					return true, nil
				}
				return slices.Contains(insecure, host), nil
			}),
			// Token (and basic) challenges answered anonymously: Docker
			// Hub wants a token even for a public image.
			docker.WithAuthorizer(docker.NewDockerAuthorizer()),
		),
	})
}

// Pin returns image with the digest its tag points at on its registry
// (as docker service create does: "nginx:1.27@sha256:…"), so that every
// node runs the same image. An image that names a digest already is
// returned as it is. Pin asks anonymously. A registry's error is returned
// as the resolver gives it (it names the registry, not the image).
func Pin(ctx context.Context, image string, insecure []string) (string, error) {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return "", fmt.Errorf("image %s: %w", image, err)
	}
	if _, ok := named.(reference.Canonical); ok {
		return image, nil
	}
	tagged := reference.TagNameOnly(named)
	desc, err := Resolve(ctx, tagged.String(), insecure)
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
// reference, as docker.io/library/nginx:latest), asked anonymously. The
// resolver's log of each failed request is kept quiet: its error says it
// all.
func Resolve(ctx context.Context, ref string, insecure []string) (ocispec.Descriptor, error) {
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	ctx = log.WithLogger(ctx, logrus.NewEntry(quiet))
	_, desc, err := Resolver(insecure).Resolve(ctx, ref)
	return desc, err
}
