package vip

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/hiveorch/hive/core/types"
)

// svc is a service in mode vip with virtual IPs given as "net=addr/len"
// and target ports.
func svc(id string, vips string, ports ...types.PortConfig) *types.Service {
	s := &types.Service{ID: id, Spec: types.ServiceSpec{Name: id}}
	for v := range strings.FieldsSeq(vips) {
		nw, addr, _ := strings.Cut(v, "=")
		s.Endpoint.VirtualIPs = append(s.Endpoint.VirtualIPs, types.EndpointVirtualIP{NetworkID: nw, Addr: netip.MustParsePrefix(addr)})
		s.Spec.Networks = append(s.Spec.Networks, types.NetworkAttachmentConfig{Target: nw})
	}
	s.Endpoint.Ports = ports
	return s
}

// tsk is a running task of a service with addresses given as
// "net=addr/len".
func tsk(id, service string, addrs string) *types.Task {
	t := &types.Task{ID: id, ServiceID: service, DesiredState: types.TaskStateRunning,
		Status: types.TaskStatus{State: types.TaskStateRunning, Addresses: []string{"172.17.0.2"}}}
	for a := range strings.FieldsSeq(addrs) {
		nw, addr, _ := strings.Cut(a, "=")
		att := types.NetworkAttachment{NetworkID: nw}
		if addr != "" {
			att.Addresses = []netip.Prefix{netip.MustParsePrefix(addr)}
		}
		t.Networks = append(t.Networks, att)
	}
	return t
}

func nets(ids ...string) []*types.Network {
	out := make([]*types.Network, len(ids))
	for i, id := range ids {
		out[i] = &types.Network{ID: id}
	}
	return out
}

func addrs(s string) []netip.Addr {
	out := []netip.Addr{}
	for a := range strings.FieldsSeq(s) {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func key(vip string, proto types.Protocol, port uint16) Key {
	return Key{VIP: netip.MustParseAddr(vip), Protocol: proto, Port: port}
}

func TestBuild(t *testing.T) {
	const tcp, udp = types.ProtocolTCP, types.ProtocolUDP
	asker := tsk("client", "s-client", "n1=10.0.1.50/24 n2=10.0.2.50/24")
	web := func() *types.Service {
		return svc("s-web", "n1=10.0.1.2/24 n3=10.0.3.2/24",
			types.PortConfig{Protocol: tcp, TargetPort: 80, PublishedPort: 8080},
			types.PortConfig{Protocol: udp, TargetPort: 53, PublishedPort: 30053})
	}
	webTasks := func() []*types.Task {
		return []*types.Task{
			tsk("w2", "s-web", "n1=10.0.1.11/24 n3=10.0.3.11/24"),
			tsk("w1", "s-web", "n1=10.0.1.10/24 n3=10.0.3.10/24"),
		}
	}
	for _, tc := range []struct {
		name     string
		asker    *types.Task
		services []*types.Service
		tasks    []*types.Task
		networks []*types.Network
		want     Rules
	}{
		{
			name:     "each target port of a shared network, backends sorted",
			asker:    asker,
			services: []*types.Service{web()},
			tasks:    webTasks(),
			networks: nets("n1", "n2", "n3"),
			want: Rules{
				key("10.0.1.2", tcp, 80): addrs("10.0.1.10 10.0.1.11"),
				key("10.0.1.2", udp, 53): addrs("10.0.1.10 10.0.1.11"),
			},
		},
		{
			name:     "no published port: every port",
			asker:    asker,
			services: []*types.Service{svc("s-db", "n2=10.0.2.2/24")},
			tasks:    []*types.Task{tsk("d1", "s-db", "n2=10.0.2.10/24")},
			networks: nets("n1", "n2"),
			want:     Rules{key("10.0.2.2", "", 0): addrs("10.0.2.10")},
		},
		{
			name:  "the spec's ports while none is allocated; tcp by default; a target port once",
			asker: asker,
			services: func() []*types.Service {
				s := svc("s-db", "n2=10.0.2.2/24")
				s.Spec.Endpoint.Ports = []types.PortConfig{{TargetPort: 5432}, {Protocol: tcp, TargetPort: 5432, PublishedPort: 5433}}
				return []*types.Service{s}
			}(),
			networks: nets("n2"),
			want:     Rules{key("10.0.2.2", tcp, 5432): {}},
		},
		{
			name:     "no running task: the VIP refuses",
			asker:    asker,
			services: []*types.Service{web()},
			networks: nets("n1"),
			want:     Rules{key("10.0.1.2", tcp, 80): {}, key("10.0.1.2", udp, 53): {}},
		},
		{
			name:     "tasks told to stop, not yet running (health check pending) or without an address are out",
			asker:    asker,
			services: []*types.Service{svc("s-db", "n1=10.0.1.3/24")},
			tasks: func() []*types.Task {
				stopping := tsk("d1", "s-db", "n1=10.0.1.20/24")
				stopping.DesiredState = types.TaskStateShutdown
				starting := tsk("d2", "s-db", "n1=10.0.1.21/24")
				starting.Status.State = types.TaskStateStarting
				return []*types.Task{stopping, starting, tsk("d3", "s-db", "n1="), tsk("d4", "s-db", "n1=10.0.1.23/24"), tsk("x1", "s-other", "n1=10.0.1.24/24")}
			}(),
			networks: nets("n1"),
			want:     Rules{key("10.0.1.3", "", 0): addrs("10.0.1.23")},
		},
		{
			name:     "a network being removed counts for nothing",
			asker:    asker,
			services: []*types.Service{web()},
			tasks:    webTasks(),
			networks: nets("n2", "n3"),
			want:     Rules{},
		},
		{
			name:     "a service on networks the task is not on is out of reach",
			asker:    tsk("client", "s-client", "n2=10.0.2.50/24"),
			services: []*types.Service{web()},
			tasks:    webTasks(),
			networks: nets("n1", "n2", "n3"),
			want:     Rules{},
		},
		{
			name:  "dnsrr services have no VIP to balance",
			asker: asker,
			services: func() []*types.Service {
				s := web()
				s.Spec.Endpoint.Mode = types.EndpointDNSRR
				return []*types.Service{s}
			}(),
			tasks:    webTasks(),
			networks: nets("n1"),
			want:     Rules{},
		},
		{
			name:     "the asker's own service is balanced too",
			asker:    tsk("w1", "s-web", "n1=10.0.1.10/24"),
			services: []*types.Service{web(), nil},
			tasks:    append(webTasks(), nil),
			networks: append(nets("n1"), nil),
			want: Rules{
				key("10.0.1.2", tcp, 80): addrs("10.0.1.10 10.0.1.11"),
				key("10.0.1.2", udp, 53): addrs("10.0.1.10 10.0.1.11"),
			},
		},
		{
			name:     "no asker",
			services: []*types.Service{web()},
			tasks:    webTasks(),
			networks: nets("n1"),
			want:     Rules{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Build(tc.asker, tc.services, tc.tasks, tc.networks)
			if !got.Equal(tc.want) {
				t.Errorf("Build = %v\nwant    %v", got, tc.want)
			}
		})
	}
}

func TestRulesEqual(t *testing.T) {
	k := key("10.0.1.2", types.ProtocolTCP, 80)
	for _, tc := range []struct {
		a, b Rules
		want bool
	}{
		{Rules{k: nil}, Rules{k: {}}, true},
		{nil, Rules{}, true},
		{Rules{k: addrs("10.0.1.5")}, Rules{k: addrs("10.0.1.6")}, false},
		{Rules{k: nil}, Rules{}, false},
	} {
		if got := tc.a.Equal(tc.b); got != tc.want {
			t.Errorf("%v.Equal(%v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestKeyString(t *testing.T) {
	if s := key("10.0.1.2", types.ProtocolUDP, 53).String(); s != "10.0.1.2 53/udp" {
		t.Errorf("String = %q", s)
	}
	if s := key("10.0.1.2", "", 0).String(); s != "10.0.1.2" {
		t.Errorf("String = %q", s)
	}
}

// TestApplyRefusesWhatItCannotProgram: rules Apply cannot express are an
// error before any namespace is touched.
func TestApplyRefusesWhatItCannotProgram(t *testing.T) {
	for _, tc := range []struct {
		r    Rules
		want string
	}{
		{Rules{key("fd00::2", "", 0): nil}, "not an IPv4 address"},
		{Rules{key("10.0.1.2", "sctp", 80): nil}, `unknown protocol "sctp"`},
		{Rules{key("10.0.1.2", types.ProtocolTCP, 0): nil}, "without a port"},
		{Rules{key("10.0.1.2", "", 0): addrs("fd00::5")}, "backend fd00::5 is not an IPv4 address"},
	} {
		if err := Apply("/nonexistent", tc.r); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Apply(%v) = %v, want an error saying %q", tc.r, err, tc.want)
		}
	}
}
