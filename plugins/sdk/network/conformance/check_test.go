package conformance

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/hiveorch/hive/plugins/sdk/network"
)

func TestDiffState(t *testing.T) {
	n := DefaultNetwork(0)
	att := network.Attachment{NetworkID: n.ID, TaskID: "t1", Netns: "/ns/1", Address: netip.PrefixFrom(hostAddr(n, 2), 24), MAC: "02:42:0a:c8:00:02"}
	want := network.NetworkState{Network: n, Attachments: []network.Attachment{att}, Peers: []network.Peer{peer(n, 100, 1, 0), peer(n, 101, 2, 4790)}}
	for _, tc := range []struct {
		name   string
		change func(got, want *network.NetworkState)
		bad    string // "" when got must pass
	}{
		{"the same", func(got, want *network.NetworkState) {}, ""},
		{"peers in another order, a MAC in capitals", func(got, want *network.NetworkState) {
			got.Peers[0], got.Peers[1] = got.Peers[1], got.Peers[0]
			got.Attachments[0].MAC = "02:42:0A:C8:00:02"
		}, ""},
		{"the driver's MTU and port when none was asked", func(got, want *network.NetworkState) {
			want.Network.MTU, got.Network.MTU = 0, 1450
			got.Peers[0].NodePort = 4789
		}, ""},
		{"another MTU", func(got, want *network.NetworkState) { got.Network.MTU = 1450 }, "MTU is 1450, want 1400"},
		{"another port", func(got, want *network.NetworkState) { got.Peers[1].NodePort = 4789 }, "peer 10.200.0.101 is"},
		{"a peer missing", func(got, want *network.NetworkState) { got.Peers = got.Peers[:1] }, "peer 10.200.0.101 is missing"},
		{"a peer too many", func(got, want *network.NetworkState) { want.Peers = want.Peers[:1] }, "peer 10.200.0.101 should not be there"},
		{"an attachment listed twice", func(got, want *network.NetworkState) { got.Attachments = append(got.Attachments, att) }, "attachment t1 is listed twice"},
		{"another namespace", func(got, want *network.NetworkState) { got.Attachments[0].Netns = "/ns/2" }, "attachment t1 is"},
		{"options lost", func(got, want *network.NetworkState) { want.Network.Options = map[string]string{"a": "b"} }, "options are"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, w := clone(want), clone(want)
			tc.change(&got, &w)
			bad := diffState(got, w)
			if tc.bad == "" && len(bad) > 0 || tc.bad != "" && !strings.Contains(join(bad), tc.bad) {
				t.Errorf("diffState = %q, want %q", bad, tc.bad)
			}
		})
	}
}

func clone(s network.NetworkState) network.NetworkState {
	s.Attachments = append([]network.Attachment(nil), s.Attachments...)
	s.Peers = append([]network.Peer(nil), s.Peers...)
	return s
}
