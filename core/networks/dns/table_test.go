package dns

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/hiveorch/hive/core/types"
)

func network(id string) *types.Network {
	return &types.Network{ID: id, Spec: types.NetworkSpec{Name: id}}
}

// service is a service on networks given as "net" or "net=alias1,alias2";
// vips are "net=addr/len".
func service(id, name string, mode types.EndpointMode, nets []types.NetworkAttachmentConfig, vips ...string) *types.Service {
	s := &types.Service{ID: id, Spec: types.ServiceSpec{Name: name, Endpoint: types.EndpointSpec{Mode: mode}, Networks: nets}}
	for i := 0; i+1 < len(vips); i += 2 {
		s.Endpoint.VirtualIPs = append(s.Endpoint.VirtualIPs, types.EndpointVirtualIP{NetworkID: vips[i], Addr: netip.MustParsePrefix(vips[i+1])})
	}
	return s
}

func on(networkID string, aliases ...string) types.NetworkAttachmentConfig {
	return types.NetworkAttachmentConfig{Target: networkID, Aliases: aliases}
}

// task is a task of the service in the given states, attached to networks
// given as pairs of network ID and address.
func task(id, serviceID string, desired, observed types.TaskState, nets ...string) *types.Task {
	t := &types.Task{ID: id, ServiceID: serviceID, DesiredState: desired,
		Status: types.TaskStatus{State: observed, Addresses: []string{"172.17.0.9"}}}
	for i := 0; i+1 < len(nets); i += 2 {
		a := types.NetworkAttachment{NetworkID: nets[i]}
		if nets[i+1] != "" {
			a.Addresses = []netip.Prefix{netip.MustParsePrefix(nets[i+1])}
		}
		t.Networks = append(t.Networks, a)
	}
	return t
}

func running(id, serviceID string, nets ...string) *types.Task {
	return task(id, serviceID, types.TaskStateRunning, types.TaskStateRunning, nets...)
}

const (
	run   = types.TaskStateRunning
	start = types.TaskStateStarting
	stop  = types.TaskStateShutdown
)

func fixture() ([]*types.Service, []*types.Task, []*types.Network) {
	networks := []*types.Network{network("n1"), network("n2"), network("n3")}
	services := []*types.Service{
		service("s-web", "web", types.EndpointVIP, []types.NetworkAttachmentConfig{on("n1", "www", "Front"), on("n2")},
			"n1", "10.0.1.2/24", "n2", "10.0.2.2/24"),
		service("s-db", "db", types.EndpointDNSRR, []types.NetworkAttachmentConfig{on("n1", "database")}),
		service("s-cache", "cache", types.EndpointVIP, []types.NetworkAttachmentConfig{on("n3")}, "n3", "10.0.3.2/24"),
		// An alias that is another service's name on n1 loses to it there,
		// and is the alias on n2.
		service("s-old", "olddb", types.EndpointVIP, []types.NetworkAttachmentConfig{on("n1", "db"), on("n2", "db")},
			"n1", "10.0.1.3/24", "n2", "10.0.2.3/24"),
		// Its VIP on n2 is not allocated yet.
		service("s-new", "new", types.EndpointVIP, []types.NetworkAttachmentConfig{on("n1"), on("n2")}, "n1", "10.0.1.4/24"),
		// On a network that is gone.
		service("s-gone", "ghost", types.EndpointVIP, []types.NetworkAttachmentConfig{on("n9")}, "n9", "10.0.9.2/24"),
		// Stopped: no running task.
		service("s-idle", "idle", types.EndpointDNSRR, []types.NetworkAttachmentConfig{on("n1")}),
	}
	tasks := []*types.Task{
		running("t-web1", "s-web", "n1", "10.0.1.10/24", "n2", "10.0.2.10/24"),
		running("t-web2", "s-web", "n1", "10.0.1.9/24", "n2", "10.0.2.9/24"),
		task("t-web3", "s-web", run, start, "n1", "10.0.1.11/24"),     // waits for its health check
		task("t-web4", "s-web", stop, run, "n1", "10.0.1.12/24"),      // being stopped
		task("t-web5", "s-web", run, types.TaskStateFailed, "n1", ""), // failed
		running("t-db1", "s-db", "n1", "10.0.1.20/24"),
		running("t-db2", "s-db", "n1", "10.0.1.21/24"),
		running("t-cache1", "s-cache", "n3", "10.0.3.10/24"),
		// A task of a removed service.
		running("t-orphan", "s-removed", "n1", "10.0.1.30/24"),
		// A stopped task of idle.
		task("t-idle1", "s-idle", stop, stop, "n1", "10.0.1.40/24"),
		running("t-ghost1", "s-gone", "n9", "10.0.9.10/24"),
		// A running task of web left on n3 by an update.
		running("t-web0", "s-web", "n3", "10.0.3.20/24"),
	}
	return services, tasks, networks
}

func TestLookup(t *testing.T) {
	tb := Build(fixture())
	n1, n2, n3, all := []string{"n1"}, []string{"n2"}, []string{"n3"}, []string{"n1", "n2", "n3"}
	for _, tc := range []struct {
		name   string
		asker  []string
		query  string
		want   []string
		absent bool
	}{
		{name: "vip on the shared network", asker: n1, query: "web", want: []string{"10.0.1.2"}},
		{name: "vip on the other network", asker: n2, query: "web", want: []string{"10.0.2.2"}},
		{name: "one vip per shared network", asker: []string{"n2", "n1"}, query: "web", want: []string{"10.0.1.2", "10.0.2.2"}},
		{name: "trailing dot and case", asker: n1, query: "WeB.", want: []string{"10.0.1.2"}},
		{name: "alias on its network", asker: n1, query: "www", want: []string{"10.0.1.2"}},
		{name: "alias kept in any case", asker: n1, query: "front.", want: []string{"10.0.1.2"}},
		{name: "alias is per network", asker: n2, query: "www", absent: true},
		{name: "tasks: running ones only, sorted", asker: n1, query: "tasks.web", want: []string{"10.0.1.9", "10.0.1.10"}},
		{name: "tasks on the asker's network", asker: n2, query: "tasks.web.", want: []string{"10.0.2.9", "10.0.2.10"}},
		{name: "tasks by alias", asker: n1, query: "TASKS.www", want: []string{"10.0.1.9", "10.0.1.10"}},
		{name: "tasks left on a network the service left", asker: n3, query: "tasks.web", want: []string{"10.0.3.20"}},
		{name: "the service name is not on a network it left", asker: n3, query: "web", absent: true},
		{name: "dnsrr: the tasks", asker: n1, query: "db", want: []string{"10.0.1.20", "10.0.1.21"}},
		{name: "dnsrr alias", asker: n1, query: "database", want: []string{"10.0.1.20", "10.0.1.21"}},
		{name: "dnsrr tasks", asker: n1, query: "tasks.db", want: []string{"10.0.1.20", "10.0.1.21"}},
		{name: "a name wins over another service's alias", asker: n1, query: "db", want: []string{"10.0.1.20", "10.0.1.21"}},
		{name: "an alias where no name clashes", asker: n2, query: "db", want: []string{"10.0.2.3"}},
		{name: "not on a shared network", asker: n1, query: "cache", absent: true},
		{name: "tasks not on a shared network", asker: n2, query: "tasks.cache", absent: true},
		{name: "on its network", asker: n3, query: "cache", want: []string{"10.0.3.2"}},
		{name: "vip not allocated yet", asker: n2, query: "new", want: nil},
		{name: "known with no running task", asker: n1, query: "idle", want: nil},
		{name: "tasks known with no running task", asker: n1, query: "tasks.idle", want: nil},
		{name: "a network that is gone", asker: []string{"n9"}, query: "ghost", absent: true},
		{name: "an asker on no network", asker: nil, query: "web", absent: true},
		{name: "unknown", asker: all, query: "nothing", absent: true},
		{name: "tasks. alone", asker: all, query: "tasks.", absent: true},
		{name: "a task is no name", asker: all, query: "t-web1", absent: true},
		{name: "empty", asker: all, query: "", absent: true},
		{name: "a subdomain of a service", asker: n1, query: "x.web", absent: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, found := tb.Lookup(tc.asker, tc.query)
			if found == tc.absent {
				t.Fatalf("Lookup(%v, %q) found = %v, want %v", tc.asker, tc.query, found, !tc.absent)
			}
			var want []netip.Addr
			for _, a := range tc.want {
				want = append(want, netip.MustParseAddr(a))
			}
			if !slices.Equal(got, want) {
				t.Errorf("Lookup(%v, %q) = %v, want %v", tc.asker, tc.query, got, want)
			}
		})
	}
}

// TestBuildIsDeterministic: the same state in another order gives the same
// answers, and Build leaves its arguments alone.
func TestBuildIsDeterministic(t *testing.T) {
	services, tasks, networks := fixture()
	want := Build(services, tasks, networks)
	before := tasks[0].Copy()
	slices.Reverse(services)
	slices.Reverse(tasks)
	slices.Reverse(networks)
	got := Build(services, tasks, networks)
	for name := range want.names {
		for _, asker := range [][]string{{"n1"}, {"n2"}, {"n3"}, {"n3", "n2", "n1"}} {
			a, fa := want.Lookup(asker, name)
			b, fb := got.Lookup(asker, name)
			if fa != fb || !slices.Equal(a, b) {
				t.Errorf("Lookup(%v, %q) = %v %v after reordering, want %v %v", asker, name, b, fb, a, fa)
			}
		}
	}
	if after := tasks[len(tasks)-1]; after.ID != before.ID || !slices.Equal(after.Networks[0].Addresses, before.Networks[0].Addresses) {
		t.Errorf("Build changed a task: %+v, was %+v", after, before)
	}
}

func TestBuildEmpty(t *testing.T) {
	if _, found := Build(nil, nil, nil).Lookup([]string{"n1"}, "web"); found {
		t.Error("an empty table found web")
	}
}
