package orchestrator

import (
	"errors"
	"fmt"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// Dynamic published ports come from Swarm's range.
const (
	DynamicPortStart = 30000
	DynamicPortEnd   = 32767
)

// AllocatePorts checks that a service's ingress ports are free across the
// cluster and picks a port for each one published as 0, keeping the port
// an earlier version of the service got for the same target (had). The
// control API calls it when a spec is created or changed, the update
// controller when it rolls a service back. Its errors wrap
// errdefs.ErrConflict (a port taken) or errdefs.ErrUnavailable (none left).
func AllocatePorts(tx store.ReadTx, serviceID string, want, had []types.PortConfig) ([]types.PortConfig, error) {
	used := map[uint32]string{}
	for _, other := range tx.Services() {
		if other.ID == serviceID {
			continue
		}
		for _, p := range other.Endpoint.Ports {
			if p.PublishMode == types.PublishIngress {
				used[p.PublishedPort] = other.Spec.Name
			}
		}
	}
	out := make([]types.PortConfig, len(want))
	copy(out, want)
	for _, p := range out {
		if p.PublishMode == types.PublishIngress && p.PublishedPort != 0 {
			if owner, ok := used[p.PublishedPort]; ok {
				return nil, fmt.Errorf("%w: port %d is already published by service %s: publish another port or remove it there", errdefs.ErrConflict, p.PublishedPort, owner)
			}
			used[p.PublishedPort] = "this service"
		}
	}
	for i := range out {
		p := &out[i]
		if p.PublishMode != types.PublishIngress || p.PublishedPort != 0 {
			continue
		}
		for _, h := range had {
			if h.TargetPort == p.TargetPort && h.Protocol == p.Protocol && h.PublishMode == types.PublishIngress {
				if _, taken := used[h.PublishedPort]; !taken {
					p.PublishedPort = h.PublishedPort
				}
				break
			}
		}
		for port := uint32(DynamicPortStart); p.PublishedPort == 0 && port <= DynamicPortEnd; port++ {
			if _, taken := used[port]; !taken {
				p.PublishedPort = port
			}
		}
		if p.PublishedPort == 0 {
			return nil, errors.Join(errdefs.ErrUnavailable, fmt.Errorf("no free port left in %d-%d for target port %d", DynamicPortStart, DynamicPortEnd, p.TargetPort))
		}
		used[p.PublishedPort] = "this service"
	}
	return out, nil
}
