package mesh

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/transport"
)

// The forwarding protocol (ALPN transport.ProtoMesh) runs on a mutual TLS
// connection from the forwarding node to the task's node. The connection
// carries one forwarded connection after another:
//
//	forwarding node -> task's node:  {"task_id":"…","port":80}\n
//	task's node -> forwarding node:  {"ok":true}\n   or   {"error":"…"}\n
//
// After an error answer the connection waits for the next header. After
// "ok" it carries the forwarded connection's bytes both ways as frames (see
// stream): a 4-byte big-endian length and the bytes; an empty frame ends a
// direction, as a half-close does. Once both directions have ended, the
// connection waits for the next header: the forwarding node keeps it idle
// for reuse, so that a new client connection costs one header exchange, not
// a TCP and TLS handshake. Either node aborts a forwarded connection by
// closing the TLS connection.

// forwardRequest is the header a forwarding node sends.
type forwardRequest struct {
	TaskID string `json:"task_id"`
	// Port is the target port: the port of the task's container.
	Port uint32 `json:"port"`
}

// forwardAnswer is the answer of the task's node.
type forwardAnswer struct {
	OK    bool   `json:"ok,omitempty"`
	Error string `json:"error,omitempty"`
}

// maxForwardLine bounds a header or an answer, newline included.
const maxForwardLine = 4 << 10

// maxAnswerError bounds the error text a node sends back.
const maxAnswerError = 512

// aLongTimeAgo is a deadline in the past: setting it aborts pending I/O.
var aLongTimeAgo = time.Unix(1, 0)

// Defaults of ForwarderConfig.
const (
	// DefaultForwardTimeout bounds a forward to another node, from the
	// dial to its answer.
	DefaultForwardTimeout = 3 * time.Second
	// DefaultForwarderIdleTimeout is how long a connection to another
	// node is kept idle for reuse: below DefaultServerIdleTimeout, so the
	// forwarding node closes it before the other node gives up on it.
	DefaultForwarderIdleTimeout = 30 * time.Second
	// DefaultMaxIdlePerNode bounds the idle connections kept to one node.
	DefaultMaxIdlePerNode = 64
)

// ForwarderConfig configures a Forwarder.
type ForwarderConfig struct {
	// NodeID is this node's ID: its backends are dialled directly.
	NodeID string
	// NodeAddr returns the cluster address (host:port) of a node, or false
	// when the node is unknown; it is used for backends without a
	// NodeAddr (tables from Routes rather than ClusterRoutes), and may be
	// nil when every table comes from ClusterRoutes. It is called from
	// many goroutines at once.
	NodeAddr func(nodeID string) (addr string, ok bool)
	// TLS is the client configuration of the cluster port
	// (ca.ClientTLS). To follow certificate renewal, give one whose
	// GetClientCertificate returns the current certificate. The forwarder
	// adds a session cache per node, so that a new connection resumes its
	// TLS session when the cluster port keeps its session ticket key.
	TLS *tls.Config
	// Local dials a backend on this node; nil dials Backend.Addr over TCP
	// with a timeout of DefaultDialTimeout.
	Local func(ctx context.Context, b Backend) (net.Conn, error)
	// Timeout bounds a forward from the dial to the answer (the TLS
	// handshake and the header exchange included); 0 is
	// DefaultForwardTimeout.
	Timeout time.Duration
	// IdleTimeout is how long an idle connection to another node is kept;
	// 0 is DefaultForwarderIdleTimeout. Keep it below the other nodes'
	// ForwardServer.IdleTimeout.
	IdleTimeout time.Duration
	// MaxIdle bounds the idle connections kept per node; 0 is
	// DefaultMaxIdlePerNode.
	MaxIdle int
	// Clock times idle connections; nil is the wall clock.
	Clock clock.Clock
}

// Forwarder is the routing mesh's dialer on a node of a cluster: it dials
// a backend on this node directly, and reaches one on another node through
// that node's cluster port, reusing idle connections to it. Use its Dial
// as Config.Dialer, and Close it after the Mesh. It is safe for concurrent
// use.
type Forwarder struct {
	nodeID      string
	nodeAddr    func(string) (string, bool)
	tls         *tls.Config
	local       func(ctx context.Context, b Backend) (net.Conn, error)
	timeout     time.Duration
	idleTimeout time.Duration
	maxIdle     int
	clk         clock.Clock

	mu       sync.Mutex // guards nodes, closed and sweeping
	nodes    map[string]*nodeConns
	closed   bool
	sweeping bool
	stop     chan struct{} // closed by Close
	sweeper  sync.WaitGroup
}

// nodeConns is what the forwarder keeps for one node.
type nodeConns struct {
	tls  *tls.Config // f.tls with a session cache of its own
	idle []idleConn  // oldest first
}

type idleConn struct {
	conn  *tls.Conn
	since time.Time
}

// NewForwarder returns a Forwarder.
func NewForwarder(cfg ForwarderConfig) *Forwarder {
	f := &Forwarder{
		nodeID:      cfg.NodeID,
		nodeAddr:    cfg.NodeAddr,
		tls:         cfg.TLS,
		local:       cfg.Local,
		timeout:     cfg.Timeout,
		idleTimeout: cfg.IdleTimeout,
		maxIdle:     cfg.MaxIdle,
		clk:         cfg.Clock,
		nodes:       make(map[string]*nodeConns),
		stop:        make(chan struct{}),
	}
	if f.local == nil {
		d := &net.Dialer{Timeout: DefaultDialTimeout}
		f.local = func(ctx context.Context, b Backend) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", b.Addr)
		}
	}
	if f.timeout <= 0 {
		f.timeout = DefaultForwardTimeout
	}
	if f.idleTimeout <= 0 {
		f.idleTimeout = DefaultForwarderIdleTimeout
	}
	if f.maxIdle <= 0 {
		f.maxIdle = DefaultMaxIdlePerNode
	}
	if f.clk == nil {
		f.clk = clock.Real{}
	}
	return f
}

// Dial connects to b: directly when b runs on this node (or names no
// node), else through b's node, which connects to the task only if it runs
// there now. The returned connection is ready for the client's bytes; it
// supports CloseWrite. A refused forward is an error like a failed dial, so
// the mesh fails over to the next backend.
func (f *Forwarder) Dial(ctx context.Context, b Backend) (net.Conn, error) {
	if b.NodeID == "" || b.NodeID == f.nodeID {
		return f.local(ctx, b)
	}
	s, err := f.forward(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("forward to task %s on node %s: %w", b.TaskID, b.NodeID, err)
	}
	return s, nil
}

// refused is a forward the other node answered with an error: the
// connection is fine and goes back to the pool.
type refused struct{ reason string }

func (r *refused) Error() string { return "refused: " + r.reason }

func (f *Forwarder) forward(ctx context.Context, b Backend) (*stream, error) {
	_, portStr, err := net.SplitHostPort(b.Addr)
	if err != nil {
		return nil, fmt.Errorf("backend address %q: %w", b.Addr, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return nil, fmt.Errorf("backend address %q has no valid port", b.Addr)
	}
	if f.tls == nil {
		return nil, errors.New("this node cannot reach other nodes: the forwarder has no TLS configuration")
	}
	ctx, cancel := clock.WithTimeout(ctx, f.clk, f.timeout)
	defer cancel()
	req := forwardRequest{TaskID: b.TaskID, Port: uint32(port)}
	// Reuse the most recent idle connection to the node; if the node
	// closed it meanwhile, no byte of the client's has been sent yet, so
	// try once more on a new connection.
	conn := f.take(b.NodeID)
	for {
		reused := conn != nil
		if !reused {
			if conn, err = f.dial(ctx, b); err != nil {
				return nil, err
			}
		}
		err := exchange(ctx, conn, req)
		var r *refused
		switch {
		case err == nil:
			return newStream(conn, func(c net.Conn, clean bool) {
				if clean {
					f.put(b.NodeID, c.(*tls.Conn))
				}
			}), nil
		case errors.As(err, &r):
			f.put(b.NodeID, conn)
			return nil, err
		}
		conn.Close()
		if !reused || ctx.Err() != nil {
			return nil, err
		}
		// Closed while idle (the node's idle timeout, or it restarted):
		// the older idle connections are no better.
		f.flush(b.NodeID)
		conn = nil
	}
}

// dial opens a new connection to b's node and checks that it is that node
// that answered.
func (f *Forwarder) dial(ctx context.Context, b Backend) (*tls.Conn, error) {
	node, addr := b.NodeID, b.NodeAddr
	if addr == "" && f.nodeAddr != nil {
		addr, _ = f.nodeAddr(node)
	}
	if addr == "" {
		return nil, fmt.Errorf("node %s has no known address", node)
	}
	conn, err := transport.Dial(ctx, addr, transport.ProtoMesh, f.config(node))
	if err != nil {
		return nil, err
	}
	peer, ok := ca.PeerOf(conn.ConnectionState())
	if !ok || peer.ID != node {
		conn.Close()
		// The address now belongs to another node: its answer would be
		// about its own tasks.
		return nil, fmt.Errorf("the node at %s is node %s, not %s", addr, peer.ID, node)
	}
	return conn, nil
}

// exchange sends the header and reads the answer before ctx is done.
func exchange(ctx context.Context, conn net.Conn, req forwardRequest) error {
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(aLongTimeAgo) })
	err := func() error {
		line, err := json.Marshal(req)
		if err != nil {
			return fmt.Errorf("encode header: %w", err)
		}
		if _, err := conn.Write(append(line, '\n')); err != nil {
			return fmt.Errorf("send header: %w", err)
		}
		line, _, err = readLine(conn)
		if err != nil {
			return fmt.Errorf("read answer: %w", err)
		}
		var ans forwardAnswer
		if err := json.Unmarshal(line, &ans); err != nil {
			return fmt.Errorf("read answer: %w", err)
		}
		if !ans.OK {
			if ans.Error == "" {
				ans.Error = "no reason given"
			}
			return &refused{reason: ans.Error}
		}
		return nil
	}()
	if !stop() {
		// ctx ended: the deadline is (being) set and the connection is
		// unusable; report the timeout rather than the I/O error it caused.
		return fmt.Errorf("no answer: %w", ctx.Err())
	}
	if derr := conn.SetDeadline(time.Time{}); derr != nil && err == nil {
		return derr
	}
	return err
}

// config returns the TLS configuration for dialling node.
func (f *Forwarder) config(node string) *tls.Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conns(node).tls
}

// conns returns what the forwarder keeps for node. Called with f.mu held.
func (f *Forwarder) conns(node string) *nodeConns {
	nc, ok := f.nodes[node]
	if !ok {
		cfg := f.tls.Clone()
		if cfg.ClientSessionCache == nil {
			// Every node answers to the same server name: one cache per
			// node keeps their sessions apart.
			cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		}
		// Full-sized TLS records from the first byte: the mesh carries
		// bulk traffic.
		cfg.DynamicRecordSizingDisabled = true
		nc = &nodeConns{tls: cfg}
		f.nodes[node] = nc
	}
	return nc
}

// take returns the most recently used idle connection to node, or nil.
func (f *Forwarder) take(node string) *tls.Conn {
	var expired []idleConn
	defer func() { closeIdle(expired) }()
	f.mu.Lock()
	defer f.mu.Unlock()
	nc, ok := f.nodes[node]
	if !ok || len(nc.idle) == 0 {
		return nil
	}
	last := nc.idle[len(nc.idle)-1]
	if f.clk.Now().Sub(last.since) >= f.idleTimeout {
		// The newest is too old: so are the others.
		expired, nc.idle = nc.idle, nil
		return nil
	}
	nc.idle = nc.idle[:len(nc.idle)-1]
	return last.conn
}

// put keeps conn, clean and idle, for reuse.
func (f *Forwarder) put(node string, conn *tls.Conn) {
	var drop *tls.Conn
	defer func() {
		if drop != nil {
			drop.Close()
		}
	}()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		drop = conn
		return
	}
	nc := f.conns(node)
	if len(nc.idle) >= f.maxIdle {
		drop = nc.idle[0].conn
		nc.idle = append(nc.idle[:0], nc.idle[1:]...)
	}
	nc.idle = append(nc.idle, idleConn{conn: conn, since: f.clk.Now()})
	if !f.sweeping {
		f.sweeping = true
		f.sweeper.Add(1)
		go f.sweep()
	}
}

// flush closes every idle connection to node.
func (f *Forwarder) flush(node string) {
	var idle []idleConn
	f.mu.Lock()
	if nc, ok := f.nodes[node]; ok {
		idle, nc.idle = nc.idle, nil
	}
	f.mu.Unlock()
	closeIdle(idle)
}

// sweep closes idle connections as they pass the idle timeout; it runs
// while any connection is idle.
func (f *Forwarder) sweep() {
	defer f.sweeper.Done()
	for {
		select {
		case <-f.clk.After(f.idleTimeout / 2):
		case <-f.stop:
			return
		}
		var expired []idleConn
		f.mu.Lock()
		now, idle := f.clk.Now(), 0
		for _, nc := range f.nodes {
			n := 0
			for n < len(nc.idle) && now.Sub(nc.idle[n].since) >= f.idleTimeout {
				n++
			}
			expired = append(expired, nc.idle[:n]...)
			nc.idle = slices.Clone(nc.idle[n:])
			idle += len(nc.idle)
		}
		done := idle == 0
		if done {
			f.sweeping = false
		}
		f.mu.Unlock()
		closeIdle(expired)
		if done {
			return
		}
	}
}

// Close closes the idle connections and stops keeping any. Connections in
// use belong to their Mesh, which closes them. Close is idempotent.
func (f *Forwarder) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	close(f.stop)
	var idle []idleConn
	for _, nc := range f.nodes {
		idle = append(idle, nc.idle...)
		nc.idle = nil
	}
	f.mu.Unlock()
	closeIdle(idle)
	f.sweeper.Wait()
	return nil
}

func closeIdle(idle []idleConn) {
	for _, ic := range idle {
		ic.conn.Close()
	}
}
