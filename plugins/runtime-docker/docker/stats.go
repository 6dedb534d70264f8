package docker

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// Stats returns one sample of the container's resource use. The engine
// takes two readings about a second apart, so CPUPercent is the use over
// that second; a container that is not running reports zeros.
func (r *Runtime) Stats(ctx context.Context, id string) (*runtime.Stats, error) {
	eng, err := r.engine()
	if err != nil {
		return nil, err
	}
	res, err := eng.cli.ContainerStats(ctx, id, client.ContainerStatsOptions{Stream: false, IncludePreviousSample: true})
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

// statsFrom converts the engine's sample.
func statsFrom(s *container.StatsResponse) *runtime.Stats {
	return &runtime.Stats{
		Time:        s.Read,
		CPUNanos:    s.CPUStats.CPUUsage.TotalUsage,
		CPUPercent:  cpuPercent(s.PreCPUStats, s.CPUStats),
		MemoryBytes: memoryUsage(s.MemoryStats),
		MemoryLimit: s.MemoryStats.Limit,
	}
}

// cpuPercent is the container's CPU use between two readings, relative to
// the whole host's, times the number of CPUs, times 100 (so one busy CPU
// is 100), as `docker stats` computes it.
func cpuPercent(pre, cur container.CPUStats) float64 {
	if cur.CPUUsage.TotalUsage <= pre.CPUUsage.TotalUsage || cur.SystemUsage <= pre.SystemUsage {
		return 0
	}
	cpuDelta := float64(cur.CPUUsage.TotalUsage - pre.CPUUsage.TotalUsage)
	systemDelta := float64(cur.SystemUsage - pre.SystemUsage)
	cpus := float64(cur.OnlineCPUs)
	if cpus == 0 {
		cpus = float64(len(cur.CPUUsage.PercpuUsage))
	}
	if cpus == 0 {
		cpus = 1
	}
	return cpuDelta / systemDelta * cpus * 100
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
