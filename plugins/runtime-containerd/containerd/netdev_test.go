package containerd

import (
	"os"
	"path/filepath"
	"testing"
)

func TestNetDevSumsTheInterfacesButTheLoopback(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dev")
	const dev = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  999999      10    0    0    0     0          0         0   999999      10    0    0    0     0       0          0
  eth0:    1500      12    0    0    0     0          0         0      700       8    0    0    0     0       0          0
  eth1:      20       1    0    0    0     0          0         0        5       1    0    0    0     0       0          0
`
	if err := os.WriteFile(path, []byte(dev), 0o600); err != nil {
		t.Fatal(err)
	}
	rx, tx, err := netDev(path)
	if err != nil || rx != 1520 || tx != 705 {
		t.Errorf("netDev = %d, %d, %v; want 1520, 705", rx, tx, err)
	}
	if err := os.WriteFile(path, []byte("eth0: x 1 2 3 4 5 6 7 8\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := netDev(path); err == nil {
		t.Error("netDev of a bad line: no error")
	}
	if _, _, err := netDev(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("netDev of a missing file: no error")
	}
	if hostMemory() == 0 {
		t.Error("hostMemory = 0 on Linux, want MemTotal")
	}
}
