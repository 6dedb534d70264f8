package controlapi

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/ipam"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

func mustNetwork(t *testing.T, s *Server, spec types.NetworkSpec) *types.Network {
	t.Helper()
	n, err := s.CreateNetwork(context.Background(), spec)
	if err != nil {
		t.Fatalf("create network %s: %v", spec.Name, err)
	}
	return n
}

// onNetworks is a service spec attached to the networks named.
func onNetworks(name string, networks ...string) types.ServiceSpec {
	sp := spec(name)
	for _, n := range networks {
		sp.Networks = append(sp.Networks, types.NetworkAttachmentConfig{Target: n})
	}
	return sp
}

// vips prints a service's virtual IPs as network=addr, by network name.
func vips(t *testing.T, s *Server, svc *types.Service) string {
	t.Helper()
	var out []string
	for _, v := range svc.Endpoint.VirtualIPs {
		n, err := s.GetNetwork(context.Background(), v.NetworkID)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n.Spec.Name+"="+v.Addr.String())
	}
	return strings.Join(out, " ")
}

func TestCreateNetworkAllocatesSubnetGatewayAndVNI(t *testing.T) {
	s, _ := newServer(t)
	ctx := context.Background()
	a := mustNetwork(t, s, types.NetworkSpec{Name: "a", Labels: map[string]string{"tier": "front"}})
	if a.Spec.Driver != types.DriverOverlay || a.Subnet.String() != "10.0.0.0/24" || a.Gateway.String() != "10.0.0.1" ||
		a.IPRange != a.Subnet || a.VNI != ipam.MinVNI || a.Version == 0 {
		t.Fatalf("network a = %+v: want overlay, 10.0.0.0/24, gateway 10.0.0.1, VNI 4096", a)
	}
	b := mustNetwork(t, s, types.NetworkSpec{Name: "b"})
	if b.Subnet.String() != "10.0.1.0/24" || b.VNI != ipam.MinVNI+1 {
		t.Fatalf("network b = %s VNI %d, want 10.0.1.0/24 and 4097", b.Subnet, b.VNI)
	}
	c := mustNetwork(t, s, types.NetworkSpec{Name: "c", Subnet: "10.20.0.0/16", Gateway: "10.20.0.254", IPRange: "10.20.5.0/24"})
	if c.Subnet.String() != "10.20.0.0/16" || c.Gateway.String() != "10.20.0.254" || c.IPRange.String() != "10.20.5.0/24" {
		t.Fatalf("network c = %+v", c)
	}
	// The next pooled subnet skips none: c lies outside 10.0.x.
	if d := mustNetwork(t, s, types.NetworkSpec{Name: "d"}); d.Subnet.String() != "10.0.2.0/24" {
		t.Fatalf("network d = %s, want 10.0.2.0/24", d.Subnet)
	}

	list, _ := s.ListNetworks(ctx)
	var names []string
	for _, n := range list {
		names = append(names, n.Spec.Name)
	}
	if strings.Join(names, ",") != "a,b,c,d" {
		t.Fatalf("ListNetworks = %v, want a,b,c,d", names)
	}
	for _, ref := range []string{"a", a.ID, a.ID[:8]} {
		if got, err := s.GetNetwork(ctx, ref); err != nil || got.ID != a.ID || got.Spec.Labels["tier"] != "front" {
			t.Fatalf("GetNetwork(%q) = %+v, %v", ref, got, err)
		}
	}
	if _, err := s.GetNetwork(ctx, "nope"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("GetNetwork(nope) = %v, want not found", err)
	}
	_, err := s.CreateNetwork(ctx, types.NetworkSpec{Name: "a"})
	if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), `network name "a" is already in use`) {
		t.Fatalf("second network a: %v", err)
	}
}

func TestCreateNetworkRefusesBadInputAndCreatesNothing(t *testing.T) {
	s, _ := newServer(t)
	ctx := context.Background()
	mustNetwork(t, s, types.NetworkSpec{Name: "taken", Subnet: "10.10.0.0/16"})
	tests := []struct {
		name string
		spec types.NetworkSpec
		kind error
		want string
	}{
		{"overlapping subnet", types.NetworkSpec{Name: "n", Subnet: "10.10.4.0/24"}, errdefs.ErrConflict,
			"network n: subnet 10.10.4.0/24 overlaps subnet 10.10.0.0/16 of network taken: choose a subnet outside it"},
		{"enclosing subnet", types.NetworkSpec{Name: "n", Subnet: "10.0.0.0/8"}, errdefs.ErrConflict, "overlaps subnet 10.10.0.0/16 of network taken"},
		{"malformed CIDR", types.NetworkSpec{Name: "n", Subnet: "10.300.0.0/16"}, errdefs.ErrInvalidArgument, `invalid subnet "10.300.0.0/16": give a CIDR such as 10.20.0.0/16`},
		{"unknown driver", types.NetworkSpec{Name: "n", Driver: "macvlan"}, errdefs.ErrInvalidArgument, `unknown network driver "macvlan": use overlay`},
		{"gateway outside", types.NetworkSpec{Name: "n", Subnet: "10.30.0.0/24", Gateway: "10.31.0.1"}, errdefs.ErrInvalidArgument, "gateway 10.31.0.1 is outside subnet 10.30.0.0/24"},
		{"ip range outside", types.NetworkSpec{Name: "n", Subnet: "10.30.0.0/24", IPRange: "10.31.0.0/24"}, errdefs.ErrInvalidArgument, "ip range 10.31.0.0/24 is outside subnet 10.30.0.0/24"},
		{"bad name", types.NetworkSpec{Name: "my net"}, errdefs.ErrInvalidArgument, `invalid network name "my net"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.CreateNetwork(ctx, tt.spec)
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("CreateNetwork = %v, want %v containing %q", err, tt.kind, tt.want)
			}
			if list, _ := s.ListNetworks(ctx); len(list) != 1 {
				t.Fatalf("%d networks after a refused create, want 1", len(list))
			}
		})
	}
}

func TestNetworkPool(t *testing.T) {
	s, _ := newServer(t)
	if err := s.SetNetworkPool(ipam.Pool{Prefix: netip.MustParsePrefix("172.20.0.0/16"), Size: 8}); err == nil {
		t.Fatal("a size shorter than the pool was accepted")
	}
	if err := s.SetNetworkPool(ipam.Pool{Prefix: netip.MustParsePrefix("172.20.0.0/28"), Size: 29}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"172.20.0.0/29", "172.20.0.8/29"} {
		if n := mustNetwork(t, s, types.NetworkSpec{Name: "n" + want[9:10]}); n.Subnet.String() != want {
			t.Fatalf("subnet %s, want %s", n.Subnet, want)
		}
	}
	_, err := s.CreateNetwork(context.Background(), types.NetworkSpec{Name: "full"})
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "has no free /29 subnet left: give the network a --subnet") {
		t.Fatalf("create from a full pool: %v", err)
	}
	// A given subnet needs no room in the pool.
	mustNetwork(t, s, types.NetworkSpec{Name: "own", Subnet: "192.168.7.0/24"})
}

// TestConcurrentNetworkCreatesNeverOverlap creates networks from many
// goroutines at once: each gets its own subnet and VXLAN ID.
func TestConcurrentNetworkCreatesNeverOverlap(t *testing.T) {
	s, _ := newServer(t)
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.CreateNetwork(context.Background(), types.NetworkSpec{Name: fmt.Sprintf("n%d", i)})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	list, _ := s.ListNetworks(context.Background())
	subnets, vnis := map[netip.Prefix]bool{}, map[uint32]bool{}
	for _, nw := range list {
		if subnets[nw.Subnet] || vnis[nw.VNI] {
			t.Fatalf("network %s shares subnet %s or VNI %d", nw.Spec.Name, nw.Subnet, nw.VNI)
		}
		subnets[nw.Subnet], vnis[nw.VNI] = true, true
	}
	if len(list) != n {
		t.Fatalf("%d networks, want %d", len(list), n)
	}
}

func TestRemoveNetworkRefusedWhileUsedNamingTheServices(t *testing.T) {
	s, _ := newServer(t)
	ctx := context.Background()
	mustNetwork(t, s, types.NetworkSpec{Name: "backend"})
	if _, err := s.CreateService(ctx, onNetworks("api", "backend")); err != nil {
		t.Fatal(err)
	}
	err := s.RemoveNetwork(ctx, "backend")
	if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "network backend is in use by service api: take it from the service first ('hive service update --network-rm backend api')") {
		t.Fatalf("rm while one service uses it: %v", err)
	}
	if _, err := s.CreateService(ctx, onNetworks("db", "backend")); err != nil {
		t.Fatal(err)
	}
	err = s.RemoveNetwork(ctx, "backend")
	if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "network backend is in use by services api, db") {
		t.Fatalf("rm while two services use it: %v", err)
	}
	for _, svc := range []string{"api", "db"} {
		if err := s.RemoveService(ctx, svc); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RemoveNetwork(ctx, "backend"); err != nil {
		t.Fatalf("rm once unused: %v", err)
	}
	if _, err := s.GetNetwork(ctx, "backend"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("network still there: %v", err)
	}
	if err := s.RemoveNetwork(ctx, "backend"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("rm of a removed network: %v, want not found", err)
	}
}

func TestRemoveNetworkWaitsForTasksStillAttached(t *testing.T) {
	s, st := newServer(t)
	ctx := context.Background()
	n := mustNetwork(t, s, types.NetworkSpec{Name: "backend"})
	addr := netip.MustParsePrefix("10.0.0.3/24")
	err := st.Update(ctx, func(tx store.Tx) error {
		return tx.CreateTask(&types.Task{ID: "t1", ServiceID: "gone", ServiceName: "old", Slot: 1, NodeID: "n1",
			DesiredState: types.TaskStateRemove, Status: types.TaskStatus{State: types.TaskStateRunning},
			Networks: []types.NetworkAttachment{{NetworkID: n.ID, Addresses: []netip.Prefix{addr}}}})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.RemoveNetwork(ctx, "backend")
	if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "still has tasks attached that are stopping (old.1)") {
		t.Fatalf("rm with a task stopping: %v", err)
	}
	if names, _ := s.PruneNetworks(ctx); len(names) != 0 {
		t.Fatalf("prune removed %v while a task is attached", names)
	}
	err = st.Update(ctx, func(tx store.Tx) error {
		tk := tx.Task("t1").Copy()
		tk.Status.State = types.TaskStateShutdown
		return tx.UpdateTask(tk)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveNetwork(ctx, "backend"); err != nil {
		t.Fatalf("rm once the task stopped: %v", err)
	}
}

func TestPruneNetworksRemovesTheUnused(t *testing.T) {
	s, _ := newServer(t)
	ctx := context.Background()
	for _, name := range []string{"used", "spare2", "spare1"} {
		mustNetwork(t, s, types.NetworkSpec{Name: name})
	}
	if _, err := s.CreateService(ctx, onNetworks("web", "used")); err != nil {
		t.Fatal(err)
	}
	names, err := s.PruneNetworks(ctx)
	if err != nil || !slices.Equal(names, []string{"spare1", "spare2"}) {
		t.Fatalf("PruneNetworks = %v, %v, want spare1, spare2", names, err)
	}
	if list, _ := s.ListNetworks(ctx); len(list) != 1 || list[0].Spec.Name != "used" {
		t.Fatalf("left %d networks, want only used", len(list))
	}
	if names, err := s.PruneNetworks(ctx); err != nil || len(names) != 0 {
		t.Fatalf("second prune = %v, %v, want nothing", names, err)
	}
}

func TestServiceOnAnUnknownNetworkIsRefusedAndNothingCreated(t *testing.T) {
	s, _ := newServer(t)
	ctx := context.Background()
	mustNetwork(t, s, types.NetworkSpec{Name: "front"})
	_, err := s.CreateService(ctx, onNetworks("web", "front", "nowhere"))
	if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), `network "nowhere" not found`) {
		t.Fatalf("create on an unknown network: %v", err)
	}
	if list, _ := s.ListServices(ctx); len(list) != 0 {
		t.Fatalf("%d services after a refused create", len(list))
	}
	front, _ := s.GetNetwork(ctx, "front")
	_, err = s.CreateService(ctx, onNetworks("web", "front", front.ID[:6]))
	if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), `network front is given twice (as "front" and "`+front.ID[:6]+`")`) {
		t.Fatalf("one network twice: %v", err)
	}
}

func TestVirtualIPsFollowTheServiceNetworks(t *testing.T) {
	s, _ := newServer(t)
	ctx := context.Background()
	front := mustNetwork(t, s, types.NetworkSpec{Name: "front"})
	mustNetwork(t, s, types.NetworkSpec{Name: "back"})

	web, err := s.CreateService(ctx, onNetworks("web", "front"))
	if err != nil {
		t.Fatal(err)
	}
	if web.Spec.Networks[0].Target != front.ID {
		t.Fatalf("stored target %q, want the network's ID", web.Spec.Networks[0].Target)
	}
	if got := vips(t, s, web); got != "front=10.0.0.2/24" {
		t.Fatalf("web's VIPs = %s, want front=10.0.0.2/24 (the gateway is .1)", got)
	}
	api, err := s.CreateService(ctx, onNetworks("api", "front", "back"))
	if err != nil {
		t.Fatal(err)
	}
	if got := vips(t, s, api); got != "front=10.0.0.3/24 back=10.0.1.2/24" {
		t.Fatalf("api's VIPs = %s", got)
	}
	rr := onNetworks("rr", "front")
	rr.Endpoint.Mode = types.EndpointDNSRR
	if svc, err := s.CreateService(ctx, rr); err != nil || len(svc.Endpoint.VirtualIPs) != 0 {
		t.Fatalf("dnsrr service: %+v, %v: want no VIP", svc, err)
	}

	// Adding a network keeps the VIP on the other and rolls the tasks.
	next := web.Spec.Copy()
	next.Networks = append(next.Networks, types.NetworkAttachmentConfig{Target: "back"})
	web, err = s.UpdateService(ctx, "web", web.Version, next)
	if err != nil {
		t.Fatal(err)
	}
	if got := vips(t, s, web); got != "front=10.0.0.2/24 back=10.0.1.3/24" {
		t.Fatalf("web's VIPs after adding back = %s", got)
	}
	if web.UpdateStatus == nil || web.UpdateStatus.State != types.UpdateUpdating {
		t.Fatalf("adding a network does not roll the tasks: %+v", web.UpdateStatus)
	}
	// Removing one releases its VIP: the next service on front gets it.
	next = web.Spec.Copy()
	next.Networks = next.Networks[1:]
	if web, err = s.UpdateService(ctx, "web", web.Version, next); err != nil {
		t.Fatal(err)
	}
	if got := vips(t, s, web); got != "back=10.0.1.3/24" {
		t.Fatalf("web's VIPs after leaving front = %s", got)
	}
	if other, err := s.CreateService(ctx, onNetworks("other", "front")); err != nil || vips(t, s, other) != "front=10.0.0.2/24" {
		t.Fatalf("the VIP web released is not reused: %v", err)
	}
	// A rollback gets the previous networks' VIPs again.
	if web, err = s.RollbackService(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if got := vips(t, s, web); got != "front=10.0.0.4/24 back=10.0.1.3/24" {
		t.Fatalf("web's VIPs after the rollback = %s", got)
	}
	// Removing a service releases its VIPs.
	if err := s.RemoveService(ctx, "api"); err != nil {
		t.Fatal(err)
	}
	if svc, err := s.CreateService(ctx, onNetworks("late", "front")); err != nil || vips(t, s, svc) != "front=10.0.0.3/24" {
		t.Fatalf("the VIP of a removed service is not reused: %v", err)
	}
	// Switching to dnsrr gives the VIPs up; aliases alone do not roll.
	next = web.Spec.Copy()
	next.Endpoint.Mode = types.EndpointDNSRR
	next.Networks[0].Aliases = []string{"www"}
	if web, err = s.UpdateService(ctx, "web", web.Version, next); err != nil || len(web.Endpoint.VirtualIPs) != 0 {
		t.Fatalf("web in dnsrr: %+v, %v", web.Endpoint, err)
	}
}

func TestVirtualIPOfAFullSubnet(t *testing.T) {
	s, _ := newServer(t)
	ctx := context.Background()
	mustNetwork(t, s, types.NetworkSpec{Name: "tiny", Subnet: "10.9.0.0/30"})
	if _, err := s.CreateService(ctx, onNetworks("a", "tiny")); err != nil {
		t.Fatal(err)
	}
	_, err := s.CreateService(ctx, onNetworks("b", "tiny"))
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "service b: virtual IP on network tiny: subnet 10.9.0.0/30 is full") ||
		!strings.Contains(err.Error(), "larger --subnet") {
		t.Fatalf("VIP on a full subnet: %v", err)
	}
	var full *ipam.SubnetFullError
	if !errors.As(err, &full) {
		t.Fatalf("error %v does not wrap an *ipam.SubnetFullError", err)
	}
	if _, err := s.GetService(ctx, "b"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("service b stored: %v", err)
	}
}
