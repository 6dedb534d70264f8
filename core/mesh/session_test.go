package mesh

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hiveorch/hive/internal/testutil"
)

// runRoutes runs RunRoutes until the test ends or routes closes; the
// returned channel receives its result.
func runRoutes(t *testing.T, m *Mesh, routes <-chan map[PortKey]Route) (context.CancelFunc, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- RunRoutes(ctx, m, routes) }()
	return cancel, done
}

func TestRunRoutesAppliesEachTable(t *testing.T) {
	a, b := newNameServer(t, "a"), newNameServer(t, "b")
	m := newTestMesh(t)
	port := freePort(t)
	routes := make(chan map[PortKey]Route)
	cancel, done := runRoutes(t, m, routes)

	backends := func() int {
		for _, st := range m.Status() {
			if st.Port == tcpKey(port) {
				return st.Backends
			}
		}
		return -1
	}
	for _, step := range []struct {
		table map[PortKey]Route
		want  int
	}{
		{map[PortKey]Route{tcpKey(port): route("web", a.backend())}, 1},
		{map[PortKey]Route{tcpKey(port): route("web", a.backend(), b.backend())}, 2},
		{map[PortKey]Route{tcpKey(port): route("web", b.backend())}, 1},
	} {
		routes <- step.table
		testutil.Eventually(t, 5*time.Second, fmt.Sprintf("%d backends", step.want), func() bool { return backends() == step.want })
	}
	if body, err := get(oneShotClient(), meshURL(port, "/")); err != nil || body != "b" {
		t.Errorf("request through the applied table = %q, %v; want %q", body, err, "b")
	}
	routes <- map[PortKey]Route{}
	testutil.Eventually(t, 5*time.Second, "the port to close", func() bool { return backends() == -1 })
	cancel()
	testutil.Returns(t, done, 5*time.Second, "RunRoutes")
}

func TestRunRoutesEndsWithTheNewestTableWhenClosed(t *testing.T) {
	a := newNameServer(t, "a")
	m := newTestMesh(t)
	ports := []uint32{freePort(t), freePort(t), freePort(t)}
	routes := make(chan map[PortKey]Route, len(ports))
	for _, p := range ports {
		routes <- map[PortKey]Route{tcpKey(p): route("web", a.backend())}
	}
	close(routes)
	_, done := runRoutes(t, m, routes)
	testutil.Returns(t, done, 5*time.Second, "RunRoutes") // a closed channel ends it, after the last table

	st := m.Status()
	if len(st) != 1 || st[0].Port != tcpKey(ports[2]) {
		t.Errorf("Status() = %+v, want only the newest table's port %d", st, ports[2])
	}
}
