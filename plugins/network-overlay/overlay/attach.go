package overlay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/network"
)

// taskAlias is what a veth's alias records of its task.
type taskAlias struct {
	Task  string `json:"task"`
	Netns string `json:"netns"`
}

func (a taskAlias) encode() string {
	b, _ := json.Marshal(a)
	return string(b)
}

func decodeTaskAlias(s string) (taskAlias, bool) {
	var a taskAlias
	if json.Unmarshal([]byte(s), &a) != nil || a.Task == "" {
		return a, false
	}
	return a, true
}

// maxAttachTries bounds the retries when another call takes the chosen
// interface name in the task's namespace first.
const maxAttachTries = 8

// Attach connects the task's namespace to the network's bridge through a
// veth, or repairs the one it has.
func (d *Driver) Attach(ctx context.Context, a network.Attachment) (network.AttachResult, error) {
	mac, err := checkAttachment(a)
	if err != nil {
		return network.AttachResult{}, err
	}
	cfg, _, unlock, err := d.start(ctx, a.NetworkID)
	if err != nil {
		return network.AttachResult{}, err
	}
	defer unlock()
	res, err := d.attach(cfg, a, mac)
	if err != nil {
		return res, fmt.Errorf("attach task %s to network %s: %w", a.TaskID, a.NetworkID, err)
	}
	d.log.Debug("task attached", "network_id", a.NetworkID, "task_id", a.TaskID, "interface", res.Interface, "address", a.Address)
	return res, nil
}

func checkAttachment(a network.Attachment) (net.HardwareAddr, error) {
	switch {
	case a.NetworkID == "" || a.TaskID == "":
		return nil, invalid("attachment without a network or task ID")
	case a.Netns == "":
		return nil, invalid("task %s: no network namespace", a.TaskID)
	case !a.Address.IsValid() || a.Address.Addr().Zone() != "":
		return nil, invalid("task %s: no address", a.TaskID)
	}
	if len(a.TaskID) > 128 || len(a.Netns) > 100 {
		return nil, invalid("task %s: ID or namespace path too long for an interface alias", a.TaskID)
	}
	if a.MAC == "" {
		return net.ParseMAC(network.MACFor(a.Address.Addr()))
	}
	mac, err := net.ParseMAC(a.MAC)
	if err != nil || len(mac) != 6 {
		return nil, invalid("task %s: MAC %q is no Ethernet address", a.TaskID, a.MAC)
	}
	return mac, nil
}

func (d *Driver) attach(cfg config, a network.Attachment, mac net.HardwareAddr) (network.AttachResult, error) {
	nn, err := d.openNet(cfg, a.NetworkID)
	if err != nil {
		return network.AttachResult{}, err
	}
	defer nn.close()
	br, err := nn.h.LinkByName(bridgeName)
	if err != nil {
		if notFound(err) {
			return network.AttachResult{}, fmt.Errorf("no bridge in %s (EnsureNetwork first): %w", nn.path, sdk.ErrNotFound)
		}
		return network.AttachResult{}, fmt.Errorf("bridge: %w", err)
	}
	if na, ok := decodeNetAlias(br.Attrs().Alias); ok {
		if subnet, err := netip.ParsePrefix(na.Subnet); err == nil &&
			(!subnet.Contains(a.Address.Addr()) || subnet.Bits() != a.Address.Bits()) {
			return network.AttachResult{}, invalid("address %s is not in the network's subnet %s", a.Address, subnet)
		}
	}
	tn, err := openNS(a.Netns)
	if err != nil {
		return network.AttachResult{}, fmt.Errorf("task namespace: %w", err)
	}
	defer tn.close()
	task := tn.h

	name, alias, mtu := vethName(a.TaskID), taskAlias{Task: a.TaskID, Netns: a.Netns}.encode(), br.Attrs().MTU
	veth, peer := findVeth(nn.h, task, name)
	if veth != nil && (peer == nil || veth.Attrs().Alias != alias) {
		// The task's namespace changed, or the link is not ours.
		if err := nn.h.LinkDel(veth); err != nil && !notFound(err) {
			return network.AttachResult{}, fmt.Errorf("replace %s: %w", name, err)
		}
		veth, peer = nil, nil
	}
	for try := 0; veth == nil; try++ {
		ifname, err := freeEthName(task)
		if err != nil {
			return network.AttachResult{}, err
		}
		err = nn.h.LinkAdd(&netlink.Veth{
			LinkAttrs:        netlink.LinkAttrs{Name: name, MTU: mtu, MasterIndex: br.Attrs().Index, Alias: alias},
			PeerName:         ifname,
			PeerHardwareAddr: mac,
			PeerNamespace:    netlink.NsFd(int(tn.ns)),
		})
		if errors.Is(err, unix.EEXIST) && try < maxAttachTries {
			continue // another network's Attach took ifname
		}
		if err != nil {
			return network.AttachResult{}, fmt.Errorf("create veth %s/%s: %w", name, ifname, err)
		}
		veth, peer = findVeth(nn.h, task, name)
		if peer == nil {
			return network.AttachResult{}, fmt.Errorf("veth %s: its peer is not in %s", name, a.Netns)
		}
	}
	if err := repairVeth(nn.h, veth, br, mtu, alias); err != nil {
		return network.AttachResult{}, err
	}
	if err := repairTaskSide(task, peer, a, mac, mtu); err != nil {
		return network.AttachResult{}, err
	}
	return network.AttachResult{Interface: peer.Attrs().Name, MAC: mac.String()}, nil
}

// findVeth returns the veth called name in the network's namespace and
// its peer in the task's (nil when it is elsewhere).
func findVeth(h, task *netlink.Handle, name string) (veth, peer netlink.Link) {
	veth, err := h.LinkByName(name)
	if err != nil {
		return nil, nil
	}
	if veth.Type() != "veth" {
		return veth, nil
	}
	return veth, peerIn(task, veth)
}

// peerIn returns veth's peer when it is in the namespace of task.
func peerIn(task *netlink.Handle, veth netlink.Link) netlink.Link {
	p, err := task.LinkByIndex(veth.Attrs().ParentIndex)
	if err != nil || p.Type() != "veth" || p.Attrs().ParentIndex != veth.Attrs().Index {
		return nil
	}
	return p
}

// freeEthName returns the first ethN, N ≥ 1, the task's namespace lacks.
func freeEthName(task *netlink.Handle) (string, error) {
	links, err := task.LinkList()
	if err != nil {
		return "", fmt.Errorf("list the task's links: %w", err)
	}
	used := map[string]bool{}
	for _, l := range links {
		used[l.Attrs().Name] = true
	}
	for i := 1; ; i++ {
		if n := fmt.Sprintf("eth%d", i); !used[n] {
			return n, nil
		}
	}
}

func repairVeth(h *netlink.Handle, veth, br netlink.Link, mtu int, alias string) error {
	name := veth.Attrs().Name
	if veth.Attrs().MTU != mtu {
		if err := h.LinkSetMTU(veth, mtu); err != nil {
			return fmt.Errorf("%s MTU: %w", name, err)
		}
	}
	if veth.Attrs().MasterIndex != br.Attrs().Index {
		if err := h.LinkSetMaster(veth, br); err != nil {
			return fmt.Errorf("%s on the bridge: %w", name, err)
		}
	}
	if veth.Attrs().Alias != alias {
		if err := h.LinkSetAlias(veth, alias); err != nil {
			return fmt.Errorf("%s alias: %w", name, err)
		}
	}
	if err := h.LinkSetUp(veth); err != nil {
		return fmt.Errorf("%s up: %w", name, err)
	}
	return nil
}

// repairTaskSide gives the task's interface its MAC, MTU and address (the
// kernel adds the subnet's on-link route with it) and sets it up; the
// task's other routes are left alone.
func repairTaskSide(task *netlink.Handle, peer netlink.Link, a network.Attachment, mac net.HardwareAddr, mtu int) error {
	name := peer.Attrs().Name
	if peer.Attrs().HardwareAddr.String() != mac.String() {
		if err := task.LinkSetHardwareAddr(peer, mac); err != nil {
			return fmt.Errorf("task's %s MAC %s: %w", name, mac, err)
		}
	}
	if peer.Attrs().MTU != mtu {
		if err := task.LinkSetMTU(peer, mtu); err != nil {
			return fmt.Errorf("task's %s MTU: %w", name, err)
		}
	}
	if err := syncAddr(task, peer, a.Address); err != nil {
		return fmt.Errorf("task's %w", err)
	}
	if err := task.LinkSetUp(peer); err != nil {
		return fmt.Errorf("task's %s up: %w", name, err)
	}
	return nil
}

// Detach deletes the task's veth; its peer in the task's namespace goes
// with it.
func (d *Driver) Detach(ctx context.Context, networkID, taskID string) error {
	cfg, _, unlock, err := d.start(ctx, networkID)
	if err != nil {
		return err
	}
	defer unlock()
	nn, err := d.openNet(cfg, networkID)
	if errors.Is(err, sdk.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("detach task %s from network %s: %w", taskID, networkID, err)
	}
	defer nn.close()
	veth, err := nn.h.LinkByName(vethName(taskID))
	if notFound(err) {
		return nil
	}
	if err == nil {
		err = nn.h.LinkDel(veth)
	}
	if err != nil && !notFound(err) {
		return fmt.Errorf("detach task %s from network %s: %w", taskID, networkID, err)
	}
	d.log.Debug("task detached", "network_id", networkID, "task_id", taskID)
	return nil
}
