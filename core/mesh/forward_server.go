package mesh

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/clock"
)

// DefaultMaxForwardConns bounds the connections a node proxies for other
// nodes at once; beyond it new forwards are refused, and the forwarding
// node fails over to another backend.
const DefaultMaxForwardConns = 8192

// DefaultServerIdleTimeout is how long a connection from another node may
// wait for its next header (its first included) before it is closed.
const DefaultServerIdleTimeout = 60 * time.Second

// ForwardServer is the receiving side of forwarding: it serves the mesh
// protocol of the cluster port and connects each forwarded connection to a
// task running on this node. It connects only to the address Lookup gives
// for the task named in the header, never to one the peer chooses, so it
// is no open proxy.
type ForwardServer struct {
	// Lookup returns the IP address ("10.0.0.5", or with a prefix length,
	// "10.0.0.5/24") of a task that runs on this node now, or false. It
	// must answer false unless the task is assigned to this node, its
	// desired state is running (so a task being stopped or drained gets
	// no new connection) and it is observed running with an address: the
	// tasks Routes would make backends of. (*Mesh).Lookup does exactly
	// that from the routes the node's mesh serves. It is called from many
	// goroutines at once.
	Lookup func(taskID string) (addr string, ok bool)
	// Dial connects to a task's address (ip:port); nil dials TCP with a
	// timeout of DefaultDialTimeout. It must honour ctx.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// Clock paces retries of a failing accept; nil is the wall clock.
	Clock clock.Clock
	// MaxConns bounds the connections from other nodes served at once;
	// 0 is DefaultMaxForwardConns.
	MaxConns int
	// IdleTimeout is how long a connection may wait for its next header;
	// 0 is DefaultServerIdleTimeout. Keep it above the other nodes'
	// ForwarderConfig.IdleTimeout.
	IdleTimeout time.Duration
}

// ServeForward serves forwarded connections from l until ctx is done,
// connecting them to the tasks lookup names (see ForwardServer.Lookup for
// what it must check). l is the cluster port's mesh listener,
// mux.Listener(transport.ProtoMesh, false): its connections are mutually
// authenticated TLS.
func ServeForward(ctx context.Context, l net.Listener, lookup func(taskID string) (addr string, ok bool), logger *slog.Logger) error {
	s := &ForwardServer{Lookup: lookup, Logger: logger}
	return s.Serve(ctx, l)
}

// Serve accepts forwarded connections from l until ctx is done or l is
// closed; then it closes l, cuts every connection it proxies and waits for
// their goroutines. It returns nil when ctx is done. Every connection must
// be a TLS connection (a *tls.Conn) whose client certificate is a node
// certificate of the cluster, manager or worker: anything else is refused.
func (s *ForwardServer) Serve(ctx context.Context, l net.Listener) error {
	fs := &forwardServing{
		ForwardServer: *s,
		ctx:           ctx,
		conns:         make(map[net.Conn]struct{}),
	}
	if fs.Logger == nil {
		fs.Logger = slog.New(slog.DiscardHandler)
	}
	if fs.Clock == nil {
		fs.Clock = clock.Real{}
	}
	if fs.Dial == nil {
		d := &net.Dialer{Timeout: DefaultDialTimeout}
		fs.Dial = func(ctx context.Context, addr string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr)
		}
	}
	if fs.MaxConns <= 0 {
		fs.MaxConns = DefaultMaxForwardConns
	}
	if fs.IdleTimeout <= 0 {
		fs.IdleTimeout = DefaultServerIdleTimeout
	}
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	err := fs.accept(l)
	l.Close()
	fs.closeAll()
	fs.wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("serve mesh forwarding: %w", err)
}

// forwardServing is one run of Serve.
type forwardServing struct {
	ForwardServer
	ctx context.Context

	active atomic.Int64 // connections being handled
	full   atomic.Bool  // the last accepted connection was refused for the cap

	mu     sync.Mutex // guards conns and closed
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// accept runs the accept loop until l fails for good.
func (fs *forwardServing) accept(l net.Listener) error {
	var delay time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || fs.ctx.Err() != nil {
				return err
			}
			delay = min(max(2*delay, minAcceptDelay), maxAcceptDelay)
			fs.Logger.Warn("accept forwarded connection", "err", err, "retry_in", delay)
			select {
			case <-fs.Clock.After(delay):
				continue
			case <-fs.ctx.Done():
				return err
			}
		}
		delay = 0
		if fs.active.Load() >= int64(fs.MaxConns) {
			if !fs.full.Swap(true) {
				fs.Logger.Warn("refusing forwarded connections: too many at once", "max_conns", fs.MaxConns)
			}
			c.Close()
			continue
		}
		if fs.full.Swap(false) {
			fs.Logger.Info("accepting forwarded connections again", "max_conns", fs.MaxConns)
		}
		if !fs.track(c) {
			c.Close()
			continue
		}
		fs.active.Add(1)
		fs.wg.Add(1)
		go fs.handle(c)
	}
}

// connectionStater is a TLS connection: *tls.Conn.
type connectionStater interface {
	HandshakeContext(ctx context.Context) error
	ConnectionState() tls.ConnectionState
}

// handle serves one connection from another node: forwarded connection
// after forwarded connection, until one fails or the peer closes it.
func (fs *forwardServing) handle(c net.Conn) {
	defer fs.wg.Done()
	defer fs.active.Add(-1)
	defer fs.release(c)

	peer, err := fs.authenticate(c)
	if err != nil {
		fs.Logger.Warn("refused a connection from another node", "remote_addr", c.RemoteAddr().String(), "err", err)
		return
	}
	log := fs.Logger.With("peer_node_id", peer.ID)
	for {
		req, err := fs.next(c)
		if err != nil {
			var r *refusal
			switch {
			case errors.Is(err, errIdleEnd):
			case errors.As(err, &r):
				log.Warn("forward refused", "err", err)
			default:
				log.Debug("connection from another node ended", "err", err)
			}
			return
		}
		backend, err := fs.open(c, req)
		if err != nil {
			// A refusal has been answered: the connection waits for the
			// next header.
			var r *refusal
			switch {
			case errors.As(err, &r) && r.expected:
				log.Debug("forward refused", "task_id", req.TaskID, "err", err)
				continue
			case errors.As(err, &r):
				log.Warn("forward refused", "task_id", req.TaskID, "err", err)
				continue
			}
			log.Warn("forward failed", "task_id", req.TaskID, "err", err)
			return
		}
		s := newStream(c, nil)
		pipe(s, backend)
		fs.release(backend)
		if !s.clean() {
			return
		}
	}
}

// refusal is a forward the server turned down, with the reason it sent
// back; the connection waits for the next header. expected marks the
// ordinary ones (a task that just stopped), logged at debug level.
type refusal struct {
	reason   string
	expected bool
}

func (r *refusal) Error() string { return r.reason }

// errIdleEnd is a connection the peer closed between forwarded
// connections, or that stayed idle too long: its normal end.
var errIdleEnd = errors.New("connection closed between forwarded connections")

// authenticate completes c's handshake and checks that the peer is a node
// of the cluster.
func (fs *forwardServing) authenticate(c net.Conn) (ca.Peer, error) {
	tc, ok := c.(connectionStater)
	if !ok {
		return ca.Peer{}, errors.New("not a TLS connection")
	}
	ctx, cancel := clock.WithTimeout(fs.ctx, fs.Clock, DefaultForwardTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return ca.Peer{}, fmt.Errorf("TLS handshake: %w", err)
	}
	peer, ok := ca.PeerOf(tc.ConnectionState())
	if !ok || (peer.Role != ca.OUManager && peer.Role != ca.OUWorker) {
		const reason = "only cluster nodes may forward connections"
		_ = fs.answer(c, reason)
		return peer, fmt.Errorf("%s; %q has role %q", reason, peer.ID, peer.Role)
	}
	return peer, nil
}

// next reads the next header from c, waiting at most IdleTimeout.
func (fs *forwardServing) next(c net.Conn) (forwardRequest, error) {
	var req forwardRequest
	ctx, cancel := clock.WithTimeout(fs.ctx, fs.Clock, fs.IdleTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(aLongTimeAgo) })
	line, started, err := readLine(c)
	if !stop() {
		if !started {
			return req, errIdleEnd
		}
		return req, fmt.Errorf("read forward header: %w", ctx.Err())
	}
	if err != nil {
		if !started && errors.Is(err, io.EOF) {
			return req, errIdleEnd
		}
		return req, fmt.Errorf("read forward header: %w", err)
	}
	if err := json.Unmarshal(line, &req); err != nil {
		r := &refusal{reason: fmt.Sprintf("bad forward header: %v", err)}
		_ = fs.answer(c, r.reason)
		return req, r
	}
	if req.TaskID == "" || req.Port == 0 || req.Port > 65535 {
		r := &refusal{reason: fmt.Sprintf("bad forward header: want a task_id and a port in 1-65535, got %q and %d", req.TaskID, req.Port)}
		_ = fs.answer(c, r.reason)
		return req, r
	}
	return req, nil
}

// open connects to the task req names and answers; it returns the task's
// connection, tracked, ready for piping. On a refusal it has answered and
// c waits for the next header.
func (fs *forwardServing) open(c net.Conn, req forwardRequest) (net.Conn, error) {
	// Shorter than the forwarding node's DefaultForwardTimeout, so that it
	// gets the reason rather than a timeout of its own.
	ctx, cancel := clock.WithTimeout(fs.ctx, fs.Clock, DefaultDialTimeout)
	defer cancel()
	addr, err := fs.taskAddr(req)
	if err != nil {
		if aerr := fs.answer(c, err.Error()); aerr != nil {
			return nil, fmt.Errorf("answer forward of task %s: %w", req.TaskID, aerr)
		}
		return nil, err
	}
	backend, err := fs.Dial(ctx, addr)
	if err != nil {
		r := &refusal{reason: fmt.Sprintf("connect to task %s at %s: %v", req.TaskID, addr, err), expected: true}
		if aerr := fs.answer(c, r.reason); aerr != nil {
			return nil, fmt.Errorf("answer forward of task %s: %w", req.TaskID, aerr)
		}
		return nil, r
	}
	if !fs.track(backend) {
		backend.Close()
		return nil, errors.New("forward server stopping")
	}
	if err := fs.answer(c, ""); err != nil {
		fs.release(backend)
		return nil, fmt.Errorf("answer forward of task %s: %w", req.TaskID, err)
	}
	return backend, nil
}

// taskAddr is the address to connect to for req: the task's IP on this
// node, as Lookup gives it, at the requested port.
func (fs *forwardServing) taskAddr(req forwardRequest) (string, error) {
	host, ok := fs.Lookup(req.TaskID)
	if !ok {
		return "", &refusal{reason: fmt.Sprintf("task %s is not running on this node", req.TaskID), expected: true}
	}
	host, _, _ = strings.Cut(host, "/")
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return "", &refusal{reason: fmt.Sprintf("task %s has no usable address on this node (%q)", req.TaskID, host)}
	}
	return net.JoinHostPort(ip.String(), strconv.FormatUint(uint64(req.Port), 10)), nil
}

// answer sends the answer line: ok when reason is "", else the reason.
// The write may block only as long as the peer does not read; a peer that
// stops reading is cut when Serve returns.
func (fs *forwardServing) answer(c net.Conn, reason string) error {
	ans := forwardAnswer{OK: reason == ""}
	if len(reason) > maxAnswerError {
		reason = reason[:maxAnswerError] + "…"
	}
	ans.Error = reason
	line, err := json.Marshal(ans)
	if err != nil {
		return err
	}
	_, err = c.Write(append(line, '\n'))
	return err
}

// track registers c so that Serve can cut it when it returns; it returns
// false once Serve is returning, and the caller must close c itself.
func (fs *forwardServing) track(c net.Conn) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.closed {
		return false
	}
	fs.conns[c] = struct{}{}
	return true
}

// release forgets c and closes it.
func (fs *forwardServing) release(c net.Conn) {
	fs.mu.Lock()
	delete(fs.conns, c)
	fs.mu.Unlock()
	c.Close()
}

// closeAll closes every tracked connection and makes track refuse more.
func (fs *forwardServing) closeAll() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.closed = true
	for c := range fs.conns {
		c.Close()
	}
}
