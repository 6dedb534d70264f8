package overlay

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/network"
)

func TestBadSettingsAreNamed(t *testing.T) {
	for _, tc := range []struct {
		settings map[string]string
		names    string
	}{
		{map[string]string{"vxlan_prot": "1"}, "vxlan_prot"},
		{map[string]string{setVXLANPort: "0"}, setVXLANPort},
		{map[string]string{setVXLANPort: "70000"}, setVXLANPort},
		{map[string]string{setLocalAddr: "10.0.0"}, setLocalAddr},
		{map[string]string{setPrefix: "toolong-"}, setPrefix},
		{map[string]string{setPrefix: "a/b"}, setPrefix},
		{map[string]string{setNodeID: "a b"}, setNodeID},
	} {
		_, err := parseSettings(tc.settings)
		if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.names) {
			t.Errorf("parseSettings(%v) = %v; want an invalid argument naming %s", tc.settings, err, tc.names)
		}
	}
	cfg, err := parseSettings(map[string]string{setVXLANPort: "4790", setLocalAddr: "127.0.0.2", setNodeID: "abcdefghij"})
	if err != nil || cfg.port != 4790 || cfg.local != netip.MustParseAddr("127.0.0.2") {
		t.Fatalf("parseSettings = %+v, %v", cfg, err)
	}
	if got := cfg.nsName("0123456789"); got != "hive-abcdefghij-0123456789" {
		t.Errorf("nsName = %q", got)
	}
	if got := cfg.nsName("a/b"); got != "hive-abcdefghij-x"+hash("a/b")[:16] {
		t.Errorf("nsName of an ID that is no file name = %q", got)
	}
	if got := (config{prefix: "hivet"}).tmpVXLANName("x"); len(got) > maxIfName {
		t.Errorf("tmpVXLANName = %q, longer than %d", got, maxIfName)
	}
}

func TestBadNetworksAreRefused(t *testing.T) {
	good := network.Network{ID: "n1", VNI: 10, Subnet: netip.MustParsePrefix("10.1.0.0/24"), Gateway: netip.MustParseAddr("10.1.0.1")}
	for name, mod := range map[string]func(*network.Network){
		"no ID":           func(n *network.Network) { n.ID = "" },
		"VNI zero":        func(n *network.Network) { n.VNI = 0 },
		"VNI too big":     func(n *network.Network) { n.VNI = 1 << 24 },
		"no subnet":       func(n *network.Network) { n.Subnet = netip.Prefix{} },
		"gateway outside": func(n *network.Network) { n.Gateway = netip.MustParseAddr("10.2.0.1") },
		"tiny MTU":        func(n *network.Network) { n.MTU = 20 },
		"an option":       func(n *network.Network) { n.Options = map[string]string{"encrypted": ""} },
	} {
		n := good
		mod(&n)
		if err := checkNetwork(n); !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("%s: checkNetwork = %v, want invalid argument", name, err)
		}
	}
	if err := checkNetwork(good); err != nil {
		t.Errorf("checkNetwork(good) = %v", err)
	}
}

func TestMACsAreDerivedAsDockersAre(t *testing.T) {
	if got := network.MACFor(netip.MustParseAddr("10.200.0.2")); got != "02:42:0a:c8:00:02" {
		t.Errorf("MACFor(10.200.0.2) = %s", got)
	}
}
