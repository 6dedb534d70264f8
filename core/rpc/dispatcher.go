package rpc

import (
	"context"
	"time"

	"google.golang.org/grpc"

	"github.com/hiveorch/hive/core/dispatcher"
	"github.com/hiveorch/hive/core/session"
)

// The Dispatcher service.
const (
	dispatcherService      = "hive.Dispatcher"
	methodSession          = "/" + dispatcherService + "/Session"
	methodHeartbeat        = "/" + dispatcherService + "/Heartbeat"
	methodUpdateTaskStatus = "/" + dispatcherService + "/UpdateTaskStatus"
)

// DispatcherBackend serves the Dispatcher service; *dispatcher.Dispatcher
// implements it. Only the leader's serves: on another manager each method
// fails with a *store.NotLeaderError naming the leader, which reaches the
// client with the leader's address. The server has checked that the node
// ID of every request is the caller's.
type DispatcherBackend interface {
	// Session registers the node and streams its session through send
	// until ctx ends (nil) or the session is lost (an error).
	Session(ctx context.Context, reg session.Registration, send func(*dispatcher.SessionMessage) error) error
	Heartbeat(ctx context.Context, nodeID string) (time.Duration, error)
	UpdateTaskStatus(ctx context.Context, nodeID string, updates []session.StatusUpdate) error
}

var _ DispatcherBackend = (*dispatcher.Dispatcher)(nil)

// HeartbeatRequest is the Heartbeat call's request.
type HeartbeatRequest struct {
	NodeID string `json:"node_id"`
}

// HeartbeatResponse says when the next heartbeat is due.
type HeartbeatResponse struct {
	Period time.Duration `json:"period"`
}

// UpdateTaskStatusRequest is a batch of a node's task statuses.
type UpdateTaskStatusRequest struct {
	NodeID  string                 `json:"node_id"`
	Updates []session.StatusUpdate `json:"updates"`
}

// Empty is the response of calls that return nothing.
type Empty struct{}

var dispatcherDesc = serviceDesc(dispatcherService,
	[]grpc.MethodDesc{
		unary(dispatcherService, "Heartbeat", func(b DispatcherBackend, ctx context.Context, req *HeartbeatRequest) (*HeartbeatResponse, error) {
			p, err := b.Heartbeat(ctx, req.NodeID)
			if err != nil {
				return nil, err
			}
			return &HeartbeatResponse{Period: p}, nil
		}),
		unary(dispatcherService, "UpdateTaskStatus", func(b DispatcherBackend, ctx context.Context, req *UpdateTaskStatusRequest) (*Empty, error) {
			return &Empty{}, b.UpdateTaskStatus(ctx, req.NodeID, req.Updates)
		}),
	},
	[]grpc.StreamDesc{
		serverStream("Session", func(b DispatcherBackend, ctx context.Context, req *session.Registration, send func(*dispatcher.SessionMessage) error) error {
			return b.Session(ctx, *req, send)
		}),
	},
)

// RegisterDispatcher serves the Dispatcher service on srv.
func RegisterDispatcher(srv *grpc.Server, b DispatcherBackend) {
	srv.RegisterService(dispatcherDesc, b)
}

// DispatcherClient calls a manager's Dispatcher service. SessionClient
// builds on it; use it directly to speak to one given manager.
type DispatcherClient struct {
	cc grpc.ClientConnInterface
}

// NewDispatcherClient returns a client over cc (from Dial or a Pool).
func NewDispatcherClient(cc grpc.ClientConnInterface) *DispatcherClient {
	return &DispatcherClient{cc: cc}
}

// SessionStream is an open session: the messages the leader sends.
type SessionStream = recvStream[dispatcher.SessionMessage]

// Session opens the node's session. The stream lasts until ctx ends or
// the manager ends it; read it with Recv.
func (c *DispatcherClient) Session(ctx context.Context, reg session.Registration) (*SessionStream, error) {
	return openStream[dispatcher.SessionMessage](ctx, c.cc, methodSession, &reg)
}

// Heartbeat tells the manager the node is alive and returns the period.
func (c *DispatcherClient) Heartbeat(ctx context.Context, nodeID string) (time.Duration, error) {
	resp, err := invoke[HeartbeatResponse](ctx, c.cc, methodHeartbeat, &HeartbeatRequest{NodeID: nodeID})
	if err != nil {
		return 0, err
	}
	return resp.Period, nil
}

// UpdateTaskStatus reports a batch of task statuses.
func (c *DispatcherClient) UpdateTaskStatus(ctx context.Context, nodeID string, updates []session.StatusUpdate) error {
	_, err := invoke[Empty](ctx, c.cc, methodUpdateTaskStatus, &UpdateTaskStatusRequest{NodeID: nodeID, Updates: updates})
	return err
}
