package containerd

import (
	"errors"
	"strings"
	"testing"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

func TestResolvConf(t *testing.T) {
	const host = "# managed by the host\n" +
		"nameserver 127.0.0.53\n" +
		"nameserver 10.0.0.2\n" +
		"search corp.example\n" +
		"nameserver fd00::2\n" +
		"options ndots:2 edns0\n"
	cases := []struct {
		name string
		host string
		dns  []string
		want string
	}{
		{"the host's without loopback servers", host, nil,
			"# managed by the host\nnameserver 10.0.0.2\nsearch corp.example\nnameserver fd00::2\noptions ndots:2 edns0\n"},
		{"public resolvers when the host has only loopback ones", "nameserver 127.0.0.53\nsearch corp.example\n", nil,
			"search corp.example\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"},
		{"public resolvers without a host file", "", nil,
			"nameserver 8.8.8.8\nnameserver 8.8.4.4\n"},
		{"dns replaces every host server where the first was, keeping search and options", host, []string{"127.0.0.11"},
			"# managed by the host\nnameserver 127.0.0.11\nsearch corp.example\noptions ndots:2 edns0\n"},
		{"several dns servers keep their order", host, []string{"10.9.0.1", "127.0.0.11", "fd00::53"},
			"# managed by the host\nnameserver 10.9.0.1\nnameserver 127.0.0.11\nnameserver fd00::53\nsearch corp.example\noptions ndots:2 edns0\n"},
		{"dns at the end when the host lists no server", "search corp.example\noptions ndots:2\n", []string{"127.0.0.11"},
			"search corp.example\noptions ndots:2\nnameserver 127.0.0.11\n"},
		{"dns without a host file", "", []string{"127.0.0.11"},
			"nameserver 127.0.0.11\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(resolvConf([]byte(tc.host), tc.dns)); got != tc.want {
				t.Errorf("resolvConf(%q, %q) =\n%s\nwant\n%s", tc.host, tc.dns, got, tc.want)
			}
		})
	}
}

func TestCheckSpecRefusesADNSServerThatIsNotAnIP(t *testing.T) {
	for _, bad := range []string{"dns.example", "", "10.0.0.256"} {
		spec := &runtime.ContainerSpec{Name: "web.1", Image: "hive-test/web:v1", DNS: []string{"127.0.0.11", bad}}
		err := checkSpec(spec)
		if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), `"`+bad+`"`) {
			t.Errorf("checkSpec with DNS server %q = %v, want an invalid argument naming it", bad, err)
		}
	}
	ok := &runtime.ContainerSpec{Name: "web.1", Image: "hive-test/web:v1", DNS: []string{"127.0.0.11", "fd00::53"}}
	if err := checkSpec(ok); err != nil {
		t.Errorf("checkSpec with DNS %q = %v, want nil", ok.DNS, err)
	}
}
