package network_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/network"
)

// recorder is a Fake that records the arguments each call received.
type recorder struct {
	*network.Fake
	mu   sync.Mutex
	args []any
}

func (r *recorder) record(args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.args = append(r.args, args...)
}

func (r *recorder) received() []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.args)
}

func (r *recorder) EnsureNetwork(ctx context.Context, n network.Network) error {
	r.record(n)
	return r.Fake.EnsureNetwork(ctx, n)
}

func (r *recorder) RemoveNetwork(ctx context.Context, id string) error {
	r.record(id)
	return r.Fake.RemoveNetwork(ctx, id)
}

func (r *recorder) Attach(ctx context.Context, a network.Attachment) (network.AttachResult, error) {
	r.record(a)
	return r.Fake.Attach(ctx, a)
}

func (r *recorder) Detach(ctx context.Context, id, task string) error {
	r.record(id, task)
	return r.Fake.Detach(ctx, id, task)
}

func (r *recorder) SetPeers(ctx context.Context, id string, peers []network.Peer) error {
	r.record(id, peers)
	return r.Fake.SetPeers(ctx, id, peers)
}

func TestHarnessCarriesEveryField(t *testing.T) {
	for _, tc := range []struct {
		name    string
		net     network.Network
		address string
		peers   []network.Peer
	}{
		{"IPv4", network.Network{ID: "n1", Name: "web", VNI: 4097, Subnet: netip.MustParsePrefix("10.0.3.0/24"),
			Gateway: netip.MustParseAddr("10.0.3.1"), MTU: 1450, Internal: true}, "10.0.3.7/24",
			[]network.Peer{
				{Address: netip.MustParseAddr("10.0.3.9"), MAC: "02:42:0a:00:03:09", NodeAddr: netip.MustParseAddr("127.0.0.2"), NodePort: 65535},
				{Address: netip.MustParseAddr("10.0.3.8"), MAC: "02:42:0a:00:03:08", NodeAddr: netip.MustParseAddr("192.168.1.20")},
			}},
		{"IPv6 with no gateway and the driver's MTU", network.Network{ID: "n6", VNI: maxVNI, Subnet: netip.MustParsePrefix("fd00:1::/64")},
			"fd00:1::2/64", []network.Peer{{Address: netip.MustParseAddr("fd00:1::3"), MAC: "02:42:00:00:00:03", NodeAddr: netip.MustParseAddr("fe80::1%eth0")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			r := &recorder{Fake: network.NewFake()}
			d := network.NewHarness(t, r)

			if err := d.EnsureNetwork(ctx, tc.net); err != nil {
				t.Fatalf("EnsureNetwork = %v", err)
			}
			a := network.Attachment{NetworkID: tc.net.ID, TaskID: "t1", Netns: "/proc/42/ns/net", Address: netip.MustParsePrefix(tc.address)}
			res, err := d.Attach(ctx, a)
			if err != nil || res.Interface != "eth0" || res.MAC == "" {
				t.Fatalf("Attach = %+v, %v", res, err)
			}
			if err := d.SetPeers(ctx, tc.net.ID, tc.peers); err != nil {
				t.Fatalf("SetPeers = %v", err)
			}
			got, err := d.List(ctx)
			if err != nil {
				t.Fatalf("List = %v", err)
			}
			if want := r.Networks(); !reflect.DeepEqual(got, want) {
				t.Errorf("List through the wire:\n got %+v\nwant %+v", got, want)
			}
			if err := d.Detach(ctx, tc.net.ID, "t1"); err != nil {
				t.Fatalf("Detach = %v", err)
			}
			if err := d.RemoveNetwork(ctx, tc.net.ID); err != nil {
				t.Fatalf("RemoveNetwork = %v", err)
			}
			want := []any{tc.net, a, tc.net.ID, tc.peers, tc.net.ID, "t1", tc.net.ID}
			if got := r.received(); !reflect.DeepEqual(got, want) {
				t.Errorf("arguments reaching the plugin:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// maxVNI is the largest VXLAN network identifier.
const maxVNI = 1<<24 - 1

func TestHarnessBaseCallsAndOptions(t *testing.T) {
	ctx := t.Context()
	r := &recorder{Fake: network.NewFake()}
	d := network.NewHarness(t, r)
	if err := d.Configure(ctx, map[string]string{"vxlan_port": "4790"}); err != nil || r.Settings()["vxlan_port"] != "4790" {
		t.Errorf("Configure = %v; settings reaching the plugin %v", err, r.Settings())
	}
	info, err := d.Describe(ctx)
	if err != nil || info.Kind != sdk.KindNetwork || info.Name != "network-fake" || info.Version != network.FakeVersion {
		t.Errorf("Describe = %+v, %v", info, err)
	}
	if err := d.Health(ctx); err != nil {
		t.Errorf("Health = %v", err)
	}
	n := network.Network{ID: "n1", VNI: 1, Subnet: netip.MustParsePrefix("10.0.0.0/24"), Options: map[string]string{"encrypted": "true"}}
	err = d.EnsureNetwork(ctx, n)
	if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), `"encrypted"`) {
		t.Errorf("EnsureNetwork with an option the Fake does not know = %v, want invalid argument naming it", err)
	}
	if got := r.received(); len(got) != 1 || !reflect.DeepEqual(got[0], n) {
		t.Errorf("the options did not reach the plugin: %+v", got)
	}
}

func TestHarnessErrors(t *testing.T) {
	f := network.NewFake()
	d := network.NewHarness(t, f)
	ctx := t.Context()
	calls := map[string]func() error{
		"EnsureNetwork": func() error {
			return d.EnsureNetwork(ctx, network.Network{ID: "n1", VNI: 1, Subnet: netip.MustParsePrefix("10.0.0.0/24")})
		},
		"RemoveNetwork": func() error { return d.RemoveNetwork(ctx, "n1") },
		"Attach": func() error {
			_, err := d.Attach(ctx, network.Attachment{NetworkID: "n1", TaskID: "t1", Address: netip.MustParsePrefix("10.0.0.2/24")})
			return err
		},
		"Detach":   func() error { return d.Detach(ctx, "n1", "t1") },
		"SetPeers": func() error { return d.SetPeers(ctx, "n1", nil) },
		"List": func() error {
			_, err := d.List(ctx)
			return err
		},
	}
	var want []string
	for _, method := range slices.Sorted(maps.Keys(calls)) {
		for _, kind := range []error{sdk.ErrNotFound, sdk.ErrInvalidArgument, sdk.ErrUnavailable, sdk.ErrFailedPrecondition} {
			t.Run(method+" "+kind.Error(), func(t *testing.T) {
				msg := fmt.Sprintf("%s: netlink said no: %v", method, kind)
				f.FailNext(method, fmt.Errorf("%s: netlink said no: %w", method, kind))
				if err := calls[method](); !errors.Is(err, kind) || err.Error() != msg {
					t.Errorf("error %q came back as %v (is %v: %v)", msg, err, kind, errors.Is(err, kind))
				}
			})
			want = append(want, method)
		}
	}
	t.Run("down", func(t *testing.T) {
		f.SetDown(true)
		defer f.SetDown(false)
		if err := d.Health(ctx); !errors.Is(err, sdk.ErrUnavailable) {
			t.Errorf("Health while down = %v", err)
		}
		want = append(want, "Health")
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := d.List(cctx); !errors.Is(err, context.Canceled) {
			t.Errorf("List with a cancelled context = %v, want context.Canceled", err)
		}
	})
	if got := f.Calls(); !slices.Equal(got, want) {
		t.Errorf("Calls = %q, want %q", got, want)
	}
}
