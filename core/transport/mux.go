// Package transport is hive's cluster port: one TCP listener that speaks
// only TLS 1.3, carrying several protocols told apart by ALPN: Raft, the
// node RPCs (gRPC), the routing mesh's node-to-node forwarding, the HTTP
// API for remote CLIs, and joining. Every protocol but joining requires a
// client certificate signed by the cluster's CA; a joining node has none
// yet, and may only use the join protocol.
package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/hiveorch/hive/core/clock"
)

// Protocols, as ALPN names.
const (
	ProtoRaft = "hive-raft/1"
	ProtoRPC  = "hive-rpc/1"
	ProtoMesh = "hive-mesh/1"
	ProtoJoin = "hive-join/1"
	// ProtoAPI is the HTTP API; plain "http/1.1" so that any HTTPS client
	// with a client certificate (curl --cert) can use it.
	ProtoAPI = "http/1.1"
)

// handshakeTimeout bounds the TLS handshake.
const handshakeTimeout = 10 * time.Second

// Mux accepts TLS connections and hands each to the listener of the
// protocol it negotiated.
type Mux struct {
	ln     net.Listener
	tls    *tls.Config
	logger *slog.Logger

	mu        sync.Mutex
	listeners map[string]*protoListener
	closed    bool
	done      chan struct{}
}

// Listen opens the cluster port on addr. serverTLS must verify the client
// certificates it is given (tls.VerifyClientCertIfGiven or stricter): the
// protocols that need one are enforced here, per connection.
func Listen(addr string, serverTLS *tls.Config, logger *slog.Logger) (*Mux, error) {
	if serverTLS.ClientAuth != tls.VerifyClientCertIfGiven && serverTLS.ClientAuth != tls.RequireAndVerifyClientCert {
		return nil, errors.New("cluster port: refusing a TLS configuration that does not verify client certificates")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cluster port %s: %w (set --listen-addr to a free address)", addr, err)
	}
	cfg := serverTLS.Clone()
	m := &Mux{ln: ln, tls: cfg, logger: logger, listeners: map[string]*protoListener{}, done: make(chan struct{})}
	go m.serve()
	return m, nil
}

// Addr is the address the port listens on.
func (m *Mux) Addr() net.Addr { return m.ln.Addr() }

// Listener returns the listener of one protocol. With anonymous, clients
// without a certificate are let through (joining); otherwise a verified
// client certificate is required.
func (m *Mux) Listener(proto string, anonymous bool) net.Listener {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.listeners[proto]; ok {
		return l
	}
	l := &protoListener{mux: m, proto: proto, anonymous: anonymous, conns: make(chan net.Conn), done: make(chan struct{})}
	m.listeners[proto] = l
	return l
}

// Close closes the port and every protocol listener.
func (m *Mux) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.done)
	for _, l := range m.listeners {
		l.closeOnce.Do(func() { close(l.done) })
	}
	m.mu.Unlock()
	return m.ln.Close()
}

func (m *Mux) serve() {
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			m.logger.Warn("cluster port accept failed", "error", err)
			return
		}
		go m.route(c)
	}
}

// config returns the TLS configuration with the registered protocols.
func (m *Mux) config() *tls.Config {
	cfg := m.tls.Clone()
	m.mu.Lock()
	for p := range m.listeners {
		cfg.NextProtos = append(cfg.NextProtos, p)
	}
	m.mu.Unlock()
	slices.Sort(cfg.NextProtos)
	return cfg
}

func (m *Mux) route(raw net.Conn) {
	c := tls.Server(raw, m.config())
	// A deadline the kernel enforces: it is on the real clock.
	_ = c.SetDeadline(clock.Real{}.Now().Add(handshakeTimeout))
	if err := c.Handshake(); err != nil {
		m.logger.Debug("cluster port: TLS handshake refused", "remote", raw.RemoteAddr().String(), "error", err)
		raw.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	st := c.ConnectionState()
	m.mu.Lock()
	l, ok := m.listeners[st.NegotiatedProtocol]
	m.mu.Unlock()
	switch {
	case !ok:
		m.logger.Debug("cluster port: no such protocol", "proto", st.NegotiatedProtocol, "remote", raw.RemoteAddr().String())
		c.Close()
		return
	case !l.anonymous && len(st.VerifiedChains) == 0:
		m.logger.Debug("cluster port: refused a client without a cluster certificate", "proto", l.proto, "remote", raw.RemoteAddr().String())
		c.Close()
		return
	}
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

type protoListener struct {
	mux       *Mux
	proto     string
	anonymous bool
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func (l *protoListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *protoListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

func (l *protoListener) Addr() net.Addr { return l.mux.Addr() }

// Dial opens a TLS connection to addr for one protocol and completes the
// handshake, so a refused certificate is an error here.
func Dial(ctx context.Context, addr, proto string, clientTLS *tls.Config) (*tls.Conn, error) {
	cfg := clientTLS.Clone()
	cfg.NextProtos = []string{proto}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: handshakeTimeout}, Config: cfg}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	tc := c.(*tls.Conn)
	if got := tc.ConnectionState().NegotiatedProtocol; got != proto {
		tc.Close()
		return nil, fmt.Errorf("dial %s: the node does not serve %s", addr, proto)
	}
	return tc, nil
}
