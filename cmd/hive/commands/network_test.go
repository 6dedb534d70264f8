package commands

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/hiveorch/hive/core/types"
)

func TestParseNetworkAttachment(t *testing.T) {
	for _, tt := range []struct {
		value string
		want  types.NetworkAttachmentConfig
		err   string
	}{
		{"front", types.NetworkAttachmentConfig{Target: "front"}, ""},
		{"name=front", types.NetworkAttachmentConfig{Target: "front"}, ""},
		{"target=front,alias=www", types.NetworkAttachmentConfig{Target: "front", Aliases: []string{"www"}}, ""},
		{"alias=a,name=front,alias=b", types.NetworkAttachmentConfig{Target: "front", Aliases: []string{"a", "b"}}, ""},
		{"NAME=front,Alias=a", types.NetworkAttachmentConfig{Target: "front", Aliases: []string{"a"}}, ""},
		{"", types.NetworkAttachmentConfig{}, `invalid --network "": give a network name, or name=NETWORK,alias=ALIAS`},
		{"alias=a", types.NetworkAttachmentConfig{}, "name the network with name=NETWORK"},
		{"name=a,target=b", types.NetworkAttachmentConfig{}, "it names two networks (a and b): give one --network per network"},
		{"name=a,alais=x", types.NetworkAttachmentConfig{}, `unknown field "alais" (did you mean "alias"?) (known: name/target, alias)`},
		{"name=a,driver-opt=x=y", types.NetworkAttachmentConfig{}, `unknown field "driver-opt"`},
		{"name=a,alias", types.NetworkAttachmentConfig{}, `field "alias" has no value`},
		{"name=a,alias=", types.NetworkAttachmentConfig{}, `field "alias=" has no value`},
	} {
		t.Run(tt.value, func(t *testing.T) {
			got, err := parseNetworkAttachment("--network", tt.value)
			checkErr(t, err, tt.err)
			if tt.err == "" && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestNetworkFlagsResolveNames: with a resolver, as service update has,
// --network-rm takes a name and --network-add replaces the attachment to
// the same network however it is named.
func TestNetworkFlagsResolveNames(t *testing.T) {
	ids := map[string]string{"front": "id-front", "id-front": "id-front", "back": "id-back", "id-back": "id-back"}
	resolve := func(ref string) (string, error) {
		if id, ok := ids[ref]; ok {
			return id, nil
		}
		return "", fmt.Errorf("network %q not found", ref)
	}
	for _, tt := range []struct {
		args []string
		want []types.NetworkAttachmentConfig
		err  string
	}{
		{[]string{"--network-rm", "front"}, []types.NetworkAttachmentConfig{{Target: "id-back"}}, ""},
		{[]string{"--network-rm", "id-back", "--network-add", "name=front,alias=www"},
			[]types.NetworkAttachmentConfig{{Target: "id-front", Aliases: []string{"www"}}}, ""},
		{[]string{"--network-add", "back", "--network-add", "id-back"}, nil, `invalid --network-add "id-back": network id-back is given twice`},
		{[]string{"--network-add", "nowhere"}, nil, `network "nowhere" not found`},
		{[]string{"--network-rm", "nowhere"}, nil, `network "nowhere" not found`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fs := pflag.NewFlagSet("update", pflag.ContinueOnError)
			addSpecFlags(fs, "update")
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			s := types.ServiceSpec{Networks: []types.NetworkAttachmentConfig{{Target: "id-front", Aliases: []string{"old"}}, {Target: "id-back"}}}
			err := applySpecFlagsResolving(fs, "update", &s, lookupFrom(nil), resolve)
			checkErr(t, err, tt.err)
			if tt.err == "" && !reflect.DeepEqual(s.Networks, tt.want) {
				t.Errorf("networks %+v, want %+v", s.Networks, tt.want)
			}
		})
	}
}

func TestPrettyEndpoint(t *testing.T) {
	render := func(s *types.Service, names map[string]string) string {
		var b strings.Builder
		kv := func(indent int, key string, value any) {
			fmt.Fprintf(&b, "%-*s%v\n", 20, strings.Repeat(" ", indent)+key+":", value)
		}
		prettyEndpoint(kv, &b, s, names)
		return b.String()
	}
	if got := render(&types.Service{}, nil); got != "Endpoint Mode:      vip\n" {
		t.Errorf("a service on no network:\n%s", got)
	}
	s := &types.Service{
		Spec: types.ServiceSpec{Endpoint: types.EndpointSpec{Mode: types.EndpointVIP},
			Networks: []types.NetworkAttachmentConfig{{Target: "id-front-0123456789", Aliases: []string{"www", "web"}}, {Target: "id-back-0123456789"}}},
		Endpoint: types.Endpoint{VirtualIPs: []types.EndpointVirtualIP{
			{NetworkID: "id-front-0123456789", Addr: netip.MustParsePrefix("10.20.0.2/24")},
			{NetworkID: "id-back-0123456789", Addr: netip.MustParsePrefix("10.0.1.2/24")}}},
	}
	want := `Endpoint Mode:      vip
Networks:           front (aliases: www, web), id-back-0123
Virtual IPs:
 front:             10.20.0.2/24
 id-back-0123:      10.0.1.2/24
`
	if got := render(s, map[string]string{"id-front-0123456789": "front"}); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
