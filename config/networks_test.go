package config

import (
	"net/netip"
	"testing"
)

func TestNetworkPoolKeys(t *testing.T) {
	f := newFixture(t)
	c := f.mustLoad(t, LoadOptions{})
	if c.Networks.DefaultPool != netip.MustParsePrefix("10.0.0.0/8") || c.Networks.DefaultSize != 24 {
		t.Errorf("defaults = %s /%d, want 10.0.0.0/8 /24", c.Networks.DefaultPool, c.Networks.DefaultSize)
	}
	write(t, f.work, "hive.yaml", "networks:\n  default_pool: 172.20.0.0/16\n  default_size: 26\n")
	c = f.mustLoad(t, LoadOptions{})
	if c.Networks.DefaultPool != netip.MustParsePrefix("172.20.0.0/16") || c.Networks.DefaultSize != 26 {
		t.Errorf("from a file = %s /%d, want 172.20.0.0/16 /26", c.Networks.DefaultPool, c.Networks.DefaultSize)
	}
	c = f.mustLoad(t, LoadOptions{Env: []string{"HIVE_NETWORKS_DEFAULT_SIZE=/16"}})
	if c.Networks.DefaultSize != 16 {
		t.Errorf("size /16 from env = %d", c.Networks.DefaultSize)
	}
}
