package containerd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	v1 "github.com/containerd/cgroups/v3/cgroup1/stats"
	v2 "github.com/containerd/cgroups/v3/cgroup2/stats"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/typeurl/v2"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// statsInterval is the gap between the two readings Stats takes when it
// has no recent earlier one to compare with.
const statsInterval = 250 * time.Millisecond

// unlimited is the smallest memory limit a cgroup reports for "no limit".
const unlimited = 1 << 62

// sampleCache keeps each container's last CPU reading, so that Stats can
// report the CPU use since the previous call.
type sampleCache struct {
	mu   sync.Mutex
	last map[string]cpuSample
}

type cpuSample struct {
	at  time.Time
	cpu uint64
}

func (c *sampleCache) swap(id string, s cpuSample) (cpuSample, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		c.last = map[string]cpuSample{}
	}
	prev, ok := c.last[id]
	c.last[id] = s
	return prev, ok && s.at.Sub(prev.at) < 10*time.Second && s.at.After(prev.at)
}

func (c *sampleCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.last, id)
}

// Stats returns one sample of a running container's resource use from its
// cgroup (v1 or v2); CPUPercent is the use since the previous call, or
// over a quarter of a second when there was none recently. A container
// that is not running reports zeros.
func (r *Runtime) Stats(ctx context.Context, id string) (*runtime.Stats, error) {
	eng, err := r.engine()
	if err != nil {
		return nil, err
	}
	rec, err := eng.resolve(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	id = rec.ID
	p, err := eng.process(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	if p == nil || p.Status != tasktypes.Status_RUNNING && p.Status != tasktypes.Status_PAUSED {
		r.samples.forget(id)
		return &runtime.Stats{Time: time.Now()}, nil
	}
	st, err := eng.metrics(ctx, id)
	if err != nil {
		return nil, err
	}
	prev, ok := r.samples.swap(id, cpuSample{st.Time, st.CPUNanos})
	if !ok {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("stats of container %s: %w", id, ctx.Err())
		case <-time.After(statsInterval):
		}
		prev = cpuSample{st.Time, st.CPUNanos}
		if st, err = eng.metrics(ctx, id); err != nil {
			return nil, err
		}
		r.samples.swap(id, cpuSample{st.Time, st.CPUNanos})
	}
	if wall := st.Time.Sub(prev.at); wall > 0 && st.CPUNanos >= prev.cpu {
		st.CPUPercent = float64(st.CPUNanos-prev.cpu) / float64(wall.Nanoseconds()) * 100
	}
	return st, nil
}

// metrics reads the task's cgroup metrics.
func (e *engine) metrics(ctx context.Context, id string) (*runtime.Stats, error) {
	task, err := e.task(ctx, id)
	if err != nil {
		if errors.Is(err, sdk.ErrNotFound) {
			return &runtime.Stats{Time: time.Now()}, nil
		}
		return nil, fmt.Errorf("stats: %w", err)
	}
	m, err := task.Metrics(e.ctx(ctx))
	if err != nil {
		return nil, wrapErr(err, "stats of container %s", id)
	}
	data, err := typeurl.UnmarshalAny(m.Data)
	if err != nil {
		return nil, fmt.Errorf("stats of container %s: decode %s: %w", id, m.Data.GetTypeUrl(), err)
	}
	st := &runtime.Stats{Time: time.Now()}
	if m.Timestamp != nil {
		st.Time = m.Timestamp.AsTime()
	}
	switch d := data.(type) {
	case *v1.Metrics:
		if d.CPU != nil && d.CPU.Usage != nil {
			st.CPUNanos = d.CPU.Usage.Total
		}
		if mem := d.Memory; mem != nil && mem.Usage != nil {
			st.MemoryBytes = withoutCache(mem.Usage.Usage, mem.TotalInactiveFile)
			if mem.Usage.Limit < unlimited {
				st.MemoryLimit = mem.Usage.Limit
			}
		}
	case *v2.Metrics:
		if d.CPU != nil {
			st.CPUNanos = d.CPU.UsageUsec * 1000
		}
		if mem := d.Memory; mem != nil {
			st.MemoryBytes = withoutCache(mem.Usage, mem.InactiveFile)
			if mem.UsageLimit < unlimited {
				st.MemoryLimit = mem.UsageLimit
			}
		}
	default:
		return nil, fmt.Errorf("stats of container %s: unknown metrics type %T", id, data)
	}
	return st, nil
}

// withoutCache is the memory in use without the page cache the kernel can
// drop, as `docker stats` reports it.
func withoutCache(usage, inactiveFile uint64) uint64 {
	if inactiveFile < usage {
		return usage - inactiveFile
	}
	return usage
}
