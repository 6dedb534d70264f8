package overlay

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/network"
)

// Name and Version identify the plugin.
const (
	Name    = "network-overlay"
	Version = "0.1.0"
)

// Setting names (plugins.config.network-overlay.*).
const (
	setVXLANPort = "vxlan_port"
	setLocalAddr = "local_addr"
	setPrefix    = "prefix"
	setNodeID    = "node_id"
	setHostNetns = "host_netns"
)

var knownSettings = []string{setVXLANPort, setLocalAddr, setPrefix, setNodeID, setHostNetns}

// Defaults.
const (
	defaultPort   = 4789
	defaultPrefix = "hive-"
	// selfNetns is the namespace the process runs in.
	selfNetns = "/proc/self/ns/net"
	// encapOverhead is what VXLAN over IPv4 adds to a frame.
	encapOverhead = 50
	maxPrefix     = 6
)

// config is the parsed settings.
type config struct {
	port uint16
	// local is the node's underlay address, the VXLAN source; invalid
	// lets the kernel choose.
	local  netip.Addr
	prefix string
	nodeID string
	// hostNetns is the path of the underlay namespace.
	hostNetns string
}

// Driver is the overlay network driver. It is safe for concurrent use;
// calls for one network are serialised.
type Driver struct {
	log *slog.Logger

	mu   sync.Mutex
	cfg  config
	nets map[string]*netEntry
}

// netEntry is what the driver keeps of one network: the lock serialising
// its calls and what the kernel cannot tell (its options).
type netEntry struct {
	mu      sync.Mutex
	options map[string]string
}

var _ network.Driver = (*Driver)(nil)

// New returns a driver with the default settings: VXLAN port 4789, prefix
// "hive-", the process's own namespace as the underlay.
func New(log *slog.Logger) *Driver {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Driver{
		log:  log,
		cfg:  config{port: defaultPort, prefix: defaultPrefix, hostNetns: selfNetns},
		nets: map[string]*netEntry{},
	}
}

// Describe reports the plugin's identity.
func (d *Driver) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: Name, Kind: sdk.KindNetwork, Version: Version, Capabilities: []string{"vxlan"}}, nil
}

// Configure checks the settings and applies them. Settings:
//
//	vxlan_port  the VXLAN UDP port of this node (default 4789); nodes sharing a host need different ones
//	local_addr  the node's underlay address, the VXLAN tunnels' source (default: the kernel chooses)
//	prefix      the prefix of the namespaces' names (default "hive-", at most 6 characters)
//	node_id     the node's ID, part of the namespaces' names
//	host_netns  the path of the underlay network namespace (default: the process's own)
//
// A bad setting wraps sdk.ErrInvalidArgument and names it.
func (d *Driver) Configure(_ context.Context, settings map[string]string) error {
	cfg, err := parseSettings(settings)
	if err != nil {
		return err
	}
	ns, err := openNetns(cfg.hostNetns)
	if err != nil {
		return invalid("%s %q: %v", setHostNetns, cfg.hostNetns, err)
	}
	ns.Close()
	d.mu.Lock()
	d.cfg = cfg
	d.mu.Unlock()
	return nil
}

// Health checks that the underlay namespace can be reached over netlink.
func (d *Driver) Health(context.Context) error {
	cfg := d.config()
	host, err := openNS(cfg.hostNetns)
	if err != nil {
		return fmt.Errorf("%s: underlay namespace %s: %w", Name, cfg.hostNetns, err)
	}
	defer host.close()
	if _, err := host.h.LinkList(); err != nil {
		return fmt.Errorf("%s: list the underlay's links: %w", Name, err)
	}
	return nil
}

func (d *Driver) config() config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

// entry returns the network's entry, made on first use.
func (d *Driver) entry(id string) *netEntry {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.nets[id]
	if e == nil {
		e = &netEntry{}
		d.nets[id] = e
	}
	return e
}

// lock serialises the calls for one network.
func (d *Driver) lock(id string) (*netEntry, func()) {
	e := d.entry(id)
	e.mu.Lock()
	return e, e.mu.Unlock
}

// start begins a call for one network: it checks ctx, takes the
// network's lock (the caller runs unlock) and returns the settings.
func (d *Driver) start(ctx context.Context, networkID string) (cfg config, e *netEntry, unlock func(), err error) {
	if err := ctx.Err(); err != nil {
		return cfg, nil, nil, err
	}
	e, unlock = d.lock(networkID)
	return d.config(), e, unlock, nil
}

// invalid is an invalid-argument error.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", Name, fmt.Sprintf(format, args...), sdk.ErrInvalidArgument)
}

func parseSettings(s map[string]string) (config, error) {
	cfg := config{port: defaultPort, prefix: defaultPrefix, hostNetns: selfNetns}
	for k := range s {
		if !slices.Contains(knownSettings, k) {
			return cfg, invalid("unknown setting %q (known: %s)", k, strings.Join(knownSettings, ", "))
		}
	}
	if v, ok := s[setVXLANPort]; ok {
		p, err := strconv.ParseUint(v, 10, 16)
		if err != nil || p == 0 {
			return cfg, invalid("%s %q: want a UDP port, 1 to 65535", setVXLANPort, v)
		}
		cfg.port = uint16(p)
	}
	if v, ok := s[setLocalAddr]; ok && v != "" {
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" {
			return cfg, invalid("%s %q: want an IP address", setLocalAddr, v)
		}
		cfg.local = a.Unmap()
	}
	if v, ok := s[setPrefix]; ok {
		if v == "" || len(v) > maxPrefix || !safeName(v) {
			return cfg, invalid("%s %q: want 1 to %d letters, digits, '-' or '_'", setPrefix, v, maxPrefix)
		}
		cfg.prefix = v
	}
	if v, ok := s[setNodeID]; ok {
		if !safeName(v) {
			return cfg, invalid("%s %q: want letters, digits, '-' or '_'", setNodeID, v)
		}
		cfg.nodeID = v
	}
	if v, ok := s[setHostNetns]; ok && v != "" {
		cfg.hostNetns = v
	}
	return cfg, nil
}

// safeName tells whether s can be part of a file and interface name.
func safeName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
