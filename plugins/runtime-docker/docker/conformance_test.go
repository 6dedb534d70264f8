package docker

import (
	"context"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/hiveorch/hive/plugins/sdk/runtime"
	"github.com/hiveorch/hive/plugins/sdk/runtime/conformance"
)

// conformanceOptions removes the named volumes the suite has Docker
// create.
func conformanceOptions(t *testing.T) conformance.Options {
	cli := rawClient(t)
	return conformance.Options{
		Image: testImage,
		// A real pull: the test image pushed to a local registry under a
		// name Docker does not have.
		PullImage: func(t *testing.T) string {
			return conformance.PushWithDocker(t, conformance.StartRegistry(t), testImage)
		},
		// The same from a registry that needs a credential.
		PrivateImage: func(t *testing.T) (string, runtime.RegistryAuth) {
			return conformance.PushPrivate(t, testImage)
		},
		RemoveVolume: func(ctx context.Context, name string) error {
			_, err := cli.VolumeRemove(ctx, name, client.VolumeRemoveOptions{Force: true})
			if cerrdefs.IsNotFound(err) {
				return nil
			}
			return err
		},
	}
}

// TestConformance runs the runtime plugin conformance suite against the
// Runtime as the plugin serves it.
func TestConformance(t *testing.T) {
	requireDocker(t)
	conformance.Run(t, func(t *testing.T) runtime.Runtime {
		return newTestRuntime(t)
	}, conformanceOptions(t))
}

// TestConformanceOverGRPC runs the suite as hive sees the plugin: through
// the SDK's gRPC client and server.
func TestConformanceOverGRPC(t *testing.T) {
	requireDocker(t)
	conformance.Run(t, func(t *testing.T) runtime.Runtime {
		return runtime.NewHarness(t, newTestRuntime(t))
	}, conformanceOptions(t))
}
