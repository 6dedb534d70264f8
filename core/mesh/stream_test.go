package mesh

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
)

// streamPair returns two streams over a pipe, and reports how each
// stream's carrier was handed back.
func streamPair(t *testing.T) (left, right *stream, leftDone, rightDone *atomic.Value) {
	t.Helper()
	l, r := net.Pipe()
	t.Cleanup(func() { l.Close(); r.Close() })
	leftDone, rightDone = new(atomic.Value), new(atomic.Value)
	left = newStream(l, func(_ net.Conn, clean bool) { leftDone.Store(clean) })
	right = newStream(r, func(_ net.Conn, clean bool) { rightDone.Store(clean) })
	return left, right, leftDone, rightDone
}

func TestStreamCarriesBothDirectionsAndEndsCleanly(t *testing.T) {
	left, right, leftDone, rightDone := streamPair(t)
	big := strings.Repeat("0123456789", 20000) // several frames
	errc := make(chan error, 1)
	go func() {
		// right echoes what it reads, then ends its side.
		if err := copyStream(right, right); err != nil {
			errc <- err
			return
		}
		errc <- right.CloseWrite()
	}()
	go func() {
		io.WriteString(left, big)
		left.CloseWrite()
	}()
	got, err := io.ReadAll(left)
	if err != nil || string(got) != big {
		t.Fatalf("echo through a stream: %d bytes, %v; want %d bytes back", len(got), err, len(big))
	}
	if err := <-errc; err != nil {
		t.Fatalf("echo side: %v", err)
	}
	if !left.clean() || !right.clean() {
		t.Fatalf("clean = %v/%v after both ends, want true", left.clean(), right.clean())
	}
	left.Close()
	right.Close()
	if leftDone.Load() != true || rightDone.Load() != true {
		t.Errorf("carriers handed back with clean = %v/%v, want true", leftDone.Load(), rightDone.Load())
	}
	if _, err := left.Write([]byte("x")); err == nil {
		t.Errorf("write after the end frame succeeded")
	}
}

func TestStreamCloseBeforeTheEndsAborts(t *testing.T) {
	left, right, leftDone, _ := streamPair(t)
	go io.WriteString(left, "half") // blocks until read: a pipe has no buffer
	buf := make([]byte, 4)
	if _, err := io.ReadFull(right, buf); err != nil {
		t.Fatalf("read: %v", err)
	}
	left.Close()
	if leftDone.Load() != false {
		t.Fatalf("carrier handed back with clean = %v, want false", leftDone.Load())
	}
	if _, err := right.Read(buf); !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("read on the other side after an abort = %v, want an error, not a clean end", err)
	}
	if right.clean() {
		t.Errorf("the other side counts an aborted stream as clean")
	}
}

func TestStreamRefusesOversizedFrames(t *testing.T) {
	l, r := net.Pipe()
	defer l.Close()
	s := newStream(r, nil)
	defer s.Close()
	go func() {
		var h [frameHeaderLen]byte
		binary.BigEndian.PutUint32(h[:], maxFrame+1)
		l.Write(h[:])
	}()
	if _, err := s.Read(make([]byte, 10)); !errors.Is(err, errFrameTooLarge) {
		t.Fatalf("read of an oversized frame = %v, want %v", err, errFrameTooLarge)
	}
}

func TestReadLine(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		line    string
		started bool
		err     bool
	}{
		{"one line, the rest left unread", "abc\nrest", "abc", true, false},
		{"empty input", "", "", false, true},
		{"cut mid-line", "abc", "", true, true},
		{"too long", strings.Repeat("x", maxForwardLine+1) + "\n", "", true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := strings.NewReader(tc.in)
			line, started, err := readLine(r)
			if string(line) != tc.line || started != tc.started || (err != nil) != tc.err {
				t.Fatalf("readLine(%.20q) = %q, %v, %v; want %q, %v, error %v", tc.in, line, started, err, tc.line, tc.started, tc.err)
			}
			if tc.name == "one line, the rest left unread" {
				if rest, _ := io.ReadAll(r); !bytes.Equal(rest, []byte("rest")) {
					t.Errorf("left %q unread, want %q", rest, "rest")
				}
			}
		})
	}
}
