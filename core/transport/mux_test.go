package transport

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/ca"
)

func listen(t *testing.T) (*Mux, *ca.Root, *ca.NodeCert) {
	t.Helper()
	root, nc, err := ca.Bootstrap(t.TempDir(), "n1", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Listen("127.0.0.1:0", ca.ServerTLS(root, nc), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, root, nc
}

func greet(t *testing.T, m *Mux, proto string, anonymous bool, msg string) {
	l := m.Listener(proto, anonymous)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, msg)
			c.Close()
		}
	}()
}

func TestMuxRoutesByALPN(t *testing.T) {
	m, root, nc := listen(t)
	greet(t, m, ProtoRaft, false, "raft here")
	greet(t, m, ProtoRPC, false, "rpc here")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for proto, want := range map[string]string{ProtoRaft: "raft here", ProtoRPC: "rpc here"} {
		c, err := Dial(ctx, m.Addr().String(), proto, ca.ClientTLS(root, nc))
		if err != nil {
			t.Fatalf("dial %s: %v", proto, err)
		}
		b, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(b) != want {
			t.Fatalf("%s: read %q, %v", proto, b, err)
		}
	}
	if _, err := Dial(ctx, m.Addr().String(), "hive-nothing/1", ca.ClientTLS(root, nc)); err == nil {
		t.Fatal("a protocol nobody serves was accepted")
	}
}

func TestOnlyTheJoinProtocolAcceptsClientsWithoutACertificate(t *testing.T) {
	m, root, _ := listen(t)
	greet(t, m, ProtoRaft, false, "raft here")
	greet(t, m, ProtoJoin, true, "welcome")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	anon := &tls.Config{RootCAs: root.Pool(), ServerName: ca.ServerName, MinVersion: tls.VersionTLS13}

	c, err := Dial(ctx, m.Addr().String(), ProtoJoin, anon)
	if err != nil {
		t.Fatalf("anonymous join dial: %v", err)
	}
	if b, _ := io.ReadAll(c); string(b) != "welcome" {
		t.Fatalf("join read %q", b)
	}
	c.Close()

	c, err = Dial(ctx, m.Addr().String(), ProtoRaft, anon)
	if err == nil {
		b, _ := io.ReadAll(c)
		c.Close()
		if len(b) != 0 {
			t.Fatalf("an anonymous client reached raft: %q", b)
		}
	}
}

func TestListenRefusesATLSConfigThatDoesNotVerifyClients(t *testing.T) {
	root, nc, err := ca.Bootstrap(t.TempDir(), "n1", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ca.ServerTLS(root, nc)
	cfg.ClientAuth = tls.RequestClientCert
	if _, err := Listen("127.0.0.1:0", cfg, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("Listen accepted a configuration that does not verify client certificates")
	}
}
