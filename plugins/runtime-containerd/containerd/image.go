package containerd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/remotes"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/registry"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// normalizeRef resolves a Docker Hub style reference ("hive-test/web:v1",
// "nginx") to the full name containerd stores images under
// ("docker.io/hive-test/web:v1", "docker.io/library/nginx:latest").
func normalizeRef(ref string) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", fmt.Errorf("%q is not a valid image reference (want NAME[:TAG][@DIGEST]): %v: %w", ref, err, sdk.ErrInvalidArgument)
	}
	return reference.TagNameOnly(named).String(), nil
}

// EnsureImage makes ref available in the namespace and unpacked for the
// snapshotter, pulling it only when containerd does not have it. auth,
// when not nil, answers the challenge of the registry it applies to, for
// that pull only. An image that cannot be had (unknown to the registry,
// registry unreachable) is an error wrapping sdk.ErrNotFound whose text
// is "image not found: REF: REASON"; a registry refusing the pull for
// want of credentials, or refusing those given, is runtime.PullDenied's
// error (wrapping sdk.ErrNotFound too); containerd unreachable is
// sdk.ErrUnavailable. Concurrent calls for one image pull it once.
func (r *Runtime) EnsureImage(ctx context.Context, ref string, auth *runtime.RegistryAuth, progress func(runtime.PullProgress)) error {
	name, err := normalizeRef(ref)
	if err != nil {
		return fmt.Errorf("ensure image: %w", err)
	}
	eng, err := r.engine()
	if err != nil {
		return err
	}
	unlock := r.pulls.lock(name)
	defer unlock()

	img, err := eng.client.GetImage(eng.ctx(ctx), name)
	switch {
	case err == nil:
		return eng.unpack(ctx, img, ref)
	case !cerrdefs.IsNotFound(err):
		return wrapErr(err, "look up image %s", ref)
	}

	r.logger.Info("pulling image", "image", ref)
	pullCtx, cancel := context.WithTimeout(ctx, eng.PullTimeout)
	defer cancel()
	_, err = eng.client.Pull(eng.ctx(pullCtx), name,
		containerd.WithPullUnpack,
		containerd.WithPullSnapshotter(eng.Snapshotter),
		containerd.WithResolver(eng.resolver(auth)),
		containerd.WithImageHandler(progressHandler(progress)))
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("pull image %s: %w", ref, ctx.Err())
		case pullCtx.Err() != nil:
			return fmt.Errorf("pull image %s: gave up after the pull_timeout of %s; raise pull_timeout if the registry is slow: %w",
				ref, eng.PullTimeout, sdk.ErrUnavailable)
		case cerrdefs.IsUnavailable(err):
			// containerd itself, not the registry (whose errors are not
			// gRPC statuses).
			return wrapErr(err, "pull image %s", ref)
		case registry.Denied(err):
			return runtime.PullDenied(ref, auth, err)
		}
		return fmt.Errorf("image not found: %s: %w", ref, withKind(sdk.ErrNotFound, err))
	}
	if progress != nil {
		progress(runtime.PullProgress{Status: "Pull complete"})
	}
	r.logger.Info("pulled image", "image", ref)
	return nil
}

// unpack makes sure img is unpacked for the snapshotter.
func (e *engine) unpack(ctx context.Context, img containerd.Image, ref string) error {
	ok, err := img.IsUnpacked(e.ctx(ctx), e.Snapshotter)
	if err != nil {
		return wrapErr(err, "image %s", ref)
	}
	if ok {
		return nil
	}
	if err := img.Unpack(e.ctx(ctx), e.Snapshotter); err != nil {
		return wrapErr(err, "unpack image %s for snapshotter %s", ref, e.Snapshotter)
	}
	return nil
}

// resolver resolves references on Docker registries: HTTPS, or plain HTTP
// for loopback registries and those in insecure_registries; auth (nil:
// none) answers the challenge of the registry it is for.
func (e *engine) resolver(auth *runtime.RegistryAuth) remotes.Resolver {
	return registry.Resolver(e.Insecure, auth)
}

// progressHandler reports each blob the pull fetches.
func progressHandler(progress func(runtime.PullProgress)) images.Handler {
	return images.HandlerFunc(func(ctx context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
		if progress != nil && images.IsLayerType(desc.MediaType) {
			progress(runtime.PullProgress{Status: "Downloading", Layer: shortDigest(desc), Total: desc.Size})
		}
		return nil, nil
	})
}

func shortDigest(desc ocispec.Descriptor) string {
	d := desc.Digest.Encoded()
	if len(d) > 12 {
		d = d[:12]
	}
	return d
}

// imageExtras is what the plugin reads from an image's configuration
// beyond what oci.WithImageConfig applies: Docker's stop signal and health
// check, which OCI image configs do not carry.
type imageExtras struct {
	StopSignal  string
	Healthcheck *dockerHealthcheck
}

// dockerHealthcheck is a health check as Docker stores it in an image
// configuration (durations in nanoseconds).
type dockerHealthcheck struct {
	Test        []string      `json:"Test"`
	Interval    time.Duration `json:"Interval"`
	Timeout     time.Duration `json:"Timeout"`
	StartPeriod time.Duration `json:"StartPeriod"`
	Retries     int           `json:"Retries"`
}

// extras reads img's configuration blob.
func (e *engine) extras(ctx context.Context, img containerd.Image) (imageExtras, error) {
	var out imageExtras
	desc, err := img.Config(e.ctx(ctx))
	if err != nil {
		return out, wrapErr(err, "configuration of image %s", img.Name())
	}
	ra, err := img.ContentStore().ReaderAt(e.ctx(ctx), desc)
	if err != nil {
		return out, wrapErr(err, "configuration of image %s", img.Name())
	}
	defer ra.Close()
	b, err := io.ReadAll(io.LimitReader(content.NewReader(ra), 16<<20))
	if err != nil {
		return out, wrapErr(err, "read the configuration of image %s", img.Name())
	}
	var cfg struct {
		Config struct {
			StopSignal  string             `json:"StopSignal"`
			Healthcheck *dockerHealthcheck `json:"Healthcheck"`
		} `json:"config"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return out, fmt.Errorf("configuration of image %s is not JSON: %w", img.Name(), err)
	}
	out.StopSignal = strings.TrimSpace(cfg.Config.StopSignal)
	out.Healthcheck = cfg.Config.Healthcheck
	return out, nil
}
