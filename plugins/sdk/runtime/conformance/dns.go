package conformance

import (
	"errors"
	"strings"
	"testing"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// testDNS: a spec's DNS replaces the node's nameservers in the container's
// /etc/resolv.conf, as hive's agent asks for its resolver at 127.0.0.11 on
// overlay networks; the node's search domains and options are the
// runtime's to keep, so only the nameserver lines are checked.
func (s *suite) testDNS(t *testing.T) {
	const resolver = "127.0.0.11"
	spec := s.spec("dns", "cat", "/etc/resolv.conf")
	spec.DNS = []string{resolver}
	id := s.run(t, spec)
	s.waitLog(t, id, "nameserver "+resolver)
	// The container has printed the whole file; stopped, its output is
	// complete.
	s.stop(t, id, runtime.StopOptions{})
	var servers []string
	lines := lineStrings(s.logs(t, id, runtime.LogOptions{Tail: -1}), runtime.StreamStdout)
	for _, line := range lines {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "nameserver" {
			servers = append(servers, line)
		}
	}
	if len(servers) != 1 {
		t.Errorf("/etc/resolv.conf with DNS [%s] has nameserver lines %q, want only %q; the file:\n%s",
			resolver, servers, "nameserver "+resolver, strings.Join(lines, "\n"))
	}
}

// testDNSInvalid: a DNS server that is not an IP address is refused at
// Create, naming the value, and leaves no container.
func (s *suite) testDNSInvalid(t *testing.T) {
	const bad = "resolver.example"
	spec := s.spec("dns-invalid", "sleep")
	spec.DNS = []string{"10.0.0.2", bad}
	if err := s.rt.EnsureImage(s.ctx(t), spec.Image, nil, nil); err != nil {
		t.Fatalf("EnsureImage(%s) = %v", spec.Image, err)
	}
	id, err := s.rt.Create(s.ctx(t), spec)
	if err == nil {
		t.Cleanup(func() { s.remove(t, id) })
	}
	if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), bad) {
		t.Errorf("Create with DNS %q = %v, want an error wrapping sdk.ErrInvalidArgument that names %q", spec.DNS, err, bad)
	}
	cs, err := s.rt.List(s.ctx(t), runtime.ListFilter{Labels: spec.Labels})
	if err != nil {
		t.Fatalf("List = %v", err)
	}
	for _, c := range cs {
		if c.Name == spec.Name {
			t.Errorf("a refused Create left container %s (%s)", c.Name, c.State)
		}
	}
}
