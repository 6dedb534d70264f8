package dockerapi

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/hiveorch/hive/core/types"
)

func networkNames(items []network.Summary) []string {
	var names []string
	for _, n := range items {
		names = append(names, n.Name)
	}
	slices.Sort(names)
	return names
}

// mustJSON is v as JSON, to compare values whole.
func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNetworkCreateIsShownAsDockerdShowsIt(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	res, err := c.NetworkCreate(t.Context(), "backend", client.NetworkCreateOptions{
		Driver: "overlay", Scope: "swarm", Attachable: true, Internal: true,
		IPAM: &network.IPAM{Driver: "default", Config: []network.IPAMConfig{{
			Subnet: netip.MustParsePrefix("10.20.0.0/16"), IPRange: netip.MustParsePrefix("10.20.1.0/24"), Gateway: netip.MustParseAddr("10.20.0.254")}}},
		Options: map[string]string{"com.docker.network.driver.mtu": "1400"},
		Labels:  map[string]string{"team": "a"},
	})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := h.b.GetNetwork(t.Context(), "backend")
	if err != nil || stored.ID != res.ID {
		t.Fatalf("stored network = %+v, %v; want the ID answered, %s", stored, err, res.ID)
	}
	wantSpec := types.NetworkSpec{Name: "backend", Driver: "overlay", Subnet: "10.20.0.0/16", IPRange: "10.20.1.0/24", Gateway: "10.20.0.254",
		Attachable: true, Internal: true, Labels: map[string]string{"team": "a"}, Options: map[string]string{"com.docker.network.driver.mtu": "1400"}}
	if b, _ := json.Marshal(stored.Spec); string(b) != mustJSON(t, wantSpec) {
		t.Errorf("stored spec = %s, want %s", b, mustJSON(t, wantSpec))
	}

	for _, ref := range []string{res.ID, "backend", res.ID[:6]} {
		got, err := c.NetworkInspect(t.Context(), ref, client.NetworkInspectOptions{Scope: "swarm", Verbose: true})
		if err != nil {
			t.Fatalf("inspect %s: %v", ref, err)
		}
		n := got.Network.Network
		want := network.Network{Name: "backend", ID: res.ID, Created: stored.CreatedAt, Scope: "swarm", Driver: "overlay", EnableIPv4: true,
			IPAM:     network.IPAM{Driver: "default", Config: []network.IPAMConfig{{Subnet: stored.Subnet, IPRange: stored.IPRange, Gateway: stored.Gateway}}},
			Internal: true, Attachable: true, Labels: map[string]string{"team": "a"},
			Options: map[string]string{"com.docker.network.driver.mtu": "1400", vxlanOption: strconv.FormatUint(uint64(stored.VNI), 10)}}
		if mustJSON(t, n) != mustJSON(t, want) {
			t.Errorf("inspect %s =\n%s\nwant\n%s", ref, mustJSON(t, n), mustJSON(t, want))
		}
		if got.Network.Containers == nil || len(got.Network.Containers) != 0 {
			t.Errorf("Containers = %v, want an empty map", got.Network.Containers)
		}
	}
	if _, err := c.NetworkInspect(t.Context(), "backend", client.NetworkInspectOptions{Scope: "local"}); !cerrdefs.IsNotFound(err) {
		t.Errorf("inspect in scope local: %v, want a 404", err)
	}
	if _, err := c.NetworkInspect(t.Context(), "nope", client.NetworkInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("inspect of a missing network: %v, want a 404", err)
	}
	if _, err := c.NetworkCreate(t.Context(), "backend", client.NetworkCreateOptions{}); !cerrdefs.IsConflict(err) {
		t.Errorf("create of a name in use: %v, want a 409", err)
	}
}

func TestNetworkCreateDefaultsToOverlay(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	res, err := c.NetworkCreate(t.Context(), "plain", client.NetworkCreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.NetworkInspect(t.Context(), res.ID, client.NetworkInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := got.Network
	if n.Driver != "overlay" || n.Scope != "swarm" || len(n.IPAM.Config) != 1 || !n.IPAM.Config[0].Subnet.IsValid() || !n.IPAM.Config[0].Gateway.IsValid() || n.IPAM.Config[0].IPRange.IsValid() {
		t.Errorf("network = %s, want overlay, swarm, a subnet and gateway from the pool and no ip range", mustJSON(t, n))
	}
}

func TestNetworkCreateRefusesWhatHiveCannotHonour(t *testing.T) {
	yes, no := true, false
	subnet := netip.MustParsePrefix("10.30.0.0/16")
	for _, tc := range []struct {
		name string
		opts client.NetworkCreateOptions
		want string
	}{
		{"bridge driver", client.NetworkCreateOptions{Driver: "bridge"}, `Driver "bridge"`},
		{"local scope", client.NetworkCreateOptions{Scope: "local"}, `Scope "local"`},
		{"ingress", client.NetworkCreateOptions{Ingress: true}, "Ingress"},
		{"ipv6", client.NetworkCreateOptions{EnableIPv6: &yes}, "EnableIPv6"},
		{"no ipv4", client.NetworkCreateOptions{EnableIPv4: &no}, "EnableIPv4"},
		{"config only", client.NetworkCreateOptions{ConfigOnly: true}, "ConfigOnly"},
		{"config from", client.NetworkCreateOptions{ConfigFrom: "base"}, "ConfigFrom"},
		{"ipam driver", client.NetworkCreateOptions{IPAM: &network.IPAM{Driver: "dhcp"}}, `IPAM.Driver "dhcp"`},
		{"ipam options", client.NetworkCreateOptions{IPAM: &network.IPAM{Options: map[string]string{"a": "b"}}}, "IPAM.Options"},
		{"two subnets", client.NetworkCreateOptions{IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: subnet}, {Subnet: netip.MustParsePrefix("10.31.0.0/16")}}}}, "more than one IPAM.Config"},
		{"aux address", client.NetworkCreateOptions{IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: subnet,
			AuxAddress: map[string]netip.Addr{"host": netip.MustParseAddr("10.30.0.5")}}}}}, "AuxiliaryAddresses"},
		{"unknown option", client.NetworkCreateOptions{Options: map[string]string{"encrypted": ""}}, `unknown option "encrypted"`},
		{"bad mtu", client.NetworkCreateOptions{Options: map[string]string{"mtu": "9"}}, "give an MTU"},
		{"gateway outside", client.NetworkCreateOptions{IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: subnet, Gateway: netip.MustParseAddr("10.99.0.1")}}}}, "outside subnet"},
		{"host bits", client.NetworkCreateOptions{IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: netip.MustParsePrefix("10.30.0.1/16")}}}}, "host bits set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			_, err := h.client().NetworkCreate(t.Context(), "n", tc.opts)
			wantInvalid(t, err, tc.want)
			if list, _ := h.b.ListNetworks(t.Context()); len(list) != 0 {
				t.Errorf("a network was stored: %v", list)
			}
		})
	}
}

func TestNetworkCreateTakesOldClientsCheckDuplicate(t *testing.T) {
	h := newHarness(t)
	resp := h.rawBody("POST", "/v1.41/networks/create", `{"Name":"old","CheckDuplicate":true,"Driver":"overlay","IPAM":{"Driver":"default","Options":{},"Config":[]},"Options":{},"Labels":{}}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create with CheckDuplicate: %d, want 201", resp.StatusCode)
	}
	resp = h.rawBody("POST", "/networks/create", `{"Name":"x","Bogus":1}`)
	var body errorResponse
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusBadRequest || !strings.Contains(body.Message, "Bogus") {
		t.Errorf("create with an unknown field: %d %q (%v), want a 400 naming it", resp.StatusCode, body.Message, err)
	}
}

func TestNetworkListFilters(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	for name, labels := range map[string]map[string]string{"web_default": {"com.docker.stack.namespace": "web"}, "backend": {"team": "a"}, "db": nil} {
		if _, err := c.NetworkCreate(t.Context(), name, client.NetworkCreateOptions{Driver: "overlay", Labels: labels}); err != nil {
			t.Fatal(err)
		}
	}
	backend, _ := h.b.GetNetwork(t.Context(), "backend")
	all := []string{"backend", "db", "web_default"}
	for _, tc := range []struct {
		name    string
		filters client.Filters
		want    []string
		err     string
	}{
		{"none", nil, all, ""},
		{"name found inside", client.Filters{}.Add("name", "default"), []string{"web_default"}, ""},
		{"name expression", client.Filters{}.Add("name", "^b"), []string{"backend"}, ""},
		{"id prefix", client.Filters{}.Add("id", backend.ID[:8]), []string{"backend"}, ""},
		{"driver overlay", client.Filters{}.Add("driver", "overlay"), all, ""},
		{"driver bridge", client.Filters{}.Add("driver", "bridge"), nil, ""},
		{"scope swarm", client.Filters{}.Add("scope", "swarm"), all, ""},
		{"scope local", client.Filters{}.Add("scope", "local"), nil, ""},
		{"type custom", client.Filters{}.Add("type", "custom"), all, ""},
		{"type builtin", client.Filters{}.Add("type", "builtin"), nil, ""},
		{"stack label", client.Filters{}.Add("label", "com.docker.stack.namespace=web"), []string{"web_default"}, ""},
		{"label key", client.Filters{}.Add("label", "team"), []string{"backend"}, ""},
		{"unknown filter", client.Filters{}.Add("x", "y"), nil, "invalid filter 'x'"},
		{"bad type", client.Filters{}.Add("type", "mine"), nil, "invalid filter: 'type'='mine'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := c.NetworkList(t.Context(), client.NetworkListOptions{Filters: tc.filters})
			if wantInvalid(t, err, tc.err) {
				return
			}
			if got := networkNames(res.Items); !slices.Equal(got, tc.want) {
				t.Errorf("networks = %v, want %v", got, tc.want)
			}
		})
	}
	if res, err := c.NetworkList(t.Context(), client.NetworkListOptions{}); err != nil || res.Items[0].Scope != "swarm" || res.Items[0].Driver != "overlay" {
		t.Errorf("list = %+v, %v; want overlay networks of scope swarm", res.Items, err)
	}
}

func TestNetworkRemoveAndPrune(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	for name, labels := range map[string]map[string]string{"used": nil, "old": {"keep": "no"}, "kept": {"keep": "yes"}, "gone": nil} {
		if _, err := c.NetworkCreate(t.Context(), name, client.NetworkCreateOptions{Labels: labels}); err != nil {
			t.Fatal(err)
		}
	}
	spec := simpleSpec("web", 1)
	spec.TaskTemplate.Networks = []swarm.NetworkAttachmentConfig{{Target: "used"}}
	if _, err := c.ServiceCreate(t.Context(), client.ServiceCreateOptions{Spec: spec}); err != nil {
		t.Fatal(err)
	}

	if _, err := c.NetworkRemove(t.Context(), "used", client.NetworkRemoveOptions{}); !cerrdefs.IsConflict(err) || !strings.Contains(err.Error(), "web") {
		t.Errorf("remove of a network in use: %v, want a 409 naming the service", err)
	}
	if _, err := c.NetworkRemove(t.Context(), "gone", client.NetworkRemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.NetworkRemove(t.Context(), "gone", client.NetworkRemoveOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("remove of a missing network: %v, want a 404", err)
	}

	for _, tc := range []struct {
		filters client.Filters
		err     string
	}{
		{client.Filters{}.Add("x", "y"), "invalid filter 'x'"},
		{client.Filters{}.Add("until", "soon"), "invalid until filter"},
	} {
		_, err := c.NetworkPrune(t.Context(), client.NetworkPruneOptions{Filters: tc.filters})
		wantInvalid(t, err, tc.err)
	}
	res, err := c.NetworkPrune(t.Context(), client.NetworkPruneOptions{Filters: client.Filters{}.Add("label!", "keep=yes")})
	if err != nil || !slices.Equal(res.Report.NetworksDeleted, []string{"old"}) {
		t.Errorf("prune label!=keep=yes = %v, %v; want [old]", res.Report.NetworksDeleted, err)
	}
	if res, err := c.NetworkPrune(t.Context(), client.NetworkPruneOptions{Filters: client.Filters{}.Add("until", "87600h")}); err != nil || len(res.Report.NetworksDeleted) != 0 {
		t.Errorf("prune until 87600h (ten years ago) = %v, %v; want none", res.Report.NetworksDeleted, err)
	}
	res, err = c.NetworkPrune(t.Context(), client.NetworkPruneOptions{Filters: client.Filters{}.Add("until", "2000-01-01T00:00:00Z")})
	if err != nil || len(res.Report.NetworksDeleted) != 0 {
		t.Errorf("prune until 2000 = %v, %v; want none", res.Report.NetworksDeleted, err)
	}
	res, err = c.NetworkPrune(t.Context(), client.NetworkPruneOptions{})
	if err != nil || !slices.Equal(res.Report.NetworksDeleted, []string{"kept"}) {
		t.Errorf("prune = %v, %v; want [kept], the network in use left", res.Report.NetworksDeleted, err)
	}
	if got, _ := c.NetworkList(t.Context(), client.NetworkListOptions{}); !slices.Equal(networkNames(got.Items), []string{"used"}) {
		t.Errorf("left after prune: %v, want [used]", networkNames(got.Items))
	}
}

func TestNetworkListOfOldClientsIsInspectShaped(t *testing.T) {
	h := newHarness(t)
	if _, err := h.client().NetworkCreate(t.Context(), "n", client.NetworkCreateOptions{}); err != nil {
		t.Fatal(err)
	}
	resp := h.raw("GET", "/v1.27/networks")
	var list []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || len(list) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	if _, ok := list[0]["Containers"]; !ok {
		t.Errorf("API 1.27 list entry %v has no Containers, as dockerd's has", list[0])
	}
}

func TestDockerNetworkCreateLsRm(t *testing.T) {
	h := newHarness(t)
	run := h.dockerCLI()
	id := run("network", "create", "-d", "overlay", "--subnet", "10.40.0.0/24", "--label", "a=b", "x")
	if n, err := h.b.GetNetwork(t.Context(), "x"); err != nil || n.ID != id || n.Spec.Subnet != "10.40.0.0/24" {
		t.Fatalf("docker network create printed %q; stored %+v, %v", id, n, err)
	}
	if got := run("network", "ls", "--format", "{{.Name}}|{{.Driver}}|{{.Scope}}|{{.Labels}}"); got != "x|overlay|swarm|a=b" {
		t.Errorf("docker network ls = %q", got)
	}
	if got := run("network", "inspect", "x", "--format", "{{.Scope}} {{(index .IPAM.Config 0).Subnet}}"); got != "swarm 10.40.0.0/24" {
		t.Errorf("docker network inspect = %q", got)
	}
	if got := run("network", "rm", "x"); got != "x" {
		t.Errorf("docker network rm = %q", got)
	}
	if list, _ := h.b.ListNetworks(t.Context()); len(list) != 0 {
		t.Errorf("left after docker network rm: %v", list)
	}
}
