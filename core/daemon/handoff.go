package daemon

import (
	"net"
	"sync"
	"time"
)

// handoffListener passes the API socket from the locked API to the full
// one without closing it: a client that calls right after `hive unlock`
// waits in the socket's backlog for the full API, instead of finding no
// socket. Until handedOver, Close only pauses it (Accept fails with
// net.ErrClosed, and a connection accepted as it paused is kept for the
// next server); after, Close closes the socket.
type handoffListener struct {
	ln deadlineListener

	mu      sync.Mutex
	paused  bool
	final   bool
	pending []net.Conn
}

// deadlineListener is a listener whose blocked Accept a deadline wakes, as
// a *net.UnixListener.
type deadlineListener interface {
	net.Listener
	SetDeadline(t time.Time) error
}

func newHandoffListener(ln deadlineListener) *handoffListener {
	return &handoffListener{ln: ln}
}

func (h *handoffListener) Accept() (net.Conn, error) {
	h.mu.Lock()
	if h.paused {
		h.mu.Unlock()
		return nil, net.ErrClosed
	}
	if len(h.pending) > 0 {
		c := h.pending[0]
		h.pending = h.pending[1:]
		h.mu.Unlock()
		return c, nil
	}
	h.mu.Unlock()
	c, err := h.ln.Accept()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.paused {
		if c != nil {
			h.pending = append(h.pending, c)
		}
		return nil, net.ErrClosed
	}
	return c, err
}

// Close pauses the listener, or closes it once handed over.
func (h *handoffListener) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.final {
		for _, c := range h.pending {
			_ = c.Close()
		}
		h.pending = nil
		return h.ln.Close()
	}
	h.paused = true
	// Wake an Accept blocked in the kernel with a deadline long past (the
	// kernel's time, not the clock's); the socket stays open.
	return h.ln.SetDeadline(time.Unix(1, 0))
}

// handOver readies the listener for its last server, whose Close closes it.
func (h *handoffListener) handOver() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.paused, h.final = false, true
	_ = h.ln.SetDeadline(time.Time{})
}

func (h *handoffListener) Addr() net.Addr { return h.ln.Addr() }
