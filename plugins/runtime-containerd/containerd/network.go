package containerd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/pkg/netns"
	gocni "github.com/containerd/go-cni"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// cniPlugins are the reference CNI plugins the network uses (Debian
// package containernetworking-plugins).
var cniPlugins = []string{"bridge", "host-local", "portmap", "firewall", "loopback"}

// network attaches task network namespaces to the plugin's bridge through
// CNI: an address from host-local IPAM, a default route through the
// bridge, masquerading for traffic leaving the host, host ports published
// by portmap, and firewall rules that let the traffic through a host whose
// FORWARD policy drops (as Docker's does).
//
// Each run of a container gets its own namespace (the task's, pinned by a
// bind mount under root/netns so that it outlives the task): the CNI DEL
// after the task exited then still finds its interface and removes every
// rule it added.
type network struct {
	s      settings
	logger *slog.Logger
	cni    gocni.CNI
}

// cniMu serializes the process's calls into go-cni. host-local IPAM and
// iptables serialize them anyway; and go-cni, built with the race
// detector, swaps its locks for go-deadlock's, which (unable to tell
// goroutines apart on this Go) takes any two locks held at once for a
// lock-order inversion and ends the process.
var cniMu sync.Mutex

func newNetwork(s settings, logger *slog.Logger) (*network, error) {
	conf, err := cniConfList(s)
	if err != nil {
		return nil, err
	}
	c, err := gocni.New(gocni.WithPluginDir(s.CNIBinDirs), gocni.WithInterfacePrefix("eth"), gocni.WithMinNetworkCount(2))
	if err != nil {
		return nil, fmt.Errorf("cni: %w", err)
	}
	cniMu.Lock()
	err = c.Load(gocni.WithLoNetwork, gocni.WithConfListBytes(conf))
	cniMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("cni network %s: %v: %w", s.Bridge, err, sdk.ErrInvalidArgument)
	}
	if err := os.MkdirAll(filepath.Join(s.Root, "netns"), 0o711); err != nil {
		return nil, fmt.Errorf("create %s: %w", filepath.Join(s.Root, "netns"), err)
	}
	return &network{s: s, logger: logger, cni: c}, nil
}

// cniConfList is the CNI configuration of the bridge network. The network
// is named after the bridge.
func cniConfList(s settings) ([]byte, error) {
	type obj = map[string]any
	conf := obj{
		"cniVersion": "1.0.0",
		"name":       s.Bridge,
		"plugins": []obj{
			{
				"type":        "bridge",
				"bridge":      s.Bridge,
				"isGateway":   true,
				"ipMasq":      true,
				"hairpinMode": true,
				"ipam": obj{
					"type":    "host-local",
					"ranges":  [][]obj{{{"subnet": s.Subnet.String()}}},
					"routes":  []obj{{"dst": "0.0.0.0/0"}},
					"dataDir": filepath.Join(s.cniDir(), "ipam"),
				},
			},
			{"type": "portmap", "capabilities": obj{"portMappings": true}, "snat": true},
			{"type": "firewall"},
		},
	}
	b, err := json.Marshal(conf)
	if err != nil {
		return nil, fmt.Errorf("cni configuration: %w", err)
	}
	return b, nil
}

// check reports a missing CNI plugin, saying what to install.
func (n *network) check() error {
	for _, p := range cniPlugins {
		found := false
		for _, d := range n.s.CNIBinDirs {
			if fi, err := os.Stat(filepath.Join(d, p)); err == nil && fi.Mode()&0o111 != 0 {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("the CNI plugin %q is not in %s; install the reference CNI plugins (Debian: apt-get install containernetworking-plugins) or set cni_bin_dir: %w",
				p, strings.Join(n.s.CNIBinDirs, ":"), sdk.ErrUnavailable)
		}
	}
	return nil
}

// setup pins the network namespace of the task whose init process is pid,
// attaches it to the bridge with the host ports, and returns the pinned
// namespace's path and the task's IPv4 address. On failure nothing is left
// behind.
func (n *network) setup(ctx context.Context, id string, pid uint32, ports []runtime.PortBinding) (nsPath, ip string, err error) {
	if err := n.check(); err != nil {
		return "", "", err
	}
	ns, err := netns.NewNetNSFromPID(filepath.Join(n.s.Root, "netns"), pid)
	if err != nil {
		return "", "", fmt.Errorf("pin the network namespace of task %s: %w", id, err)
	}
	cniMu.Lock()
	res, err := n.cni.Setup(ctx, id, ns.GetPath(), gocni.WithCapabilityPortMap(portMappings(ports)))
	cniMu.Unlock()
	if err != nil {
		if terr := n.teardown(ctx, id, ns.GetPath(), ports); terr != nil {
			n.logger.Warn("release the network of a failed attach", "container_id", id, "error", terr)
		}
		return "", "", fmt.Errorf("attach task %s to network %s: %w", id, n.s.Bridge, err)
	}
	for _, cfg := range res.Interfaces {
		for _, c := range cfg.IPConfigs {
			if v4 := c.IP.To4(); v4 != nil && !v4.IsLoopback() {
				ip = v4.String()
			}
		}
	}
	if ip == "" {
		if terr := n.teardown(ctx, id, ns.GetPath(), ports); terr != nil {
			n.logger.Warn("release the network of a failed attach", "container_id", id, "error", terr)
		}
		return "", "", fmt.Errorf("attach task %s to network %s: CNI returned no IPv4 address", id, n.s.Bridge)
	}
	return ns.GetPath(), ip, nil
}

// teardown detaches a run's namespace from the network (releasing its
// address, host ports and rules) and then removes the pin. It is
// idempotent, and runs to the end even if ctx is cancelled: a CNI DEL cut
// short after it deleted the interface could not be completed later (the
// bridge plugin finds the masquerade rule to delete through the
// interface). When the DEL fails the pin is kept, so that a later
// teardown can still complete it, and the error is returned. A namespace
// whose pin is gone (after a reboot) still gets its address and rules
// released as far as CNI can without it.
func (n *network) teardown(ctx context.Context, id, nsPath string, ports []runtime.PortBinding) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	ns := netns.LoadNetNS(nsPath)
	path := nsPath
	if closed, err := ns.Closed(); err != nil || closed {
		path = "" // no namespace left: let CNI release what it can without one
	}
	var err error
	for attempt, wait := 0, 100*time.Millisecond; attempt < 3; attempt, wait = attempt+1, wait*4 {
		if attempt > 0 {
			time.Sleep(wait)
		}
		cniMu.Lock()
		err = n.cni.Remove(ctx, id, path, gocni.WithCapabilityPortMap(portMappings(ports)))
		cniMu.Unlock()
		if err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("release the network of task %s (CNI DEL on %s): %w", id, nsPath, err)
	}
	if path != "" {
		if err := ns.Remove(); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove the pinned network namespace %s: %w", nsPath, err)
		}
	} else if err := os.Remove(nsPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove the stale network namespace file %s: %w", nsPath, err)
	}
	n.logger.Debug("released the network of a task", "container_id", id, "netns", nsPath, "netns_gone", path == "")
	return nil
}

// portMappings converts host-mode port bindings to portmap's form.
func portMappings(ports []runtime.PortBinding) []gocni.PortMapping {
	out := make([]gocni.PortMapping, 0, len(ports))
	for _, p := range ports {
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		out = append(out, gocni.PortMapping{
			HostPort: int32(p.HostPort), ContainerPort: int32(p.ContainerPort), Protocol: proto, HostIP: p.HostIP,
		})
	}
	return out
}

// hostResolvConf is the resolv.conf task files are made from.
const hostResolvConf = "/etc/resolv.conf"

// resolvConf is the resolv.conf a task gets, made from the host's (host,
// its content; empty when it has none). With dns (a spec's DNS servers,
// already checked to be IP addresses) the host's nameserver lines give way
// to one line per server, in order, where the host's first nameserver was
// (at the end if it had none); its search domains, options and comments
// stay, as with docker run --dns. Without dns it is the host's without
// loopback nameservers (which a task cannot reach), or with public
// resolvers if none is left, as Docker does.
func resolvConf(host []byte, dns []string) []byte {
	var out []string
	servers, placed := 0, false
	for line := range strings.Lines(string(host)) {
		line = strings.TrimSuffix(line, "\n")
		f := strings.Fields(line)
		if len(f) >= 1 && f[0] == "nameserver" {
			if len(dns) > 0 {
				if !placed {
					out = append(out, nameserverLines(dns)...)
					placed = true
				}
				continue
			}
			if len(f) < 2 {
				continue
			}
			if ip := net.ParseIP(f[1]); ip == nil || ip.IsLoopback() {
				continue
			}
			servers++
		}
		out = append(out, line)
	}
	switch {
	case len(dns) > 0 && !placed:
		out = append(out, nameserverLines(dns)...)
	case len(dns) == 0 && servers == 0:
		out = append(out, nameserverLines([]string{"8.8.8.8", "8.8.4.4"})...)
	}
	return []byte(strings.TrimSpace(strings.Join(out, "\n")) + "\n")
}

func nameserverLines(servers []string) []string {
	out := make([]string, len(servers))
	for i, s := range servers {
		out[i] = "nameserver " + s
	}
	return out
}

// hostsFile is /etc/hosts of a task: localhost, and its own name at ip
// once it has an address.
func hostsFile(hostname, ip string) []byte {
	s := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	if ip != "" {
		s += ip + "\t" + hostname + "\n"
	}
	return []byte(s)
}
