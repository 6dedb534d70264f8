package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

func TestNetworksRoundTrip(t *testing.T) {
	b := backend(t)
	c := start(t, b)
	ctx := context.Background()

	front, err := c.CreateNetwork(ctx, types.NetworkSpec{Name: "front", Subnet: "10.20.0.0/24", Gateway: "10.20.0.254",
		IPRange: "10.20.0.0/25", Attachable: true, Labels: map[string]string{"team": "web"}, Options: map[string]string{"mtu": "1400"}})
	if err != nil {
		t.Fatal(err)
	}
	if front.Spec.Driver != types.DriverOverlay || front.Subnet.String() != "10.20.0.0/24" || front.Gateway.String() != "10.20.0.254" ||
		front.IPRange.String() != "10.20.0.0/25" || front.VNI == 0 || !front.Spec.Attachable || front.Spec.Labels["team"] != "web" || front.Spec.Options["mtu"] != "1400" {
		t.Errorf("created %+v", front)
	}
	back, err := c.CreateNetwork(ctx, types.NetworkSpec{Name: "back", Internal: true})
	if err != nil {
		t.Fatal(err)
	}
	if !back.Subnet.IsValid() || back.Subnet.Overlaps(front.Subnet) || back.VNI == front.VNI {
		t.Errorf("back got subnet %s VNI %d beside front's %s VNI %d: want a free subnet and its own VNI", back.Subnet, back.VNI, front.Subnet, front.VNI)
	}

	list, err := c.ListNetworks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Spec.Name != "back" || list[1].Spec.Name != "front" {
		t.Fatalf("list = %v, want back and front, by name", names(list))
	}
	for _, ref := range []string{"front", front.ID, front.ID[:6]} {
		got, err := c.GetNetwork(ctx, ref)
		if err != nil || got.ID != front.ID {
			t.Errorf("GetNetwork(%q) = %v, %v; want front", ref, got, err)
		}
	}
	if _, err := c.GetNetwork(ctx, "nope"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("GetNetwork(nope) = %v, want not found", err)
	}

	if err := c.RemoveNetwork(ctx, "back"); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveNetwork(ctx, "back"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("removing back twice: %v, want not found", err)
	}
	if _, err := c.CreateNetwork(ctx, types.NetworkSpec{Name: "spare"}); err != nil {
		t.Fatal(err)
	}
	pruned, err := c.PruneNetworks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(pruned, ",") != "front,spare" {
		t.Errorf("pruned %v, want front and spare (no service uses them)", pruned)
	}
	if pruned, err := c.PruneNetworks(ctx); err != nil || len(pruned) != 0 {
		t.Errorf("a second prune = %v, %v; want nothing", pruned, err)
	}
}

func TestNetworkInUse(t *testing.T) {
	b := backend(t)
	c := start(t, b)
	ctx := context.Background()
	n, err := c.CreateNetwork(ctx, types.NetworkSpec{Name: "front", Subnet: "10.30.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	s := spec("web", 1)
	s.Networks = []types.NetworkAttachmentConfig{{Target: "front", Aliases: []string{"www"}}}
	svc, err := c.CreateService(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(svc.Spec.Networks) != 1 || svc.Spec.Networks[0].Target != n.ID {
		t.Errorf("the service's networks are %+v: want front's ID %s in place of its name", svc.Spec.Networks, n.ID)
	}
	if svc.Spec.Endpoint.Mode != types.EndpointVIP {
		t.Errorf("endpoint mode %q, want vip by default", svc.Spec.Endpoint.Mode)
	}
	if vips := svc.Endpoint.VirtualIPs; len(vips) != 1 || vips[0].NetworkID != n.ID || !n.Subnet.Contains(vips[0].Addr.Addr()) {
		t.Errorf("virtual IPs %+v: want one on front (%s)", vips, n.Subnet)
	}
	got, err := c.GetService(ctx, "web")
	if err != nil || len(got.Endpoint.VirtualIPs) != 1 || got.Endpoint.VirtualIPs[0] != svc.Endpoint.VirtualIPs[0] {
		t.Errorf("GetService shows virtual IPs %+v (%v), want %+v", got.Endpoint.VirtualIPs, err, svc.Endpoint.VirtualIPs)
	}

	err = c.RemoveNetwork(ctx, "front")
	if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "web") {
		t.Errorf("removing a network in use: %v, want a conflict naming service web", err)
	}
	if pruned, err := c.PruneNetworks(ctx); err != nil || len(pruned) != 0 {
		t.Errorf("prune = %v, %v; want front kept", pruned, err)
	}
	if _, err := c.GetNetwork(ctx, "front"); err != nil {
		t.Errorf("front is gone: %v", err)
	}

	s = spec("api", 1)
	s.Networks = []types.NetworkAttachmentConfig{{Target: "nowhere"}}
	_, err = c.CreateService(ctx, s)
	if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), `network "nowhere" not found`) {
		t.Errorf("a service on an unknown network: %v, want invalid argument naming it", err)
	}
	if _, err := c.GetService(ctx, "api"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("service api was stored: %v", err)
	}
}

func TestCreateNetworkBadInputStoresNothing(t *testing.T) {
	b := backend(t)
	c := start(t, b)
	ctx := context.Background()
	if _, err := c.CreateNetwork(ctx, types.NetworkSpec{Name: "front", Subnet: "10.40.0.0/16"}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		spec types.NetworkSpec
		kind error
		msg  string
	}{
		{"overlapping subnet", types.NetworkSpec{Name: "n", Subnet: "10.40.3.0/24"}, errdefs.ErrConflict, "subnet 10.40.3.0/24 overlaps subnet 10.40.0.0/16 of network front"},
		{"malformed CIDR", types.NetworkSpec{Name: "n", Subnet: "10.50.0.0/33"}, errdefs.ErrInvalidArgument, `invalid subnet "10.50.0.0/33": give a CIDR such as 10.20.0.0/16`},
		{"host bits", types.NetworkSpec{Name: "n", Subnet: "10.50.0.1/24"}, errdefs.ErrInvalidArgument, "use 10.50.0.0/24"},
		{"unknown driver", types.NetworkSpec{Name: "n", Driver: "bridge"}, errdefs.ErrInvalidArgument, `unknown network driver "bridge": use overlay`},
		{"gateway outside", types.NetworkSpec{Name: "n", Subnet: "10.60.0.0/24", Gateway: "10.61.0.1"}, errdefs.ErrInvalidArgument, "gateway 10.61.0.1 is outside subnet 10.60.0.0/24"},
		{"name in use", types.NetworkSpec{Name: "front"}, errdefs.ErrConflict, `network name "front" is already in use`},
		{"bad name", types.NetworkSpec{Name: "no spaces"}, errdefs.ErrInvalidArgument, "no spaces"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.CreateNetwork(ctx, tt.spec)
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("CreateNetwork(%+v) = %v, want %v containing %q", tt.spec, err, tt.kind, tt.msg)
			}
			list, err := c.ListNetworks(ctx)
			if err != nil || len(list) != 1 {
				t.Errorf("after the refusal the networks are %v (%v), want front alone", names(list), err)
			}
		})
	}
	if _, err := c.CreateNetwork(ctx, types.NetworkSpec{}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("an empty spec: %v, want invalid argument", err)
	}
}

func names(list []*types.Network) []string {
	var out []string
	for _, n := range list {
		out = append(out, n.Spec.Name)
	}
	return out
}
