package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"google.golang.org/grpc"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/taskstats"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// The Agent service.
const (
	agentService   = "hive.Agent"
	methodTaskLogs = "/" + agentService + "/TaskLogs"
	// methodTaskStats streams samples of the node's tasks' resource use.
	methodTaskStats = "/" + agentService + "/TaskStats"
)

// StatsFunc samples tasks of this node (taskstats.Collect over the local
// runtime) and passes each sample to sink.
type StatsFunc func(ctx context.Context, req taskstats.Request, sink func(taskstats.Sample) error) error

// LogsFunc reads a task's output from the local runtime and passes each
// line to sink, until the output ends (or, with opts.Follow, ctx ends).
type LogsFunc func(ctx context.Context, t *types.Task, opts runtime.LogOptions, sink func(runtime.LogEntry) error) error

// TaskLogsRequest names the task and how to read its output.
type TaskLogsRequest struct {
	Task    *types.Task        `json:"task"`
	Options runtime.LogOptions `json:"options"`
}

type agentServer struct {
	logs  LogsFunc
	stats StatsFunc
}

var agentDesc = serviceDesc(agentService, nil, []grpc.StreamDesc{
	serverStream("TaskLogs", func(s *agentServer, ctx context.Context, req *TaskLogsRequest, send func(*runtime.LogEntry) error) error {
		if req.Task == nil {
			return fmt.Errorf("task logs: no task given: %w", errdefs.ErrInvalidArgument)
		}
		return s.logs(ctx, req.Task, req.Options, func(e runtime.LogEntry) error { return send(&e) })
	}),
	serverStream("TaskStats", func(s *agentServer, ctx context.Context, req *taskstats.Request, send func(*taskstats.Sample) error) error {
		if len(req.Tasks) == 0 || slices.Contains(req.Tasks, nil) {
			return fmt.Errorf("task stats: no task given: %w", errdefs.ErrInvalidArgument)
		}
		return s.stats(ctx, *req, func(x taskstats.Sample) error { return send(&x) })
	}),
})

// RegisterAgent serves the Agent service on srv, reading logs with logs
// and sampling tasks with stats.
func RegisterAgent(srv *grpc.Server, logs LogsFunc, stats StatsFunc) {
	srv.RegisterService(agentDesc, &agentServer{logs: logs, stats: stats})
}

// AgentClient calls a node's Agent service.
type AgentClient struct {
	cc grpc.ClientConnInterface
}

// NewAgentClient returns a client over cc (from Dial or a Pool).
func NewAgentClient(cc grpc.ClientConnInterface) *AgentClient {
	return &AgentClient{cc: cc}
}

// TaskLogs reads a task's output on the node it ran on and passes each
// line to sink; it has LogsFunc's signature, so that a manager can read
// any node's logs as its own. An error from sink ends the call and is
// returned.
func (c *AgentClient) TaskLogs(ctx context.Context, t *types.Task, opts runtime.LogOptions, sink func(runtime.LogEntry) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := openStream[runtime.LogEntry](ctx, c.cc, methodTaskLogs, &TaskLogsRequest{Task: t, Options: opts})
	if err != nil {
		return fmt.Errorf("logs of task %s: %w", t.ID, err)
	}
	for {
		e, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("logs of task %s: %w", t.ID, err)
		}
		if err := sink(*e); err != nil {
			return err
		}
	}
}

// TaskStats samples tasks on the node they run on and passes each sample
// to sink; it has StatsFunc's signature, so that a manager can sample any
// node's tasks as its own. An error from sink ends the call and is
// returned.
func (c *AgentClient) TaskStats(ctx context.Context, req taskstats.Request, sink func(taskstats.Sample) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := openStream[taskstats.Sample](ctx, c.cc, methodTaskStats, &req)
	if err != nil {
		return fmt.Errorf("task stats: %w", err)
	}
	for {
		x, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("task stats: %w", err)
		}
		if err := sink(*x); err != nil {
			return err
		}
	}
}
