package runtime_test

import (
	"testing"

	"github.com/hiveorch/hive/plugins/sdk/runtime"
	"github.com/hiveorch/hive/plugins/sdk/runtime/conformance"
)

const testImage = "hive-test/web:v1"

func TestFakeConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		wrap func(t *testing.T, f *runtime.Fake) runtime.Runtime
	}{
		{"direct", func(t *testing.T, f *runtime.Fake) runtime.Runtime { return f }},
		{"through the gRPC harness", func(t *testing.T, f *runtime.Fake) runtime.Runtime { return runtime.NewHarness(t, f) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := runtime.NewFake()
			f.AddImage(testImage)
			conformance.Run(t, func(t *testing.T) runtime.Runtime { return tc.wrap(t, f) },
				conformance.Options{Image: testImage, SkipPorts: true, SkipBadCommand: true,
					PrivateImage: func(t *testing.T) (string, runtime.RegistryAuth) {
						const ref = "registry.example.com/hive-conformance/private:1"
						auth := runtime.RegistryAuth{ServerAddress: "registry.example.com", Username: "alice", Password: "pa55"}
						f.RequireAuth(ref, auth)
						return ref, auth
					}})
		})
	}
}
