package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// The Agent service.
const (
	agentService   = "hive.Agent"
	methodTaskLogs = "/" + agentService + "/TaskLogs"
)

// LogsFunc reads a task's output from the local runtime and passes each
// line to sink, until the output ends (or, with opts.Follow, ctx ends).
type LogsFunc func(ctx context.Context, t *types.Task, opts runtime.LogOptions, sink func(runtime.LogEntry) error) error

// TaskLogsRequest names the task and how to read its output.
type TaskLogsRequest struct {
	Task    *types.Task        `json:"task"`
	Options runtime.LogOptions `json:"options"`
}

type agentServer struct {
	logs LogsFunc
}

var agentDesc = serviceDesc(agentService, nil, []grpc.StreamDesc{
	serverStream("TaskLogs", func(s *agentServer, ctx context.Context, req *TaskLogsRequest, send func(*runtime.LogEntry) error) error {
		if req.Task == nil {
			return fmt.Errorf("task logs: no task given: %w", errdefs.ErrInvalidArgument)
		}
		return s.logs(ctx, req.Task, req.Options, func(e runtime.LogEntry) error { return send(&e) })
	}),
})

// RegisterAgent serves the Agent service on srv, reading logs with logs.
func RegisterAgent(srv *grpc.Server, logs LogsFunc) {
	srv.RegisterService(agentDesc, &agentServer{logs: logs})
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
