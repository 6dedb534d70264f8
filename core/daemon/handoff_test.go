package daemon

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestHandoffListenerKeepsTheSocketBetweenServers proves the API socket
// survives the locked API's shutdown: Close pauses it (a blocked Accept
// returns net.ErrClosed, the socket file stays), a client that connects
// meanwhile is served by the next Accept after handOver, and the last
// Close removes the socket.
func TestHandoffListenerKeepsTheSocketBetweenServers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.sock")
	raw, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	inAccept := make(chan struct{}, 1)
	h := newHandoffListener(signalingListener{raw.(*net.UnixListener), inAccept})

	accepted := make(chan error, 1)
	go func() {
		_, err := h.Accept()
		accepted <- err
	}()
	<-inAccept // past the pause check, in (or entering) the kernel's accept
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-accepted:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("a blocked Accept after the pause: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake a blocked Accept")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the socket is gone while paused: %v", err)
	}

	client, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial while paused: %v", err)
	}
	defer client.Close()
	if _, err := client.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	h.handOver()
	conn, err := h.Accept()
	if err != nil {
		t.Fatalf("Accept after handOver: %v", err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("the waiting client's bytes: %q, %v", buf, err)
	}
	conn.Close()
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the last Close left the socket: %v", err)
	}
}

// signalingListener is a *net.UnixListener that tells when an Accept
// reaches it.
type signalingListener struct {
	*net.UnixListener
	inAccept chan<- struct{}
}

func (l signalingListener) Accept() (net.Conn, error) {
	select {
	case l.inAccept <- struct{}{}:
	default:
	}
	return l.UnixListener.Accept()
}
