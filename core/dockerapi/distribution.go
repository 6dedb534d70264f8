package dockerapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
	hiveregistry "github.com/hiveorch/hive/plugins/sdk/registry"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// resolveTimeout bounds the asking of a registry: the CLI waits for the
// answer before it creates a service, and goes on without a digest when
// the registry fails.
const resolveTimeout = 15 * time.Second

// distributionRoutes registers GET /distribution/{name}/json. The name
// may hold slashes (registry.example:5000/team/web:v1), so the pattern
// takes the rest of the path and the handler strips "/json".
func (s *Server) distributionRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /distribution/{name...}", s.inspectDistribution)
}

// inspectDistribution answers GET /distribution/{name}/json, which the
// docker CLI asks before it creates or updates a service, to pin the
// image to its digest: the image's descriptor on its registry, asked
// anonymously. Platforms is left empty on purpose: the CLI copies them
// into the service's Placement.Platforms, which hive refuses.
//
// Any error makes the CLI warn that the image "could not be accessed on
// a registry to record its digest" and go on with the image as written,
// as with dockerd: an image the registry does not know is a 404, a
// registry that cannot be reached or fails a 503, a bad reference a 400.
func (s *Server) inspectDistribution(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutSuffix(r.PathValue("name"), "/json")
	if !ok {
		writeError(w, errdefs.Newf(errdefs.ErrNotFound, "page not found: hive's Docker API does not serve %s %s (docs/docker-api.md lists what it serves)", r.Method, r.URL.Path))
		return
	}
	auth, err := registryAuthOf(r)
	if err != nil {
		writeError(w, err)
		return
	}
	desc, err := s.resolveImage(r.Context(), name, auth)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, registry.DistributionInspect{
		Descriptor: ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size},
		Platforms:  []ocispec.Platform{},
	})
}

// resolveImage asks the image's registry, with auth or anonymously, for the
// descriptor of its tag (latest when it names none) or its digest.
func (s *Server) resolveImage(ctx context.Context, image string, auth *types.RegistryAuth) (ocispec.Descriptor, error) {
	ref, err := reference.ParseAnyReference(image)
	if err != nil {
		return ocispec.Descriptor{}, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid image reference %q: %v", image, err)
	}
	named, ok := ref.(reference.Named)
	if !ok {
		return ocispec.Descriptor{}, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid image reference %q: an image ID has no manifest on a registry: give a name", image)
	}
	if _, digested := named.(reference.Canonical); !digested {
		named = reference.TagNameOnly(named)
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	var ra *runtime.RegistryAuth
	if auth != nil {
		c := runtime.RegistryAuth(*auth)
		ra = &c
	}
	desc, err := hiveregistry.Resolve(ctx, named.String(), nil, ra)
	switch {
	case err == nil:
		return desc, nil
	case hiveregistry.Denied(err):
		return desc, errdefs.Newf(errdefs.ErrPermissionDenied, "image %s: its registry refused access: %v", reference.FamiliarString(named), err)
	case cerrdefs.IsNotFound(err):
		return desc, errdefs.Newf(errdefs.ErrNotFound, "image %s not found on its registry: %v", reference.FamiliarString(named), err)
	case errors.Is(err, context.Canceled):
		return desc, err
	}
	s.logger.Debug("resolve image", "image", reference.FamiliarString(named), "err", err)
	return desc, errdefs.Newf(errdefs.ErrUnavailable, "cannot resolve image %s on its registry: %v", reference.FamiliarString(named), err)
}
