package containerd

import (
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/pkg/identifiers"
	units "github.com/docker/go-units"

	"github.com/hiveorch/hive/plugins/sdk"
)

// Defaults of the settings Configure accepts.
const (
	DefaultSocket      = "/run/containerd/containerd.sock"
	DefaultNamespace   = "hive"
	DefaultSnapshotter = "overlayfs"
	DefaultRoot        = "/var/lib/hive/runtime-containerd"
	DefaultBridge      = "hive0"
	DefaultSubnet      = "10.89.0.0/16"
	DefaultCNIBinDir   = "/usr/lib/cni:/opt/cni/bin"
	DefaultPullTimeout = 5 * time.Minute
	DefaultLogMaxSize  = 10 << 20
	DefaultLogMaxFiles = 3
)

// settings are the plugin's configuration, checked.
type settings struct {
	Socket      string
	Namespace   string
	Snapshotter string
	// Root holds the plugin's files: containers/ID (log files, FIFOs,
	// hosts and resolv.conf, health state), volumes/NAME, cni/ (IPAM),
	// netns/ (pinned network namespaces), copier/ (the log copier).
	Root        string
	Bridge      string
	Subnet      netip.Prefix
	CNIBinDirs  []string
	PullTimeout time.Duration
	// Insecure are registries (host[:port]) pulled from over plain HTTP;
	// loopback registries always are.
	Insecure    []string
	LogMaxSize  int64
	LogMaxFiles int
}

// settingKeys are the keys Configure accepts, for error messages.
var settingKeys = []string{
	"socket", "namespace", "snapshotter", "root", "bridge", "subnet", "cni_bin_dir",
	"pull_timeout", "insecure_registries", "log_max_size", "log_max_files",
}

var (
	bridgeRE   = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$`)
	registryRE = regexp.MustCompile(`^[a-zA-Z0-9.-]+(:[0-9]+)?$`)
)

// parseSettings checks raw settings and fills in the defaults:
//
//	socket               containerd's socket (default /run/containerd/containerd.sock)
//	namespace            containerd namespace of hive's containers and images (default hive)
//	snapshotter          snapshotter for image layers and container roots (default overlayfs)
//	root                 directory of the plugin's files (default /var/lib/hive/runtime-containerd)
//	bridge               Linux bridge the tasks join (default hive0)
//	subnet               IPv4 subnet of the bridge (default 10.89.0.0/16)
//	cni_bin_dir          colon-separated directories of the CNI plugins (default /usr/lib/cni:/opt/cni/bin)
//	pull_timeout         longest an image pull may take (default 5m)
//	insecure_registries  comma-separated registries pulled over plain HTTP (loopback ones always are)
//	log_max_size         size at which a container's log file is rotated (default 10m)
//	log_max_files        log files kept per container, the current one included (default 3)
func parseSettings(raw map[string]string) (settings, error) {
	s := settings{
		Socket:      DefaultSocket,
		Namespace:   DefaultNamespace,
		Snapshotter: DefaultSnapshotter,
		Root:        DefaultRoot,
		Bridge:      DefaultBridge,
		Subnet:      netip.MustParsePrefix(DefaultSubnet),
		CNIBinDirs:  strings.Split(DefaultCNIBinDir, ":"),
		PullTimeout: DefaultPullTimeout,
		LogMaxSize:  DefaultLogMaxSize,
		LogMaxFiles: DefaultLogMaxFiles,
	}
	bad := func(key, value, want string) error {
		return fmt.Errorf("setting %s %q: want %s: %w", key, value, want, sdk.ErrInvalidArgument)
	}
	for _, key := range slices.Sorted(maps.Keys(raw)) {
		value := strings.TrimSpace(raw[key])
		switch key {
		case "socket":
			p := strings.TrimPrefix(value, "unix://")
			if !filepath.IsAbs(p) {
				return s, bad(key, value, "the absolute path of containerd's socket, such as "+DefaultSocket)
			}
			s.Socket = p
		case "namespace":
			if err := identifiers.Validate(value); err != nil {
				return s, bad(key, value, "a containerd namespace name (letters, digits, and '.', '_' or '-' between them)")
			}
			s.Namespace = value
		case "snapshotter":
			if value == "" || strings.ContainsAny(value, " /") {
				return s, bad(key, value, "a snapshotter name such as overlayfs or native")
			}
			s.Snapshotter = value
		case "root":
			if !filepath.IsAbs(value) {
				return s, bad(key, value, "an absolute directory path")
			}
			s.Root = filepath.Clean(value)
		case "bridge":
			if !bridgeRE.MatchString(value) {
				return s, bad(key, value, "a network interface name of at most 15 letters, digits, '.', '_' or '-'")
			}
			s.Bridge = value
		case "subnet":
			p, err := netip.ParsePrefix(value)
			if err != nil || !p.Addr().Is4() || p.Bits() > 30 || p.Masked() != p {
				return s, bad(key, value, "an IPv4 network in CIDR form with room for tasks, such as "+DefaultSubnet)
			}
			s.Subnet = p
		case "cni_bin_dir":
			var dirs []string
			for _, d := range strings.Split(value, ":") {
				if d = strings.TrimSpace(d); d != "" {
					if !filepath.IsAbs(d) {
						return s, bad(key, value, "colon-separated absolute directories")
					}
					dirs = append(dirs, d)
				}
			}
			if len(dirs) == 0 {
				return s, bad(key, value, "colon-separated absolute directories")
			}
			s.CNIBinDirs = dirs
		case "pull_timeout":
			d, err := time.ParseDuration(value)
			if err != nil || d <= 0 {
				return s, bad(key, value, `a positive duration such as "5m"`)
			}
			s.PullTimeout = d
		case "insecure_registries":
			s.Insecure = nil
			for _, h := range strings.Split(value, ",") {
				if h = strings.TrimSpace(h); h == "" {
					continue
				}
				if !registryRE.MatchString(h) {
					return s, bad(key, value, "comma-separated registry hosts such as registry.lan:5000")
				}
				s.Insecure = append(s.Insecure, h)
			}
		case "log_max_size":
			n, err := units.RAMInBytes(value)
			if err != nil || n < 4096 {
				return s, bad(key, value, `a size of at least 4k, such as "10m"`)
			}
			s.LogMaxSize = n
		case "log_max_files":
			n, err := strconv.Atoi(value)
			if err != nil || n < 1 || n > 100 {
				return s, bad(key, value, "a whole number from 1 to 100")
			}
			s.LogMaxFiles = n
		default:
			return s, fmt.Errorf("unknown setting %q (known: %s): %w", key, strings.Join(settingKeys, ", "), sdk.ErrInvalidArgument)
		}
	}
	return s, nil
}

// Directories under the root.
func (s *settings) containersDir() string         { return filepath.Join(s.Root, "containers") }
func (s *settings) containerDir(id string) string { return filepath.Join(s.Root, "containers", id) }
func (s *settings) volumesDir() string            { return filepath.Join(s.Root, "volumes") }
func (s *settings) cniDir() string                { return filepath.Join(s.Root, "cni") }

// makeDirs creates the root and its directories.
func (s *settings) makeDirs() error {
	for _, d := range []string{s.containersDir(), s.volumesDir(), s.cniDir()} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return fmt.Errorf("create the plugin's directory %s (setting root): %w", d, err)
		}
	}
	return nil
}
