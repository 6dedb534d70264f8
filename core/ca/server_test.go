package ca

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestIssueServerNamesTheListenerAndOnlyServes(t *testing.T) {
	root, err := NewRoot(now)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := GenerateKey()
	certPEM, err := root.IssueServer(&key.PublicKey, "node1", []string{"docker.example.com"}, []net.IP{net.ParseIP("10.0.0.5"), net.ParseIP("fd00::5")}, now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leaf := leafOf(t, certPEM, key)
	if leaf.Subject.CommonName != "node1" || !slices.Equal(leaf.Subject.OrganizationalUnit, []string{OUManager}) {
		t.Errorf("subject %v, want CN node1, OU %s", leaf.Subject, OUManager)
	}
	if want := []string{ServerName, "node1", "docker.example.com"}; !slices.Equal(leaf.DNSNames, want) {
		t.Errorf("DNS names %v, want %v", leaf.DNSNames, want)
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("extended key usages %v, want server auth only", leaf.ExtKeyUsage)
	}
	for _, name := range []string{"docker.example.com", "10.0.0.5", "fd00::5", ServerName} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: root.Pool(), DNSName: name, CurrentTime: now}); err != nil {
			t.Errorf("the certificate does not serve %s: %v", name, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: root.Pool(), DNSName: "10.0.0.6", CurrentTime: now}); err == nil {
		t.Error("the certificate serves 10.0.0.6, which it does not name")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: root.Pool(), CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("a listener certificate authenticates a client")
	}

	workerRoot, err := ParseRoot(root.PEM, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := workerRoot.IssueServer(&key.PublicKey, "node1", nil, nil, now, time.Hour); err == nil {
		t.Error("a root without its key issued a certificate")
	}
	if _, err := NewListenerCert(workerRoot, "node1", nil, nil, time.Hour, time.Now); err == nil || !strings.Contains(err.Error(), "needs the cluster's CA key") {
		t.Errorf("NewListenerCert without the CA key: %v", err)
	}
}

func TestListenerNames(t *testing.T) {
	hostname, _ := os.Hostname()
	for _, tc := range []struct {
		host     string
		wantDNS  []string
		wantIPs  []string
		allAddrs bool
	}{
		{host: "10.0.0.5", wantIPs: []string{"10.0.0.5"}},
		{host: "::1", wantIPs: []string{"::1"}},
		{host: "manager1.example.com", wantDNS: []string{"manager1.example.com"}},
		{host: "", allAddrs: true},
		{host: "0.0.0.0", allAddrs: true},
		{host: "::", allAddrs: true},
	} {
		t.Run(tc.host, func(t *testing.T) {
			dns, ips, err := ListenerNames(tc.host)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.allAddrs {
				var got []string
				for _, ip := range ips {
					got = append(got, ip.String())
				}
				if !slices.Equal(dns, tc.wantDNS) || !slices.Equal(got, tc.wantIPs) {
					t.Errorf("ListenerNames(%q) = %v %v, want %v %v", tc.host, dns, got, tc.wantDNS, tc.wantIPs)
				}
				return
			}
			if !slices.Contains(dns, "localhost") || (hostname != "" && !slices.Contains(dns, hostname)) {
				t.Errorf("DNS names %v, want localhost and %q", dns, hostname)
			}
			if !slices.ContainsFunc(ips, func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) }) {
				t.Errorf("addresses %v lack 127.0.0.1", ips)
			}
			for _, ip := range ips {
				if ip.IsUnspecified() {
					t.Errorf("addresses %v hold an unspecified one", ips)
				}
			}
		})
	}
}

func TestListenerCertRenewsAtHalfItsLife(t *testing.T) {
	root, err := NewRoot(now)
	if err != nil {
		t.Fatal(err)
	}
	clock := now
	lc, err := NewListenerCert(root, "node1", []string{"localhost"}, nil, 10*time.Hour, func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	first, err := lc.certificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Certificate) != 2 || !slices.Equal(first.Certificate[1], root.Cert.Raw) {
		t.Fatalf("the served chain has %d certificates, want the leaf and the root", len(first.Certificate))
	}
	// Issued backdated one hour: 11 hours of life, renewed 5.5 hours
	// after its NotBefore, 4.5 hours from now.
	clock = now.Add(4*time.Hour + 29*time.Minute)
	if again, _ := lc.certificate(nil); again.Leaf.SerialNumber.Cmp(first.Leaf.SerialNumber) != 0 {
		t.Fatal("the certificate was issued again before half its life")
	}
	clock = now.Add(4*time.Hour + 30*time.Minute)
	renewed, err := lc.certificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	if renewed.Leaf.SerialNumber.Cmp(first.Leaf.SerialNumber) == 0 {
		t.Fatal("the certificate was not issued again at half its life")
	}
	if renewed.Leaf.PublicKey.(*ecdsa.PublicKey).Equal(first.Leaf.PublicKey) {
		t.Error("the renewed certificate keeps the old key")
	}
	if got := renewed.Leaf.NotAfter.Sub(clock); got != 10*time.Hour {
		t.Errorf("the renewed certificate lasts %v from now, want 10h", got)
	}
}

func TestListenerCertRequiresAClientCertificateOfTheRoot(t *testing.T) {
	root, err := NewRoot(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	lc, err := NewListenerCert(root, "node1", nil, []net.IP{net.IPv4(127, 0, 0, 1)}, time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, lc.TLSConfig(), func(tls.ConnectionState) string { return "hello" })
	client := func(r *Root) []tls.Certificate {
		key, _ := GenerateKey()
		certPEM, err := r.IssueClient(&key.PublicKey, "alice", time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		keyPEM, _ := MarshalKey(key)
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return []tls.Certificate{pair}
	}
	other, err := NewRoot(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The client checks the server against the address it dials, as the
	// docker CLI does.
	dial := func(certs []tls.Certificate) (string, error) {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: root.Pool(), Certificates: certs, MinVersion: tls.VersionTLS13})
		if err != nil {
			return "", err
		}
		defer c.Close()
		b, err := io.ReadAll(c)
		return string(b), err
	}
	if got, err := dial(client(root)); err != nil || got != "hello" {
		t.Fatalf("a client of the cluster: %q, %v", got, err)
	}
	if _, err := dial(nil); err == nil || !strings.Contains(err.Error(), "certificate required") {
		t.Errorf("without a client certificate: %v, want the handshake refused", err)
	}
	if _, err := dial(client(other)); err == nil || !strings.Contains(err.Error(), "unknown certificate authority") {
		t.Errorf("with a certificate from another CA: %v, want the handshake refused", err)
	}
}
