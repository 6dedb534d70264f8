// Package transport is hive's cluster port: one TCP listener that speaks
// only mutual TLS, carrying several protocols told apart by the first byte
// a client sends after the handshake (Raft now; node sessions and the
// routing mesh use their own bytes). RaftLayer adapts it to
// hashicorp/raft's StreamLayer.
package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Protocol bytes.
const (
	ProtoRaft byte = 'R'
)

// handshakeTimeout bounds the TLS handshake and the protocol byte.
const handshakeTimeout = 10 * time.Second

// Mux accepts mutual-TLS connections and hands each to the listener of the
// protocol it names.
type Mux struct {
	ln     net.Listener
	tls    *tls.Config
	logger *slog.Logger

	mu        sync.Mutex
	listeners map[byte]*protoListener
	closed    bool
	done      chan struct{}
}

// Listen opens the cluster port on addr. serverTLS must require client
// certificates.
func Listen(addr string, serverTLS *tls.Config, logger *slog.Logger) (*Mux, error) {
	if serverTLS.ClientAuth != tls.RequireAndVerifyClientCert {
		return nil, errors.New("cluster port: refusing a TLS configuration that does not require client certificates")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cluster port %s: %w (set --listen-addr to a free address)", addr, err)
	}
	m := &Mux{ln: ln, tls: serverTLS, logger: logger, listeners: map[byte]*protoListener{}, done: make(chan struct{})}
	go m.serve()
	return m, nil
}

// Addr is the address the port listens on.
func (m *Mux) Addr() net.Addr { return m.ln.Addr() }

// Listener returns the listener of one protocol.
func (m *Mux) Listener(proto byte) net.Listener {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.listeners[proto]; ok {
		return l
	}
	l := &protoListener{mux: m, proto: proto, conns: make(chan net.Conn), done: make(chan struct{})}
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

func (m *Mux) route(raw net.Conn) {
	c := tls.Server(raw, m.tls)
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := c.Handshake(); err != nil {
		m.logger.Debug("cluster port: TLS handshake refused", "remote", raw.RemoteAddr().String(), "error", err)
		raw.Close()
		return
	}
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	m.mu.Lock()
	l, ok := m.listeners[b[0]]
	m.mu.Unlock()
	if !ok {
		m.logger.Debug("cluster port: unknown protocol", "proto", b[0])
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
	proto     byte
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

// Dial opens a mutual-TLS connection to addr for one protocol.
func Dial(ctx context.Context, addr string, proto byte, clientTLS *tls.Config) (net.Conn, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: handshakeTimeout}, Config: clientTLS}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	if _, err := c.Write([]byte{proto}); err != nil {
		c.Close()
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return c, nil
}
