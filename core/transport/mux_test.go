package transport

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/ca"
)

func TestMuxRoutesByProtocolOverMutualTLS(t *testing.T) {
	root, nc, err := ca.Bootstrap(t.TempDir(), "n1", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Listen("127.0.0.1:0", ca.ServerTLS(root, nc), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l := m.Listener(ProtoRaft)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "raft here")
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, m.Addr().String(), ProtoRaft, ca.ClientTLS(root, nc))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "raft here" {
		t.Fatalf("read %q, %v", b, err)
	}

	// An unknown protocol byte is hung up on.
	c2, err := Dial(ctx, m.Addr().String(), 'Z', ca.ClientTLS(root, nc))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if b, _ := io.ReadAll(c2); len(b) != 0 {
		t.Fatalf("unknown protocol got %q", b)
	}
}

func TestListenRefusesATLSConfigWithoutClientAuth(t *testing.T) {
	root, nc, err := ca.Bootstrap(t.TempDir(), "n1", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ca.ServerTLS(root, nc)
	cfg.ClientAuth = 0
	if _, err := Listen("127.0.0.1:0", cfg, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("Listen accepted a configuration without client certificates")
	}
}
