package stack

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hiveorch/hive/core/orchestrator/depends"
	"github.com/hiveorch/hive/core/types"
)

// Validate checks the whole model as stack before anything is created,
// and returns every problem found (errors.Join), each naming where it is
// (FILE:LINE when a file sets the key), the service and the key, and what
// to fix: keys and values hive cannot take, undefined networks, secrets,
// configs and volumes, depends_on on a service not in the stack or in a
// cycle, a port published twice in the stack, names too long once
// prefixed with the stack's, and every error of hive's own validation of
// each spec (types.ServiceSpec.Validate, NetworkSpec.Validate, ...). What
// needs the cluster (ports other services publish: CheckPorts; external
// objects that must exist) is the caller's to check.
func Validate(m *Model, stack string) error {
	_, errs := build(m, stack)
	return errors.Join(errs...)
}

// checkStack checks what concerns several of the stack's services: an
// ingress port published twice (the cluster refuses the second service),
// and a cycle of depends_on.
func (t *translator) checkStack(objs *Objects) {
	owner := map[uint32]string{}
	for _, s := range objs.Services {
		short := strings.TrimPrefix(s.Name, t.stack+"_")
		for _, p := range s.Endpoint.Ports {
			if p.PublishMode != types.PublishIngress || p.PublishedPort == 0 {
				continue
			}
			if o, ok := owner[p.PublishedPort]; ok && o != short {
				t.fail(path("services", short, "ports"), "port %d is already published by service %s of the stack: publish another port", p.PublishedPort, o)
				continue
			}
			owner[p.PublishedPort] = short
		}
	}
	if cycle := depends.Cycle(objs.Services); cycle != nil {
		names := make([]string, len(cycle))
		for i, n := range cycle {
			names[i] = strings.TrimPrefix(n, t.stack+"_")
		}
		t.fail(path("services", names[0], "depends_on"), "depends_on makes a cycle, %s: its services would wait for each other forever; remove one of the dependencies", strings.Join(names, " -> "))
	}
}

// CheckPorts checks the ingress ports objs publish against those of the
// services already on the cluster (existing, as `hive service ls` lists
// them; their allocated Endpoint ports count), leaving out the stack's
// own services, which a deploy updates. It returns every conflict.
func CheckPorts(objs *Objects, existing []types.Service) error {
	ours := map[string]bool{}
	for _, s := range objs.Services {
		ours[s.Name] = true
	}
	owner := map[uint32]string{}
	for _, s := range existing {
		if ours[s.Spec.Name] {
			continue
		}
		for _, p := range slices.Concat(s.Endpoint.Ports, s.Spec.Endpoint.Ports) {
			if p.PublishMode == types.PublishIngress && p.PublishedPort != 0 {
				owner[p.PublishedPort] = s.Spec.Name
			}
		}
	}
	var errs []error
	for _, s := range objs.Services {
		short := strings.TrimPrefix(s.Name, objs.Stack+"_")
		for _, p := range s.Endpoint.Ports {
			if o, ok := owner[p.PublishedPort]; ok && p.PublishMode == types.PublishIngress && p.PublishedPort != 0 {
				errs = append(errs, &KeyError{Key: displayPath(path("services", short, "ports")), Service: short,
					Reason: fmt.Sprintf("port %d is already published by service %s, which is not in the stack: publish another port, or remove it there", p.PublishedPort, o)})
			}
		}
	}
	return errors.Join(errs...)
}
