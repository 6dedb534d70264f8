package types

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
)

func TestValidateNetworkSpec(t *testing.T) {
	tests := []struct {
		name string
		spec NetworkSpec
		want string // "" for valid
	}{
		{"defaults", NetworkSpec{Name: "backend"}, ""},
		{"everything", NetworkSpec{Name: "my_net.1", Subnet: "10.20.0.0/16", Gateway: "10.20.0.254", IPRange: "10.20.1.0/24",
			Attachable: true, Internal: true, Labels: map[string]string{"a": "b"}, Options: map[string]string{"mtu": "1400"}}, ""},
		{"a /30", NetworkSpec{Name: "n", Subnet: "10.20.0.0/30"}, ""},
		{"no name", NetworkSpec{}, "a network name is required"},
		{"bad name", NetworkSpec{Name: "-net"}, `invalid network name "-net": use letters, digits`},
		{"long name", NetworkSpec{Name: strings.Repeat("n", 65)}, "at most 64 are allowed"},
		{"unknown driver", NetworkSpec{Name: "n", Driver: "bridge"}, `unknown network driver "bridge": use overlay`},
		{"malformed subnet", NetworkSpec{Name: "n", Subnet: "10.20.0.0/33"}, `invalid subnet "10.20.0.0/33": give a CIDR such as 10.20.0.0/16`},
		{"subnet without a length", NetworkSpec{Name: "n", Subnet: "10.20.0.0"}, `invalid subnet "10.20.0.0": give a CIDR`},
		{"host bits", NetworkSpec{Name: "n", Subnet: "10.20.0.1/16"}, "invalid subnet 10.20.0.1/16: it has host bits set: use 10.20.0.0/16"},
		{"IPv6", NetworkSpec{Name: "n", Subnet: "fd00::/64"}, "invalid subnet fd00::/64: only IPv4 networks are supported"},
		{"too small", NetworkSpec{Name: "n", Subnet: "10.20.0.0/31"}, "subnet 10.20.0.0/31 is too small: it has no room for addresses: use a /30 or larger"},
		{"malformed gateway", NetworkSpec{Name: "n", Subnet: "10.20.0.0/16", Gateway: "10.20.0"}, `invalid gateway "10.20.0": give an IP address such as 10.20.0.1`},
		{"gateway outside", NetworkSpec{Name: "n", Subnet: "10.20.0.0/16", Gateway: "10.21.0.1"}, "gateway 10.21.0.1 is outside subnet 10.20.0.0/16: give an address of the subnet"},
		{"gateway is the broadcast", NetworkSpec{Name: "n", Subnet: "10.20.0.0/16", Gateway: "10.20.255.255"}, "gateway 10.20.255.255 is the network or broadcast address"},
		{"gateway is the network", NetworkSpec{Name: "n", Subnet: "10.20.0.0/16", Gateway: "10.20.0.0"}, "gateway 10.20.0.0 is the network or broadcast address"},
		{"gateway without subnet", NetworkSpec{Name: "n", Gateway: "10.20.0.1"}, "a gateway needs a subnet: give --subnet too"},
		{"malformed ip range", NetworkSpec{Name: "n", Subnet: "10.20.0.0/16", IPRange: "x"}, `invalid ip range "x": give a CIDR`},
		{"ip range outside", NetworkSpec{Name: "n", Subnet: "10.20.0.0/16", IPRange: "10.30.0.0/24"}, "ip range 10.30.0.0/24 is outside subnet 10.20.0.0/16: give a range inside the subnet"},
		{"ip range larger", NetworkSpec{Name: "n", Subnet: "10.20.0.0/16", IPRange: "10.0.0.0/8"}, "ip range 10.0.0.0/8 is outside subnet 10.20.0.0/16"},
		{"ip range without subnet", NetworkSpec{Name: "n", IPRange: "10.20.0.0/24"}, "an ip range needs a subnet: give --subnet too"},
		{"bad label", NetworkSpec{Name: "n", Labels: map[string]string{"a b": ""}}, `invalid label key "a b"`},
		{"bad option", NetworkSpec{Name: "n", Options: map[string]string{"": "x"}}, `invalid option key ""`},
		{"Docker's mtu", NetworkSpec{Name: "n", Options: map[string]string{"com.docker.network.driver.mtu": "1400"}}, ""},
		{"bad mtu", NetworkSpec{Name: "n", Options: map[string]string{"mtu": "big"}}, `option mtu="big": give an MTU from 576 to 9000`},
		{"unknown option", NetworkSpec{Name: "n", Options: map[string]string{"encrypted": ""}}, `unknown option "encrypted" for driver overlay: it takes mtu`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.spec
			s.Normalize()
			checkValid(t, s.Validate(), tt.want)
		})
	}
}

// checkValid fails unless err is nil (want "") or contains want.
func checkValid(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("Validate() = %v, want nil", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Fatalf("Validate() = %v, want an error containing %q", err, want)
	}
}

func TestNetworkSpecNormalize(t *testing.T) {
	s := NetworkSpec{Name: "n"}
	s.Normalize()
	if s.Driver != DriverOverlay {
		t.Errorf("driver = %q, want overlay", s.Driver)
	}
}

func TestValidateServiceNetworks(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*ServiceSpec)
		want   string
	}{
		{"two networks with aliases", func(s *ServiceSpec) {
			s.Networks = []NetworkAttachmentConfig{{Target: "n1", Aliases: []string{"db", "db.internal"}}, {Target: "n2"}}
		}, ""},
		{"dnsrr with host ports", func(s *ServiceSpec) {
			s.Endpoint.Mode = EndpointDNSRR
			s.Endpoint.Ports = []PortConfig{{Protocol: ProtocolTCP, TargetPort: 80, PublishedPort: 80, PublishMode: PublishHost}}
		}, ""},
		{"dnsrr with ingress ports", func(s *ServiceSpec) {
			s.Endpoint.Mode = EndpointDNSRR
			s.Endpoint.Ports = []PortConfig{{Protocol: ProtocolTCP, TargetPort: 80, PublishMode: PublishIngress}}
		}, "port 80: endpoint mode dnsrr cannot publish through the routing mesh (ingress)"},
		{"bad endpoint mode", func(s *ServiceSpec) { s.Endpoint.Mode = "rr" }, `invalid endpoint mode "rr": use vip or dnsrr`},
		{"duplicate network", func(s *ServiceSpec) {
			s.Networks = []NetworkAttachmentConfig{{Target: "n1"}, {Target: "n1"}}
		}, "network n1 is listed twice"},
		{"empty target", func(s *ServiceSpec) { s.Networks = []NetworkAttachmentConfig{{}} }, "names no network: use --network NAME"},
		{"bad alias", func(s *ServiceSpec) {
			s.Networks = []NetworkAttachmentConfig{{Target: "n1", Aliases: []string{"db_1"}}}
		}, `invalid alias "db_1" on network n1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			tt.mutate(&s)
			checkValid(t, s.Validate(), tt.want)
		})
	}
	if s := validSpec(); s.Endpoint.Mode != EndpointVIP {
		t.Errorf("Normalize left endpoint mode %q, want vip", s.Endpoint.Mode)
	}
}

func TestNetworkCopiesAreDeep(t *testing.T) {
	n := &Network{ID: "n1", Spec: NetworkSpec{Name: "net", Labels: map[string]string{"a": "b"}, Options: map[string]string{"o": "1"}},
		Subnet: netip.MustParsePrefix("10.0.0.0/24")}
	nc := n.Copy()
	nc.Spec.Labels["a"] = "x"
	nc.Spec.Options["o"] = "x"
	if n.Spec.Labels["a"] != "b" || n.Spec.Options["o"] != "1" {
		t.Error("Network.Copy is shallow")
	}

	vip := netip.MustParsePrefix("10.0.0.2/24")
	s := &Service{ID: "s1", Spec: validSpec(), Endpoint: Endpoint{VirtualIPs: []EndpointVirtualIP{{NetworkID: "n1", Addr: vip}}}}
	s.Spec.Networks = []NetworkAttachmentConfig{{Target: "n1", Aliases: []string{"db"}}}
	sc := s.Copy()
	sc.Spec.Networks[0].Aliases[0] = "x"
	sc.Spec.Networks[0].Target = "x"
	sc.Endpoint.VirtualIPs[0].NetworkID = "x"
	if s.Spec.Networks[0].Aliases[0] != "db" || s.Spec.Networks[0].Target != "n1" || s.Endpoint.VirtualIPs[0].NetworkID != "n1" {
		t.Error("Service.Copy shares the networks or the virtual IPs")
	}

	tk := &Task{ID: "t1", Networks: []NetworkAttachment{{NetworkID: "n1", Addresses: []netip.Prefix{vip}}}}
	tc := tk.Copy()
	tc.Networks[0].Addresses[0] = netip.Prefix{}
	if tk.Networks[0].Addresses[0] != vip {
		t.Error("Task.Copy shares the network attachments")
	}
}

func TestNetworkAttachmentsJSON(t *testing.T) {
	tk := &Task{ID: "t1", Networks: []NetworkAttachment{{NetworkID: "n1", Addresses: []netip.Prefix{netip.MustParsePrefix("10.0.0.3/24")}}}}
	b, err := json.Marshal(tk)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"networks":[{"network_id":"n1","addresses":["10.0.0.3/24"]}]`) {
		t.Errorf("task JSON = %s", b)
	}
	var back Task
	if err := json.Unmarshal(b, &back); err != nil || back.Networks[0].Addresses[0].String() != "10.0.0.3/24" {
		t.Errorf("round trip = %+v, %v", back.Networks, err)
	}
	svc := Service{Endpoint: Endpoint{VirtualIPs: []EndpointVirtualIP{{NetworkID: "n1", Addr: netip.MustParsePrefix("10.0.0.2/24")}}}}
	if b, _ := json.Marshal(svc.Endpoint); string(b) != `{"virtual_ips":[{"network_id":"n1","addr":"10.0.0.2/24"}]}` {
		t.Errorf("endpoint JSON = %s", b)
	}
	if tk.AwaitsAddresses() || !(&Task{Networks: []NetworkAttachment{{NetworkID: "n1"}}}).AwaitsAddresses() || (&Task{}).AwaitsAddresses() {
		t.Error("AwaitsAddresses: want true only for a task with a network and no address on it")
	}
}
