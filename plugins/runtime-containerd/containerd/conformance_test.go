package containerd

import (
	"testing"

	"github.com/hiveorch/hive/plugins/sdk/runtime"
	"github.com/hiveorch/hive/plugins/sdk/runtime/conformance"
)

// conformanceOptions loads the test image from Docker's `docker save`
// output (containerd has no registry to pull it from), has the suite pull
// the image from a local registry under another name, and remove the
// named volumes it makes the runtime create.
func conformanceOptions(env *testEnv, r *Runtime) conformance.Options {
	return conformance.Options{
		Image:     testImage,
		LoadImage: env.loadImage,
		PullImage: func(t *testing.T) string {
			return conformance.PushWithDocker(t, conformance.StartRegistry(t), testImage)
		},
		// The same from a registry that needs a credential.
		PrivateImage: func(t *testing.T) (string, runtime.RegistryAuth) {
			return conformance.PushPrivate(t, testImage)
		},
		RemoveVolume: r.RemoveVolume,
	}
}

// TestConformance runs the runtime plugin conformance suite against the
// Runtime as the plugin serves it, on a real containerd.
func TestConformance(t *testing.T) {
	env := newBareEnv(t)
	first := env.newRuntime(t)
	conformance.Run(t, func(t *testing.T) runtime.Runtime {
		return env.newRuntime(t)
	}, conformanceOptions(env, first))
}

// TestConformanceOverGRPC runs the suite as hive sees the plugin: through
// the SDK's gRPC client and server.
func TestConformanceOverGRPC(t *testing.T) {
	env := newBareEnv(t)
	first := env.newRuntime(t)
	conformance.Run(t, func(t *testing.T) runtime.Runtime {
		return runtime.NewHarness(t, env.newRuntime(t))
	}, conformanceOptions(env, first))
}
