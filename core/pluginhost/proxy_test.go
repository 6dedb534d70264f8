package pluginhost

import (
	"testing"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// TestRuntimeProxyPassesTheRegistryCredential: the credential given to
// the proxy's EnsureImage reaches the plugin's, and nil stays nil.
func TestRuntimeProxyPassesTheRegistryCredential(t *testing.T) {
	f := runtime.NewFake()
	f.AllowAnyImage(true)
	e := runEntry(t, &fakeLauncher{impl: f}, clock.NewFake(time.Unix(1000, 0)), time.Hour)
	waitState(t, e, StateRunning)
	r := &Runtime{base{e}}
	ctx := ctxT(t)

	auth := &runtime.RegistryAuth{ServerAddress: "registry.example.com", Username: "alice", Password: "pa55"}
	if err := r.EnsureImage(ctx, "registry.example.com/web:1", auth, nil); err != nil {
		t.Fatalf("EnsureImage = %v", err)
	}
	if got := f.LastPullAuth("registry.example.com/web:1"); got == nil || *got != *auth {
		t.Errorf("the plugin got the credential %v, want %v", got, auth)
	}
	if err := r.EnsureImage(ctx, "web:2", nil, nil); err != nil {
		t.Fatalf("EnsureImage = %v", err)
	}
	if got := f.LastPullAuth("web:2"); got != nil {
		t.Errorf("an anonymous EnsureImage reached the plugin with the credential %v", got)
	}
}
