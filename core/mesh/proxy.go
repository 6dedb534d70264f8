package mesh

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// handle proxies one accepted client connection to a backend of route.
func (m *Mesh) handle(p *port, route *Route, client net.Conn) {
	defer m.handlers.Done()
	defer m.release(client)

	backend, b, err := m.dialAny(p, route)
	if err != nil {
		m.log.Debug("no backend reachable, dropping connection", "port", p.key.String(),
			"service_name", route.ServiceName, "client", client.RemoteAddr().String(), "err", err)
		reset(client)
		return
	}
	if !m.track(backend) {
		backend.Close()
		return
	}
	defer m.release(backend)
	m.log.Debug("proxying connection", "port", p.key.String(), "service_name", route.ServiceName,
		"task_id", b.TaskID, "node_id", b.NodeID, "addr", b.Addr)
	pipe(client, backend)
}

// dialAny dials the backends of route round-robin: it starts at the port's
// next position and, when a dial fails, tries each following backend once.
func (m *Mesh) dialAny(p *port, route *Route) (net.Conn, Backend, error) {
	n := uint64(len(route.Backends))
	start := p.next.Add(1) - 1
	var errs []error
	for i := range n {
		b := route.Backends[(start+i)%n]
		c, err := m.dial(m.ctx, b)
		if err == nil {
			return c, b, nil
		}
		m.log.Debug("dial backend", "port", p.key.String(), "service_name", route.ServiceName,
			"task_id", b.TaskID, "node_id", b.NodeID, "addr", b.Addr, "err", err)
		errs = append(errs, fmt.Errorf("dial task %s at %s: %w", b.TaskID, b.Addr, err))
		if m.ctx.Err() != nil {
			break
		}
	}
	return nil, Backend{}, errors.Join(errs...)
}

// pipe copies bytes both ways until both directions are done. A direction
// that reaches end of stream half-closes its destination, so the peer sees
// the end of the request (or response) while the other direction goes on; a
// direction that fails closes both connections, which ends the other one.
func pipe(client, backend net.Conn) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		copyHalf(backend, client)
	}()
	copyHalf(client, backend)
	<-done
}

// halfCloser is a connection whose write side can be closed alone:
// *net.TCPConn, and a forwarded stream (which sends its end frame).
type halfCloser interface {
	CloseWrite() error
}

func copyHalf(dst, src net.Conn) {
	if err := copyStream(dst, src); err != nil {
		src.Close()
		dst.Close()
		return
	}
	if hc, ok := dst.(halfCloser); ok && hc.CloseWrite() == nil {
		return
	}
	// dst cannot signal end of stream on its own: close it whole.
	dst.Close()
}

// copyBufferSize is the buffer of a copy that cannot splice: it holds four
// full TLS records.
const copyBufferSize = 64 << 10

var copyBuffers = sync.Pool{New: func() any {
	b := make([]byte, copyBufferSize)
	return &b
}}

// copyStream copies src to dst until src ends. Between two TCP sockets it
// lets the runtime splice(2) the bytes in the kernel; into a forwarded
// stream it reads straight into frames; otherwise it copies through a
// pooled buffer, so that a new connection allocates none.
func copyStream(dst, src net.Conn) error {
	if s, ok := dst.(*stream); ok {
		return s.readFrom(src)
	}
	_, dstTCP := dst.(*net.TCPConn)
	_, srcTCP := src.(*net.TCPConn)
	if dstTCP && srcTCP {
		_, err := io.Copy(dst, src)
		return err
	}
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	// Hide ReaderFrom and WriterTo: through them io.CopyBuffer would
	// ignore the pooled buffer and allocate its own.
	_, err := io.CopyBuffer(writerOnly{dst}, readerOnly{src}, *bp)
	return err
}

type writerOnly struct{ io.Writer }

type readerOnly struct{ io.Reader }
