package mesh

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Framing of a forwarded connection on a connection between nodes. Each
// chunk of bytes travels as a frame: a 4-byte big-endian length, then that
// many bytes. A frame of length 0 ends its direction, as a half-close
// would. Once both directions have ended, the connection between the nodes
// is clean and carries the next forwarded connection; anything else (an
// error, an abort by either side) closes it.
const (
	frameHeaderLen = 4
	// maxFrame is the largest payload: what fits a pooled copy buffer
	// after the header.
	maxFrame = copyBufferSize - frameHeaderLen
)

var errFrameTooLarge = errors.New("forwarded stream: frame larger than the protocol allows")

// stream is one forwarded connection carried by a connection between
// nodes, seen as a net.Conn: Read and Write carry frames, CloseWrite sends
// the end frame, Close hands the carrier to done. Read is meant for one
// goroutine and Write/CloseWrite for one other; Close may be called from
// any goroutine, at any time, more than once.
type stream struct {
	conn net.Conn
	// done receives the carrier once Close is called; clean reports whether
	// both directions ended with their end frame and nothing failed, so
	// that the carrier can carry another stream. Called once.
	done func(conn net.Conn, clean bool)

	remaining int // bytes left in the incoming frame; reader only

	readEnded  atomic.Bool // the end frame was read
	wroteEnded atomic.Bool // the end frame was written
	failed     atomic.Bool // I/O failed or Close came before both ends
	closeOnce  sync.Once
}

var (
	_ net.Conn   = (*stream)(nil)
	_ halfCloser = (*stream)(nil)
)

func newStream(conn net.Conn, done func(net.Conn, bool)) *stream {
	return &stream{conn: conn, done: done}
}

// Read reads the payload of incoming frames; it returns io.EOF at the end
// frame.
func (s *stream) Read(p []byte) (int, error) {
	if s.readEnded.Load() {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	for s.remaining == 0 {
		var h [frameHeaderLen]byte
		if _, err := io.ReadFull(s.conn, h[:]); err != nil {
			return 0, s.fail(err)
		}
		n := binary.BigEndian.Uint32(h[:])
		if n == 0 {
			s.readEnded.Store(true)
			return 0, io.EOF
		}
		if n > maxFrame {
			return 0, s.fail(errFrameTooLarge)
		}
		s.remaining = int(n)
	}
	if len(p) > s.remaining {
		p = p[:s.remaining]
	}
	// The peer wrote the frame whole: wait for all of it (a TLS read
	// returns one record, at most 16 KiB) so that the bytes go on in one
	// write rather than one per record.
	n, err := io.ReadFull(s.conn, p)
	s.remaining -= n
	if err != nil {
		return n, s.fail(err)
	}
	return n, nil
}

// Write sends p as frames.
func (s *stream) Write(p []byte) (int, error) {
	if s.wroteEnded.Load() {
		return 0, fmt.Errorf("forwarded stream: write after its end: %w", net.ErrClosed)
	}
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	written := 0
	for len(p) > 0 {
		n := copy(buf[frameHeaderLen:], p)
		if err := s.writeFrame(buf, n); err != nil {
			return written, err
		}
		written += n
		p = p[n:]
	}
	return written, nil
}

// readFrom copies src into frames until src ends, reading straight into
// the frame buffer so that each chunk is one write (one TLS record) with no
// extra copy.
func (s *stream) readFrom(src io.Reader) error {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	for {
		n, err := src.Read(buf[frameHeaderLen:])
		if n > 0 {
			if werr := s.writeFrame(buf, n); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// writeFrame writes buf[frameHeaderLen:frameHeaderLen+n] as one frame,
// filling in its header.
func (s *stream) writeFrame(buf []byte, n int) error {
	binary.BigEndian.PutUint32(buf, uint32(n))
	if _, err := s.conn.Write(buf[:frameHeaderLen+n]); err != nil {
		return s.fail(err)
	}
	return nil
}

// CloseWrite sends the end frame: the peer reads io.EOF while this side
// can still read.
func (s *stream) CloseWrite() error {
	if s.wroteEnded.Swap(true) {
		return nil
	}
	var end [frameHeaderLen]byte
	if _, err := s.conn.Write(end[:]); err != nil {
		return s.fail(err)
	}
	return nil
}

// fail marks the stream broken, so that Close closes the carrier, and
// returns err (an end of the carrier mid-stream becomes
// io.ErrUnexpectedEOF: the peer aborted).
func (s *stream) fail(err error) error {
	s.failed.Store(true)
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// clean reports whether both directions ended and nothing failed.
func (s *stream) clean() bool {
	return s.readEnded.Load() && s.wroteEnded.Load() && !s.failed.Load()
}

// Close ends the stream. Before both directions ended it is an abort: the
// carrier is closed, which the peer sees as an error. After, the carrier
// goes to done for reuse.
func (s *stream) Close() error {
	s.closeOnce.Do(func() {
		clean := s.clean()
		if !clean {
			s.failed.Store(true)
			s.conn.Close()
		}
		if s.done != nil {
			s.done(s.conn, clean)
		}
	})
	return nil
}

func (s *stream) LocalAddr() net.Addr                { return s.conn.LocalAddr() }
func (s *stream) RemoteAddr() net.Addr               { return s.conn.RemoteAddr() }
func (s *stream) SetDeadline(t time.Time) error      { return s.conn.SetDeadline(t) }
func (s *stream) SetReadDeadline(t time.Time) error  { return s.conn.SetReadDeadline(t) }
func (s *stream) SetWriteDeadline(t time.Time) error { return s.conn.SetWriteDeadline(t) }

// readLine reads one line of at most maxForwardLine bytes, newline
// excluded from the result. It reads byte by byte so that nothing after the
// line is consumed: on a TLS connection every byte comes from the record
// already decrypted in memory, not from a system call. started reports
// whether any byte arrived, so that a connection closed between streams can
// be told from one closed mid-line.
func readLine(r io.Reader) (line []byte, started bool, err error) {
	var buf bytes.Buffer
	var b [1]byte
	for buf.Len() < maxForwardLine {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			if errors.Is(err, io.EOF) && buf.Len() > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, buf.Len() > 0, err
		}
		if b[0] == '\n' {
			return buf.Bytes(), true, nil
		}
		buf.WriteByte(b[0])
	}
	return nil, true, fmt.Errorf("line longer than %d bytes", maxForwardLine)
}
