package rpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/keepalive"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/transport"
)

// Reconnection pacing of a connection whose node does not answer: gRPC
// retries with these delays (with jitter) for as long as the connection is
// in use.
const (
	reconnectBaseDelay = 100 * time.Millisecond
	reconnectMaxDelay  = 3 * time.Second
	minConnectTimeout  = 5 * time.Second
)

// conn is a client connection with the last error its dialer met, so
// that Dial can say why it failed.
type conn struct {
	*grpc.ClientConn
	mu      sync.Mutex
	lastErr error
}

// newConn returns a connection to the cluster port at addr; it connects
// lazily, on the first call.
func newConn(addr string, clientTLS *tls.Config) (*conn, error) {
	c := &conn{}
	dial := func(ctx context.Context, a string) (net.Conn, error) {
		tc, err := transport.Dial(ctx, a, transport.ProtoRPC, clientTLS)
		c.mu.Lock()
		c.lastErr = err
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return tc, nil
	}
	cc, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithContextDialer(dial),
		grpc.WithTransportCredentials(handshaked{}),
		grpc.WithDefaultCallOptions(withCodec),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: KeepaliveTime, Timeout: KeepaliveTimeout, PermitWithoutStream: true}),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: reconnectBaseDelay, Multiplier: 1.6, Jitter: 0.2, MaxDelay: reconnectMaxDelay},
			MinConnectTimeout: minConnectTimeout,
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %v: %w", addr, err, errdefs.ErrInvalidArgument)
	}
	c.ClientConn = cc
	return c, nil
}

func (c *conn) dialErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// Dial connects to the node whose cluster port is addr, with the node's
// client TLS configuration (ca.ClientTLS), and waits until the connection
// is up or ctx ends. The connection reconnects by itself later on; close it
// when done. Calls on it use the JSON codec.
func Dial(ctx context.Context, addr string, clientTLS *tls.Config) (*grpc.ClientConn, error) {
	c, err := newConn(addr, clientTLS)
	if err != nil {
		return nil, err
	}
	c.Connect()
	for {
		st := c.GetState()
		switch st {
		case connectivity.Ready:
			return c.ClientConn, nil
		case connectivity.TransientFailure:
			_ = c.Close()
			cause := c.dialErr()
			if cause == nil {
				cause = errors.New("the connection failed")
			}
			return nil, fmt.Errorf("connect to %s: %w: %w", addr, cause, errdefs.ErrUnavailable)
		}
		if !c.WaitForStateChange(ctx, st) {
			_ = c.Close()
			return nil, fmt.Errorf("connect to %s: %w", addr, ctx.Err())
		}
	}
}

// Pool keeps one connection per address, made on first use, for the
// daemon's calls to other nodes (forwarded writes, logs, sessions). It is
// safe for concurrent use.
type Pool struct {
	tls *tls.Config

	mu     sync.Mutex
	conns  map[string]*conn
	closed bool
}

// NewPool returns a pool dialing with clientTLS (ca.ClientTLS).
func NewPool(clientTLS *tls.Config) *Pool {
	return &Pool{tls: clientTLS, conns: map[string]*conn{}}
}

// Conn returns the connection to addr, making it when needed. It does not
// wait for the connection: a call on it fails at once with an error
// wrapping errdefs.ErrUnavailable when the node cannot be reached.
func (p *Pool) Conn(addr string) (*grpc.ClientConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("connect to %s: the connection pool is closed: %w", addr, errdefs.ErrUnavailable)
	}
	if c, ok := p.conns[addr]; ok {
		if c.GetState() == connectivity.TransientFailure {
			// The caller wants the node now: try again at once rather
			// than after the reconnection delay.
			c.ResetConnectBackoff()
		}
		return c.ClientConn, nil
	}
	c, err := newConn(addr, p.tls)
	if err != nil {
		return nil, err
	}
	p.conns[addr] = c
	return c.ClientConn, nil
}

// Forget closes the connection to addr, if any (a node that left).
func (p *Pool) Forget(addr string) {
	p.mu.Lock()
	c, ok := p.conns[addr]
	delete(p.conns, addr)
	p.mu.Unlock()
	if ok {
		_ = c.Close()
	}
}

// Close closes every connection; Conn fails afterwards.
func (p *Pool) Close() error {
	p.mu.Lock()
	conns := p.conns
	p.conns, p.closed = map[string]*conn{}, true
	p.mu.Unlock()
	var errs []error
	for _, c := range conns {
		if err := c.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
