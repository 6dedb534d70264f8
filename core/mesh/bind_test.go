package mesh

import "testing"

func TestBindAddr(t *testing.T) {
	tests := []struct {
		name                          string
		configured, listen, advertise string
		want                          string
	}{
		{"configured wins", "10.0.0.9", "127.0.0.2:4242", "127.0.0.3", "10.0.0.9"},
		{"configured wins over an unspecified listen", "fd00::9", "0.0.0.0:4242", "", "fd00::9"},
		{"specific listen IP", "", "10.0.0.5:4242", "10.0.0.5:4242", "10.0.0.5"},
		{"loopback listen IP, one node of several on a host", "", "127.0.0.2:4242", "", "127.0.0.2"},
		{"listen IP beats advertise", "", "127.0.0.2:4242", "127.0.0.3:4242", "127.0.0.2"},
		{"IPv6 listen IP", "", "[::1]:4242", "", "::1"},
		{"IPv4-mapped listen IP", "", "[::ffff:127.0.0.4]:4242", "", "127.0.0.4"},
		{"all addresses, loopback advertise with port", "", "0.0.0.0:4242", "127.0.0.3:4242", "127.0.0.3"},
		{"all addresses, loopback advertise without port", "", "0.0.0.0:4242", "127.0.0.3", "127.0.0.3"},
		{"empty listen host, bracketed IPv6 loopback advertise", "", ":4242", "[::1]", "::1"},
		{"IPv6 unspecified listen, bare IPv6 loopback advertise", "", "[::]:4242", "::1", "::1"},
		{"all addresses, routable advertise", "", "0.0.0.0:4242", "10.0.0.5:4242", ""},
		{"all addresses, no advertise", "", "0.0.0.0:4242", "", ""},
		{"host names are not resolved", "", "localhost:4242", "node1.example.com", ""},
		{"nothing set", "", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := BindAddr(tc.configured, tc.listen, tc.advertise); got != tc.want {
				t.Errorf("BindAddr(%q, %q, %q) = %q, want %q", tc.configured, tc.listen, tc.advertise, got, tc.want)
			}
		})
	}
}
