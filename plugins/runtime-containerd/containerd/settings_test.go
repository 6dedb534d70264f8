package containerd

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/plugins/sdk"
)

func TestParseSettings(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		s, err := parseSettings(nil)
		if err != nil {
			t.Fatal(err)
		}
		if s.Socket != DefaultSocket || s.Namespace != DefaultNamespace || s.Snapshotter != DefaultSnapshotter ||
			s.Root != DefaultRoot || s.Bridge != DefaultBridge || s.Subnet.String() != DefaultSubnet ||
			s.PullTimeout != DefaultPullTimeout || s.LogMaxSize != DefaultLogMaxSize || s.LogMaxFiles != DefaultLogMaxFiles {
			t.Errorf("defaults = %+v", s)
		}
		if strings.Join(s.CNIBinDirs, ":") != DefaultCNIBinDir {
			t.Errorf("cni_bin_dir = %v", s.CNIBinDirs)
		}
	})
	t.Run("every key", func(t *testing.T) {
		s, err := parseSettings(map[string]string{
			"socket":              "unix:///run/k3s/containerd/containerd.sock",
			"namespace":           "hive-prod",
			"snapshotter":         "native",
			"root":                "/srv/hive/ctd/",
			"bridge":              "hivebr1",
			"subnet":              "10.77.0.0/20",
			"cni_bin_dir":         "/opt/cni/bin:/usr/lib/cni",
			"pull_timeout":        "90s",
			"insecure_registries": "registry.lan:5000, 10.0.0.9",
			"log_max_size":        "1m",
			"log_max_files":       "5",
		})
		if err != nil {
			t.Fatal(err)
		}
		want := settings{
			Socket: "/run/k3s/containerd/containerd.sock", Namespace: "hive-prod", Snapshotter: "native",
			Root: "/srv/hive/ctd", Bridge: "hivebr1", PullTimeout: 90 * time.Second, LogMaxSize: 1 << 20, LogMaxFiles: 5,
		}
		if s.Socket != want.Socket || s.Namespace != want.Namespace || s.Snapshotter != want.Snapshotter || s.Root != want.Root ||
			s.Bridge != want.Bridge || s.PullTimeout != want.PullTimeout || s.LogMaxSize != want.LogMaxSize || s.LogMaxFiles != want.LogMaxFiles {
			t.Errorf("settings = %+v, want %+v", s, want)
		}
		if s.Subnet.String() != "10.77.0.0/20" || strings.Join(s.CNIBinDirs, ":") != "/opt/cni/bin:/usr/lib/cni" ||
			strings.Join(s.Insecure, ",") != "registry.lan:5000,10.0.0.9" {
			t.Errorf("subnet %s, cni dirs %v, insecure %v", s.Subnet, s.CNIBinDirs, s.Insecure)
		}
	})
	for _, tc := range []struct {
		key, value, want string
	}{
		{"socket", "containerd.sock", "absolute path"},
		{"namespace", "bad namespace!", "namespace name"},
		{"snapshotter", "", "snapshotter name"},
		{"root", "relative/dir", "absolute directory"},
		{"bridge", "a-bridge-name-far-too-long", "at most 15"},
		{"subnet", "10.1.2.3/16", "CIDR"},
		{"subnet", "fd00::/64", "IPv4"},
		{"subnet", "10.1.2.0/31", "room for tasks"},
		{"cni_bin_dir", "cni", "absolute directories"},
		{"pull_timeout", "-1s", "positive duration"},
		{"insecure_registries", "http://reg:5000", "registry hosts"},
		{"log_max_size", "10", "at least 4k"},
		{"log_max_files", "0", "1 to 100"},
		{"sockett", "/x", `unknown setting "sockett"`},
	} {
		t.Run("bad "+tc.key+" "+tc.value, func(t *testing.T) {
			_, err := parseSettings(map[string]string{tc.key: tc.value})
			if !errors.Is(err, sdk.ErrInvalidArgument) {
				t.Fatalf("parseSettings(%s=%q) = %v, want an error wrapping sdk.ErrInvalidArgument", tc.key, tc.value, err)
			}
			if !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name the key %s and say %q", err, tc.key, tc.want)
			}
		})
	}
}

func TestConfigureRefusesBadSettingsWithoutContainerd(t *testing.T) {
	r := New(nil)
	defer r.Close()
	err := r.Configure(t.Context(), map[string]string{"namespace": "a b"})
	if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), Name) {
		t.Fatalf("Configure with a bad namespace = %v, want an invalid-argument error naming the plugin", err)
	}
	info, err := r.Describe(t.Context())
	if err != nil || info.Name != Name || info.Kind != sdk.KindRuntime {
		t.Errorf("Describe = %+v, %v", info, err)
	}
}

func TestHealthWhenContainerdIsDown(t *testing.T) {
	r := New(nil)
	defer r.Close()
	if err := r.Configure(t.Context(), map[string]string{
		"socket": t.TempDir() + "/none.sock", "root": t.TempDir(),
	}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := r.Health(t.Context())
	if !errors.Is(err, sdk.ErrUnavailable) || !strings.Contains(err.Error(), "none.sock") {
		t.Errorf("Health with no containerd = %v, want unavailable naming the socket", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Health took %v to give up", took)
	}
}
