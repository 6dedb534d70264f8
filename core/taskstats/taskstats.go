// Package taskstats samples the resource use of tasks: on a node, it reads
// the runtime's raw samples of the node's task containers every interval
// (Collect, behind the agent's TaskStats RPC); on a manager, it turns two
// successive samples of a task into the row `hive stats` shows (Row). The
// rates (CPU %) are computed in runtime.CPUPercent and nowhere else.
package taskstats

import (
	"context"
	"fmt"
	"time"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// Interval is the time between two samples of a task, as docker stats
// refreshes.
const Interval = time.Second

// Request names the tasks of one node to sample, and how often.
type Request struct {
	Tasks []*types.Task `json:"tasks"`
	// Interval is the time between two rounds of samples (Interval when
	// zero or less).
	Interval time.Duration `json:"interval"`
	// Count is the number of rounds; 0 samples until ctx is done.
	Count int `json:"count"`
}

// Sample is one reading of a task's container, or why there is none.
type Sample struct {
	TaskID string         `json:"task_id"`
	Stats  *runtime.Stats `json:"stats,omitempty"`
	Error  string         `json:"error,omitempty"`
}

// StatsFunc reads one sample of a container (runtime.Runtime's Stats).
type StatsFunc func(ctx context.Context, containerID string) (*runtime.Stats, error)

// Collect reads a sample of each task of req with stats at once, then
// every interval on clk, req.Count rounds (or until ctx is done), and
// passes each to sink. A task whose sample cannot be read gets a Sample
// saying why. An error from sink ends the call and is returned; so does
// ctx's end.
func Collect(ctx context.Context, clk clock.Clock, stats StatsFunc, req Request, sink func(Sample) error) error {
	interval := req.Interval
	if interval <= 0 {
		interval = Interval
	}
	tick := clk.NewTicker(interval)
	defer tick.Stop()
	for round := 1; ; round++ {
		for _, t := range req.Tasks {
			s := Sample{TaskID: t.ID}
			if t.Status.ContainerID == "" {
				s.Error = fmt.Sprintf("task %s has no container", t.Name())
			} else if st, err := stats(ctx, t.Status.ContainerID); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				s.Error = fmt.Sprintf("stats of task %s: %v", t.Name(), err)
			} else {
				s.Stats = st
			}
			if err := sink(s); err != nil {
				return err
			}
		}
		if req.Count > 0 && round >= req.Count {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C():
		}
	}
}

// known names the values of a runtime sample, in api.TaskStats.Known words.
var known = []struct {
	field runtime.StatsFields
	name  string
}{
	{runtime.StatsCPU, api.StatsCPU},
	{runtime.StatsMemory, api.StatsMemory},
	{runtime.StatsMemoryLimit, api.StatsMemoryLimit},
	{runtime.StatsNetwork, api.StatsNetwork},
	{runtime.StatsBlockIO, api.StatsBlockIO},
	{runtime.StatsPIDs, api.StatsPIDs},
}

// Row is the row of task t, on the node called hostname, from its last
// sample cur and the one before it, prev (nil when there is none: the CPU
// use is then 0). A nil cur is a row with no values.
func Row(t *types.Task, hostname string, prev, cur *runtime.Stats) api.TaskStats {
	r := api.TaskStats{TaskID: t.ID, TaskName: t.Name(), ServiceID: t.ServiceID, ServiceName: t.ServiceName,
		NodeID: t.NodeID, NodeHostname: hostname, Known: []string{}}
	if cur == nil {
		return r
	}
	r.Time = cur.Time
	r.CPUPercent = runtime.CPUPercent(prev, cur)
	r.MemoryBytes, r.MemoryLimit = cur.MemoryBytes, cur.MemoryLimit
	if cur.Known.Has(runtime.StatsMemory|runtime.StatsMemoryLimit) && cur.MemoryLimit > 0 {
		r.MemoryPercent = float64(cur.MemoryBytes) / float64(cur.MemoryLimit) * 100
	}
	r.NetRxBytes, r.NetTxBytes = cur.NetRxBytes, cur.NetTxBytes
	r.BlockReadBytes, r.BlockWriteBytes = cur.BlockReadBytes, cur.BlockWriteBytes
	r.PIDs = cur.PIDs
	for _, k := range known {
		if cur.Known.Has(k.field) {
			r.Known = append(r.Known, k.name)
		}
	}
	return r
}
