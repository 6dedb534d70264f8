package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// Stats returns one sample of the container's resource use, read at once
// (the engine's one-shot stats: hive computes rates from two samples); a
// container that is not running reports zeros.
func (r *Runtime) Stats(ctx context.Context, id string) (*runtime.Stats, error) {
	eng, err := r.engine()
	if err != nil {
		return nil, err
	}
	res, err := eng.cli.ContainerStats(ctx, id, client.ContainerStatsOptions{Stream: false})
	if err != nil {
		return nil, wrapErr(err, "stats of container %s", id)
	}
	defer res.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("stats of container %s: %w", id, ctx.Err())
		}
		return nil, streamErr(err, "stats of container %s", id)
	}
	return statsFrom(&s), nil
}

// statsFrom converts the engine's sample. Values the engine leaves out
// (no network for a container on the host's, no block I/O on some cgroup
// v2 hosts) are missing from Known.
func statsFrom(s *container.StatsResponse) *runtime.Stats {
	st := &runtime.Stats{
		Time:        s.Read,
		CPUNanos:    s.CPUStats.CPUUsage.TotalUsage,
		OnlineCPUs:  s.CPUStats.OnlineCPUs,
		MemoryBytes: memoryUsage(s.MemoryStats),
		MemoryLimit: s.MemoryStats.Limit,
		PIDs:        s.PidsStats.Current,
	}
	if st.CPUNanos == 0 && s.MemoryStats.Usage == 0 {
		return st // not running: the engine reports nothing
	}
	st.Known = runtime.StatsCPU | runtime.StatsMemory | runtime.StatsPIDs
	if st.MemoryLimit > 0 {
		st.Known |= runtime.StatsMemoryLimit
	}
	if s.Networks != nil {
		st.Known |= runtime.StatsNetwork
		for _, n := range s.Networks {
			st.NetRxBytes += n.RxBytes
			st.NetTxBytes += n.TxBytes
		}
	}
	if s.BlkioStats.IoServiceBytesRecursive != nil {
		st.Known |= runtime.StatsBlockIO
		for _, e := range s.BlkioStats.IoServiceBytesRecursive {
			// cgroup v1 says "Read"/"Write", cgroup v2 "read"/"write".
			switch strings.ToLower(e.Op) {
			case "read":
				st.BlockReadBytes += e.Value
			case "write":
				st.BlockWriteBytes += e.Value
			}
		}
	}
	return st
}

// memoryUsage is the memory in use without the page cache the kernel can
// drop, as `docker stats` reports it: cgroup v1 reports the cache as
// total_inactive_file, cgroup v2 as inactive_file, old engines as cache.
func memoryUsage(m container.MemoryStats) uint64 {
	for _, key := range []string{"total_inactive_file", "inactive_file", "cache"} {
		if v, ok := m.Stats[key]; ok {
			if v < m.Usage {
				return m.Usage - v
			}
			return m.Usage
		}
	}
	return m.Usage
}
