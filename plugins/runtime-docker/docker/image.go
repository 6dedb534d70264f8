package docker

import (
	"context"
	"errors"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// EnsureImage makes ref available locally, pulling it only when the engine
// does not have it. An image that cannot be had (unknown to the registry,
// registry unreachable, access denied) is an error wrapping sdk.ErrNotFound
// whose text is "image not found: REF: REASON"; an engine that cannot be
// reached is sdk.ErrUnavailable.
func (r *Runtime) EnsureImage(ctx context.Context, ref string, progress func(runtime.PullProgress)) error {
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
	if err := pull(pullCtx, eng.cli, ref, progress); err != nil {
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

// pull pulls ref, reporting each progress message. An error the registry
// or the engine reports about the image wraps sdk.ErrNotFound.
func pull(ctx context.Context, cli *client.Client, ref string, progress func(runtime.PullProgress)) error {
	resp, err := cli.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return pullErr(ref, err)
	}
	defer resp.Close()
	for msg, err := range resp.JSONMessages(ctx) {
		if err != nil {
			// The stream broke: the engine went away mid-pull, or ctx ended.
			return streamErr(err, "pull image %s: read progress", ref)
		}
		if msg.Error != nil {
			return imageNotFound(ref, msg.Error)
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
func pullErr(ref string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("pull image %s: %w", ref, err)
	}
	if errors.Is(kindOf(err), sdk.ErrUnavailable) {
		return wrapErr(err, "pull image %s", ref)
	}
	return imageNotFound(ref, err)
}

// imageNotFound is the error for an image that cannot be had; the agent
// shows it to the user as "rejected: image not found: REF: REASON".
func imageNotFound(ref string, reason error) error {
	return fmt.Errorf("image not found: %s: %w", ref, &kindError{kind: sdk.ErrNotFound, err: reason})
}

func pullProgress(msg jsonstream.Message) runtime.PullProgress {
	p := runtime.PullProgress{Status: msg.Status, Layer: msg.ID}
	if msg.Progress != nil {
		p.Current, p.Total = msg.Progress.Current, msg.Progress.Total
	}
	return p
}
