package api

import "testing"

func TestPluginTroubleSaysWhatIsWrongAndWhatItMeans(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    PluginStatus
		want string
	}{
		{"running", PluginStatus{Name: "runtime-docker", Kind: "runtime", State: PluginRunning}, ""},
		{"starting", PluginStatus{Name: "runtime-docker", Kind: "runtime", State: PluginStarting}, ""},
		{"stopped", PluginStatus{Name: "runtime-docker", Kind: "runtime", State: PluginStopped}, ""},
		{"unhealthy runtime", PluginStatus{Name: "runtime-containerd", Kind: "runtime", State: PluginUnhealthy, Error: "containerd at /x.sock is unreachable"},
			"runtime plugin runtime-containerd is unhealthy: containerd at /x.sock is unreachable; this node cannot run tasks until it is healthy"},
		{"failed scheduler", PluginStatus{Name: "scheduler-x", Kind: "scheduler", State: PluginFailed, Error: "exit status 2"},
			"scheduler plugin scheduler-x has failed: exit status 2"},
		{"restarting, no error", PluginStatus{Name: "network-overlay", Kind: "network", State: PluginRestarting},
			"network plugin network-overlay is restarting"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Trouble(); got != tc.want {
				t.Errorf("Trouble() = %q, want %q", got, tc.want)
			}
		})
	}
}
