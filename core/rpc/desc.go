package rpc

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"
)

// Generic helpers that stand in for generated code: method descriptors
// for the server and typed calls for the client. S is the type a service
// registers as its implementation.

// serviceDesc builds a service's descriptor.
func serviceDesc(name string, methods []grpc.MethodDesc, streams []grpc.StreamDesc) *grpc.ServiceDesc {
	return &grpc.ServiceDesc{
		ServiceName: name,
		// Any implementation will do: the handlers assert the type.
		HandlerType: (*any)(nil),
		Methods:     methods,
		Streams:     streams,
		Metadata:    "hive internal RPC, JSON-encoded",
	}
}

// unary describes a unary method whose handler is h.
func unary[S, Req, Resp any](service, name string, h func(S, context.Context, *Req) (*Resp, error)) grpc.MethodDesc {
	full := "/" + service + "/" + name
	return grpc.MethodDesc{
		MethodName: name,
		Handler: func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			req := new(Req)
			if err := dec(req); err != nil {
				return nil, err
			}
			call := func(ctx context.Context, req any) (any, error) { return h(srv.(S), ctx, req.(*Req)) }
			if ic == nil {
				return call(ctx, req)
			}
			return ic(ctx, req, &grpc.UnaryServerInfo{Server: srv, FullMethod: full}, call)
		},
	}
}

// serverStream describes a method that takes one request and streams
// messages back through send.
func serverStream[S, Req, Msg any](name string, h func(S, context.Context, *Req, func(*Msg) error) error) grpc.StreamDesc {
	return grpc.StreamDesc{
		StreamName:    name,
		ServerStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error {
			req := new(Req)
			if err := stream.RecvMsg(req); err != nil {
				return err
			}
			return h(srv.(S), stream.Context(), req, func(m *Msg) error { return stream.SendMsg(m) })
		},
	}
}

// invoke makes a unary call with the JSON codec and returns the server's
// error as fromStatus makes it.
func invoke[Resp any](ctx context.Context, cc grpc.ClientConnInterface, method string, req any) (*Resp, error) {
	resp := new(Resp)
	if err := cc.Invoke(ctx, method, req, resp, withCodec); err != nil {
		return nil, fromStatus(err)
	}
	return resp, nil
}

// recvStream is the client side of a server-streaming call.
type recvStream[Msg any] struct {
	s grpc.ClientStream
}

// openStream starts a server-streaming call and sends its request.
func openStream[Msg any](ctx context.Context, cc grpc.ClientConnInterface, method string, req any) (*recvStream[Msg], error) {
	desc := &grpc.StreamDesc{ServerStreams: true}
	s, err := cc.NewStream(ctx, desc, method, withCodec)
	if err != nil {
		return nil, fromStatus(err)
	}
	// io.EOF from SendMsg means the server ended the call: Recv returns
	// why.
	if err := s.SendMsg(req); err != nil && !errors.Is(err, io.EOF) {
		return nil, fromStatus(err)
	}
	if err := s.CloseSend(); err != nil {
		return nil, fromStatus(err)
	}
	return &recvStream[Msg]{s: s}, nil
}

// Recv returns the next message, io.EOF when the server ended the call
// cleanly, or the server's error.
func (r *recvStream[Msg]) Recv() (*Msg, error) {
	m := new(Msg)
	if err := r.s.RecvMsg(m); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fromStatus(err)
	}
	return m, nil
}
