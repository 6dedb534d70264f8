package mesh

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/types"
)

// DefaultDialTimeout bounds the default dialer's connection to a backend.
const DefaultDialTimeout = 2 * time.Second

// Accept retry pacing after an accept error that is not a closed listener
// (for example too many open files).
const (
	minAcceptDelay = 5 * time.Millisecond
	maxAcceptDelay = time.Second
)

// Config configures a Mesh.
type Config struct {
	// BindAddr is the IP published ports are bound on; "" binds every
	// address of the node.
	BindAddr string
	// Dialer connects to a backend. nil dials b.Addr over TCP with a
	// timeout of DefaultDialTimeout. It is called from many goroutines at
	// once and must honour ctx, which is cancelled when the Mesh closes.
	Dialer func(ctx context.Context, b Backend) (net.Conn, error)
	// Logger receives the mesh's logs; nil discards them.
	Logger *slog.Logger
	// Clock paces retries of a failing accept; nil is the wall clock.
	Clock clock.Clock
}

// PortStatus is the state of one published port.
type PortStatus struct {
	Port        PortKey
	ServiceName string
	// Backends is how many backends new connections are spread over.
	Backends int
	// Err is why the port is not listening (for example it is in use by
	// another process); "" when it listens. Apply retries the bind.
	Err string
}

// Mesh listens on published ports and proxies each connection to one of
// the port's backends. Its methods are safe for concurrent use. Apply and
// Close are serialised; proxied connections run on their own goroutines and
// never block them.
type Mesh struct {
	log  *slog.Logger
	clk  clock.Clock
	dial func(ctx context.Context, b Backend) (net.Conn, error)
	bind string

	// ctx is cancelled by Close, aborting dials in progress.
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex // guards ports and closed; held through Apply and Close
	ports  map[PortKey]*port
	closed bool
	// tasks indexes the backends of the routes in use by task ID, for
	// Lookup; replaced whole by Apply when a route changes.
	tasks atomic.Pointer[map[string]Backend]

	connMu      sync.Mutex // guards conns and connsClosed
	conns       map[net.Conn]struct{}
	connsClosed bool
	// handlers counts connection goroutines. Add is called only by accept
	// loops, and Close waits for every accept loop before Wait.
	handlers sync.WaitGroup
}

// port is one published port. ln, err, stop and done are guarded by
// Mesh.mu; route and next are read by the accept loop and the connection
// handlers without it.
type port struct {
	key   PortKey
	route atomic.Pointer[Route]
	next  atomic.Uint64 // round-robin position

	ln   net.Listener // nil while the bind fails
	err  error        // the last bind failure
	stop chan struct{}
	done chan struct{} // closed when the accept loop has returned
}

// New returns a Mesh that listens on nothing until Apply.
func New(cfg Config) *Mesh {
	m := &Mesh{
		log:   cfg.Logger,
		clk:   cfg.Clock,
		dial:  cfg.Dialer,
		bind:  cfg.BindAddr,
		ports: make(map[PortKey]*port),
		conns: make(map[net.Conn]struct{}),
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.clk == nil {
		m.clk = clock.Real{}
	}
	if m.dial == nil {
		d := &net.Dialer{Timeout: DefaultDialTimeout}
		m.dial = func(ctx context.Context, b Backend) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", b.Addr)
		}
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	return m
}

// Apply makes the mesh serve exactly routes, the whole desired table: it
// opens listeners for new ports, closes the listeners of ports no longer in
// the table and swaps each port's backend set atomically. A connection
// already proxied to a backend that left the set, or through a port that
// was removed, is not cut: it drains on its own. A port whose bind failed
// before is bound again. Ports of a protocol other than TCP are ignored.
//
// Apply is idempotent, and cheap when nothing changed: it compares each
// route with the one in use. It does nothing after Close.
func (m *Mesh) Apply(routes map[PortKey]Route) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	changed := false
	for key, p := range m.ports {
		if _, keep := routes[key]; keep {
			continue
		}
		changed = true
		if err := m.shut(p); err != nil {
			m.log.Warn("close published port", "port", key.String(), "err", err)
		}
		delete(m.ports, key)
		if p.err == nil {
			m.log.Info("stopped listening on published port", "port", key.String())
		}
	}
	for key, r := range routes {
		if key.Protocol != types.ProtocolTCP || key.Port == 0 {
			continue
		}
		p := m.ports[key]
		if p == nil {
			p = &port{key: key}
			m.ports[key] = p
		}
		if cur := p.route.Load(); cur == nil || !cur.Equal(r) {
			r.Backends = slices.Clone(r.Backends)
			p.route.Store(&r)
			changed = true
			m.log.Debug("route changed", "port", key.String(), "service_id", r.ServiceID,
				"service_name", r.ServiceName, "backends", len(r.Backends))
		}
		if p.ln == nil {
			m.listen(p)
		}
	}
	if changed || m.tasks.Load() == nil {
		m.index()
	}
}

// index rebuilds the task index from the routes in use. Called with m.mu
// held.
func (m *Mesh) index() {
	tasks := make(map[string]Backend)
	for _, p := range m.ports {
		if r := p.route.Load(); r != nil {
			for _, b := range r.Backends {
				tasks[b.TaskID] = b
			}
		}
	}
	m.tasks.Store(&tasks)
}

// Lookup returns the lookup a ForwardServer of node nodeID needs: the IP
// address of a task that is a backend of a route this mesh serves and runs
// on nodeID. Routes makes backends only of tasks desired and observed
// running, so a task being stopped or drained is refused as soon as this
// node applies the table that drops it. The lookup is safe for concurrent
// use and does not allocate.
func (m *Mesh) Lookup(nodeID string) func(taskID string) (addr string, ok bool) {
	return func(taskID string) (string, bool) {
		tasks := m.tasks.Load()
		if tasks == nil {
			return "", false
		}
		b, ok := (*tasks)[taskID]
		if !ok || b.NodeID != nodeID {
			return "", false
		}
		host, _, err := net.SplitHostPort(b.Addr)
		if err != nil {
			return "", false
		}
		return host, true
	}
}

// listen binds p and starts its accept loop, or records why it cannot.
// Called with m.mu held.
func (m *Mesh) listen(p *port) {
	addr := net.JoinHostPort(m.bind, strconv.FormatUint(uint64(p.key.Port), 10))
	var lc net.ListenConfig
	ln, err := lc.Listen(m.ctx, "tcp", addr)
	if err != nil {
		err = fmt.Errorf("publish port %s: %w (free the port, or publish the service on another one)", p.key, err)
		if p.err == nil || p.err.Error() != err.Error() {
			m.log.Warn("cannot listen on published port", "port", p.key.String(), "err", err)
		}
		p.err = err
		return
	}
	p.ln, p.err = ln, nil
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go m.serve(p, ln, p.stop, p.done)
	m.log.Info("listening on published port", "port", p.key.String(), "addr", ln.Addr().String())
}

// shut closes p's listener and waits for its accept loop. Called with m.mu
// held.
func (m *Mesh) shut(p *port) error {
	if p.ln == nil {
		return nil
	}
	err := p.ln.Close()
	close(p.stop)
	<-p.done
	p.ln = nil
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// serve accepts connections on ln until it is closed.
func (m *Mesh) serve(p *port, ln net.Listener, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			delay = min(max(2*delay, minAcceptDelay), maxAcceptDelay)
			m.log.Warn("accept on published port", "port", p.key.String(), "err", err, "retry_in", delay)
			select {
			case <-m.clk.After(delay):
				continue
			case <-stop:
				return
			}
		}
		delay = 0
		route := p.route.Load()
		if route == nil || len(route.Backends) == 0 {
			// Nothing to send it to: refuse at once rather than let the
			// client hang.
			reset(c)
			continue
		}
		if !m.track(c) {
			reset(c)
			continue
		}
		m.handlers.Add(1)
		go m.handle(p, route, c)
	}
}

// Status returns the state of every published port, ordered by port.
func (m *Mesh) Status() []PortStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]PortStatus, 0, len(m.ports))
	for key, p := range m.ports {
		st := PortStatus{Port: key}
		if r := p.route.Load(); r != nil {
			st.ServiceName = r.ServiceName
			st.Backends = len(r.Backends)
		}
		if p.err != nil {
			st.Err = p.err.Error()
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b PortStatus) int {
		return cmp.Or(cmp.Compare(a.Port.Port, b.Port.Port), cmp.Compare(a.Port.Protocol, b.Port.Protocol))
	})
	return out
}

// Close closes every listener and waits for the accept loops, then closes
// every proxied connection and waits for their goroutines. After Close,
// Apply does nothing. Close is idempotent.
func (m *Mesh) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	var errs []error
	for _, p := range m.ports {
		errs = append(errs, m.shut(p))
	}
	m.ports = nil
	m.tasks.Store(nil)
	m.cancel()

	m.connMu.Lock()
	m.connsClosed = true
	for c := range m.conns {
		c.Close()
	}
	m.connMu.Unlock()
	m.handlers.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close routing mesh: %w", err)
	}
	return nil
}

// track registers c so that Close can cut it; it returns false once the mesh
// is closing, and the caller must then close c itself.
func (m *Mesh) track(c net.Conn) bool {
	m.connMu.Lock()
	defer m.connMu.Unlock()
	if m.connsClosed {
		return false
	}
	m.conns[c] = struct{}{}
	return true
}

// release forgets c and closes it.
func (m *Mesh) release(c net.Conn) {
	m.connMu.Lock()
	delete(m.conns, c)
	m.connMu.Unlock()
	c.Close()
}

// activeConns is how many connections (client and backend sides) are open.
func (m *Mesh) activeConns() int {
	m.connMu.Lock()
	defer m.connMu.Unlock()
	return len(m.conns)
}

// reset closes c so that the peer sees a reset rather than waiting.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}
