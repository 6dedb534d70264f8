package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	v1 "github.com/containerd/cgroups/v3/cgroup1/stats"
	v2 "github.com/containerd/cgroups/v3/cgroup2/stats"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/typeurl/v2"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// unlimited is the smallest memory limit a cgroup reports for "no limit".
const unlimited = 1 << 62

// Stats returns one sample of a running container's resource use: CPU,
// memory, PIDs and block I/O from its cgroup (v1 or v2), network bytes from
// the network namespace of its task (/proc/PID/net/dev, loopback left
// out). A container that is not running reports zeros.
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
		return &runtime.Stats{Time: time.Now()}, nil
	}
	st, err := eng.metrics(ctx, id)
	if err != nil {
		return nil, err
	}
	if rx, tx, err := netDev(fmt.Sprintf("/proc/%d/net/dev", p.Pid)); err == nil {
		st.NetRxBytes, st.NetTxBytes = rx, tx
		st.Known |= runtime.StatsNetwork
	}
	return st, nil
}

// hostMemory is the node's memory (MemTotal in /proc/meminfo), 0 when
// unknown.
func hostMemory() uint64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if kb, err := strconv.ParseUint(f[0], 10, 64); err == nil && len(f) == 2 && f[1] == "kB" {
				return kb << 10
			}
		}
	}
	return 0
}

// netDev sums the bytes received and sent on the interfaces a
// /proc/net/dev file lists, but for the loopback.
func netDev(path string) (rx, tx uint64, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 9 {
			continue
		}
		r, err1 := strconv.ParseUint(f[0], 10, 64)
		t, err2 := strconv.ParseUint(f[8], 10, 64)
		if err1 != nil || err2 != nil {
			return 0, 0, fmt.Errorf("%s: bad line %q", path, line)
		}
		rx, tx = rx+r, tx+t
	}
	return rx, tx, nil
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
			st.Known |= runtime.StatsCPU
		}
		if d.Pids != nil {
			st.PIDs = d.Pids.Current
			st.Known |= runtime.StatsPIDs
		}
		if d.Blkio != nil {
			st.Known |= runtime.StatsBlockIO
			for _, e := range d.Blkio.IoServiceBytesRecursive {
				switch strings.ToLower(e.Op) {
				case "read":
					st.BlockReadBytes += e.Value
				case "write":
					st.BlockWriteBytes += e.Value
				}
			}
		}
		if mem := d.Memory; mem != nil && mem.Usage != nil {
			st.MemoryBytes = withoutCache(mem.Usage.Usage, mem.TotalInactiveFile)
			st.Known |= runtime.StatsMemory
			if st.MemoryLimit = mem.Usage.Limit; st.MemoryLimit >= unlimited {
				// No limit: the node's memory is, as docker stats shows.
				st.MemoryLimit = hostMemory()
			}
			if st.MemoryLimit > 0 {
				st.Known |= runtime.StatsMemoryLimit
			}
		}
	case *v2.Metrics:
		if d.CPU != nil {
			st.CPUNanos = d.CPU.UsageUsec * 1000
			st.Known |= runtime.StatsCPU
		}
		if d.Pids != nil {
			st.PIDs = d.Pids.Current
			st.Known |= runtime.StatsPIDs
		}
		if d.Io != nil {
			st.Known |= runtime.StatsBlockIO
			for _, e := range d.Io.Usage {
				st.BlockReadBytes += e.Rbytes
				st.BlockWriteBytes += e.Wbytes
			}
		}
		if mem := d.Memory; mem != nil {
			st.MemoryBytes = withoutCache(mem.Usage, mem.InactiveFile)
			st.Known |= runtime.StatsMemory
			if st.MemoryLimit = mem.UsageLimit; st.MemoryLimit >= unlimited {
				// No limit: the node's memory is, as docker stats shows.
				st.MemoryLimit = hostMemory()
			}
			if st.MemoryLimit > 0 {
				st.Known |= runtime.StatsMemoryLimit
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
