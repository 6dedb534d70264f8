package client_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/api/client"
	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/join"
	"github.com/hiveorch/hive/core/transport"
	"github.com/hiveorch/hive/core/types"
)

func TestJoinTokensAndRotation(t *testing.T) {
	b := backend(t)
	root, err := ca.NewRoot(time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	b.CA, b.ClusterAddr = root, "10.0.0.1:4242"
	c := start(t, b)
	ctx := context.Background()
	before, err := c.JoinTokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if before.Addr != "10.0.0.1:4242" {
		t.Errorf("addr %q", before.Addr)
	}
	for _, tok := range []string{before.Worker, before.Manager} {
		if p, err := join.ParseToken(tok); err != nil || p.Digest != root.Digest() {
			t.Errorf("token %q: %v", tok, err)
		}
	}
	after, err := c.RotateJoinToken(ctx, types.RoleManager)
	if err != nil {
		t.Fatal(err)
	}
	if after.Manager == before.Manager || after.Worker != before.Worker || b.Generations() != (types.JoinTokens{Manager: 1}) {
		t.Errorf("after rotating the manager token: %+v (generations %+v)", after, b.Generations())
	}
	_, err = c.RotateJoinToken(ctx, "boss")
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || !strings.Contains(err.Error(), `unknown join token role "boss"`) {
		t.Errorf("rotating an unknown role: %v", err)
	}
	if b.Generations() != (types.JoinTokens{Manager: 1}) {
		t.Errorf("a refused rotation changed the generations: %+v", b.Generations())
	}
}

func TestIssueClientCertSendsOnlyThePublicKey(t *testing.T) {
	b := backend(t)
	root, err := ca.NewRoot(time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	b.CA = root
	c := start(t, b)
	key, _ := ca.GenerateKey()
	pub, _ := ca.MarshalPublicKey(&key.PublicKey)
	out, err := c.IssueClientCert(context.Background(), api.ClientCertRequest{Name: "alice@laptop", PublicKeyPEM: string(pub)})
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, _ := ca.MarshalKey(key)
	if _, err := tls.X509KeyPair([]byte(out.CertPEM), keyPEM); err != nil {
		t.Errorf("certificate for another key: %v", err)
	}
	if out.CACertPEM != string(root.PEM) {
		t.Error("the CA certificate is missing")
	}
	reqs := b.ClientCertRequests()
	if len(reqs) != 1 || reqs[0].Name != "alice@laptop" || strings.Contains(reqs[0].PublicKeyPEM, "PRIVATE") {
		t.Errorf("requests %+v", reqs)
	}
	_, err = c.IssueClientCert(context.Background(), api.ClientCertRequest{Name: "x", PublicKeyPEM: "nope"})
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("a bad key: %v", err)
	}
}

func TestLoadTLS(t *testing.T) {
	dir := t.TempDir()
	_, err := client.LoadTLS(dir)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "ca.crt")+" does not exist: on a manager, run 'hive cluster client-cert --out "+dir+"'") {
		t.Fatalf("empty directory: %v", err)
	}
	root, err := ca.NewRoot(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ca.GenerateKey()
	certPEM, _ := root.IssueClient(&key.PublicKey, "alice", time.Now(), time.Hour)
	keyPEM, _ := ca.MarshalKey(key)
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.crt", root.PEM)
	write("client.crt", certPEM)
	if _, err := client.LoadTLS(dir); err == nil || !strings.Contains(err.Error(), "client.key does not exist") {
		t.Fatalf("without the key: %v", err)
	}
	write("client.key", keyPEM)
	cfg, err := client.LoadTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ServerName != ca.ServerName || len(cfg.NextProtos) != 1 || cfg.NextProtos[0] != transport.ProtoAPI || len(cfg.Certificates) != 1 || cfg.MinVersion != tls.VersionTLS13 {
		t.Errorf("config %+v", cfg)
	}
	other, _ := ca.GenerateKey()
	otherPEM, _ := ca.MarshalKey(other)
	write("client.key", otherPEM)
	if _, err := client.LoadTLS(dir); err == nil || !strings.Contains(err.Error(), "issue a new one with 'hive cluster client-cert'") {
		t.Fatalf("mismatched key: %v", err)
	}
}
