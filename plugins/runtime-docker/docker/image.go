package docker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// EnsureImage makes ref available locally, pulling it only when the engine
// does not have it. auth, when it applies to the image's registry, goes to
// the engine with that pull (the X-Registry-Auth header) and nowhere else.
// An image that cannot be had (unknown to the registry, registry
// unreachable) is an error wrapping sdk.ErrNotFound whose text is "image
// not found: REF: REASON"; a registry refusing the pull for want of
// credentials, or refusing those given, is runtime.PullDenied's error
// (wrapping sdk.ErrNotFound too); an engine that cannot be reached is
// sdk.ErrUnavailable.
func (r *Runtime) EnsureImage(ctx context.Context, ref string, auth *runtime.RegistryAuth, progress func(runtime.PullProgress)) error {
	if _, err := reference.ParseNormalizedNamed(ref); err != nil {
		return fmt.Errorf("ensure image: %q is not a valid image reference (want NAME[:TAG][@DIGEST]): %v: %w", ref, err, sdk.ErrInvalidArgument)
	}
	eng, err := r.engine()
	if err != nil {
		return err
	}
	present, err := imagePresent(ctx, eng.cli, ref)
	if err != nil || present {
		return err
	}

	r.logger.Info("pulling image", "image", ref)
	pullCtx, cancel := context.WithTimeout(ctx, eng.pullTimeout)
	defer cancel()
	if err := pull(pullCtx, eng.cli, ref, auth, progress); err != nil {
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("pull image %s: %w", ref, ctx.Err())
		case pullCtx.Err() != nil:
			return fmt.Errorf("pull image %s: gave up after the pull_timeout of %s; raise pull_timeout if the registry is slow: %w",
				ref, eng.pullTimeout, sdk.ErrUnavailable)
		}
		return err
	}

	present, err = imagePresent(ctx, eng.cli, ref)
	if err != nil {
		return err
	}
	if !present {
		return fmt.Errorf("image not found: %s: the pull finished but the engine does not have the image: %w", ref, sdk.ErrNotFound)
	}
	r.logger.Info("pulled image", "image", ref)
	return nil
}

// imagePresent reports whether the engine has ref locally.
func imagePresent(ctx context.Context, cli *client.Client, ref string) (bool, error) {
	_, err := cli.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	}
	return false, wrapErr(err, "inspect image %s", ref)
}

// pull pulls ref with auth when it applies to ref's registry, reporting
// each progress message. An error the registry or the engine reports about
// the image wraps sdk.ErrNotFound.
func pull(ctx context.Context, cli *client.Client, ref string, auth *runtime.RegistryAuth, progress func(runtime.PullProgress)) error {
	opts := client.ImagePullOptions{}
	if auth.AppliesTo(runtime.ImageRegistry(ref)) {
		encoded, err := encodeAuth(auth)
		if err != nil {
			return fmt.Errorf("pull image %s: %w", ref, err)
		}
		opts.RegistryAuth = encoded
	}
	resp, err := cli.ImagePull(ctx, ref, opts)
	if err != nil {
		return pullErr(ref, auth, err)
	}
	defer resp.Close()
	for msg, err := range resp.JSONMessages(ctx) {
		if err != nil {
			// The stream broke: the engine went away mid-pull, or ctx ended.
			return streamErr(err, "pull image %s: read progress", ref)
		}
		if msg.Error != nil {
			return imageNotFound(ref, auth, msg.Error)
		}
		if progress != nil {
			progress(pullProgress(msg))
		}
	}
	return nil
}

// pullErr classifies an error from starting a pull: an engine that cannot
// be reached is sdk.ErrUnavailable, any answer from the engine refusing
// the pull means the image cannot be had.
func pullErr(ref string, auth *runtime.RegistryAuth, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("pull image %s: %w", ref, err)
	}
	if errors.Is(kindOf(err), sdk.ErrUnavailable) {
		return wrapErr(err, "pull image %s", ref)
	}
	return imageNotFound(ref, auth, err)
}

// imageNotFound is the error for an image that cannot be had; the agent
// shows it to the user as "rejected: image not found: REF: REASON". A
// registry's refusal for want of credentials, or of the ones given, is
// runtime.PullDenied's error instead.
func imageNotFound(ref string, auth *runtime.RegistryAuth, reason error) error {
	if accessDenied(reason) {
		return runtime.PullDenied(ref, auth, errors.New(engineMessage(reason)))
	}
	return fmt.Errorf("image not found: %s: %w", ref, &kindError{kind: sdk.ErrNotFound, err: reason})
}

// deniedMessages are what the engine says when a registry refuses a pull
// for want of credentials or of valid ones (the engine answers 500 or 404
// with these texts, not 401 or 403): "no basic auth credentials",
// "unauthorized: authentication required", Docker Hub's "pull access
// denied for NAME, repository does not exist or may require 'docker
// login'" and "denied: requested access to the resource is denied".
var deniedMessages = []string{
	"no basic auth credentials",
	"unauthorized",
	"authentication required",
	"pull access denied",
	"requested access to the resource is denied",
}

// accessDenied reports whether an error from a pull is the registry
// refusing it for want of credentials or of valid ones.
func accessDenied(err error) bool {
	if cerrdefs.IsUnauthorized(err) || cerrdefs.IsPermissionDenied(err) {
		return true
	}
	msg := strings.ToLower(err.Error())
	return slices.ContainsFunc(deniedMessages, func(m string) bool { return strings.Contains(msg, m) })
}

// encodeAuth is auth as the engine's X-Registry-Auth header carries it
// (base64url of the JSON AuthConfig, as the docker CLI sends it).
func encodeAuth(auth *runtime.RegistryAuth) (string, error) {
	encoded, err := authconfig.Encode(registry.AuthConfig{
		Username:      auth.Username,
		Password:      auth.Password,
		IdentityToken: auth.IdentityToken,
		ServerAddress: auth.ServerAddress,
	})
	if err != nil {
		// The encoder's error is about JSON; it names no credential.
		return "", fmt.Errorf("encode the registry credential for %s: %v: %w", auth.ServerAddress, err, sdk.ErrInvalidArgument)
	}
	return encoded, nil
}

func pullProgress(msg jsonstream.Message) runtime.PullProgress {
	p := runtime.PullProgress{Status: msg.Status, Layer: msg.ID}
	if msg.Progress != nil {
		p.Current, p.Total = msg.Progress.Current, msg.Progress.Total
	}
	return p
}
