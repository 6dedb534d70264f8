package ca

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"time"
)

// IssueServer signs a server certificate for a listener that clients
// reach by address rather than by ServerName (the Docker API over TCP):
// CN nodeID, OUManager, usable only to serve TLS, naming ServerName,
// nodeID, dnsNames and ips.
func (r *Root) IssueServer(pub *ecdsa.PublicKey, nodeID string, dnsNames []string, ips []net.IP, now time.Time, expiry time.Duration) ([]byte, error) {
	if r.Key == nil {
		return nil, errors.New("issue server certificate: this node holds no CA key")
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: nodeID, OrganizationalUnit: []string{OUManager}},
		DNSNames:     append([]string{ServerName, nodeID}, dnsNames...),
		IPAddresses:  ips,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(expiry),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, r.Cert, pub, r.Key)
	if err != nil {
		return nil, fmt.Errorf("issue server certificate for node %s: %w", nodeID, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// ListenerNames are the names a server certificate for a listener on
// host (the host of a listen address) carries, so that a client that
// checks the certificate against the host it dials accepts it: an IP
// address names itself, a DNS name itself; an unspecified host (empty,
// 0.0.0.0 or ::) every address of the machine's interfaces, "localhost"
// and the machine's host name.
func ListenerNames(host string) (dnsNames []string, ips []net.IP, err error) {
	switch ip := net.ParseIP(host); {
	case ip != nil && !ip.IsUnspecified():
		return nil, []net.IP{ip}, nil
	case ip == nil && host != "":
		return []string{host}, nil, nil
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, nil, fmt.Errorf("list the addresses of this machine for a certificate of %q: %w; listen on a specific address instead", host, err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			ips = append(ips, n.IP)
		}
	}
	dnsNames = []string{"localhost"}
	if name, err := os.Hostname(); err == nil && name != "" && name != "localhost" {
		dnsNames = append(dnsNames, name)
	}
	return dnsNames, ips, nil
}

// ListenerCert is the server certificate of a TLS listener reached by
// address, with a key of its own that never leaves memory. It is issued
// on the first handshake and issued again, with a new key, once half its
// lifetime has passed, so it needs the root's key for as long as it
// serves. It is safe for concurrent use.
type ListenerCert struct {
	root     *Root
	nodeID   string
	dnsNames []string
	ips      []net.IP
	expiry   time.Duration
	now      func() time.Time

	mu      sync.Mutex
	served  *tls.Certificate // the leaf followed by the root; nil before the first handshake
	renewAt time.Time
}

// NewListenerCert returns the certificate of a listener named by dnsNames
// and ips (see ListenerNames) on node nodeID, issued by root for expiry
// at a time; now is the clock. root must hold its key.
func NewListenerCert(root *Root, nodeID string, dnsNames []string, ips []net.IP, expiry time.Duration, now func() time.Time) (*ListenerCert, error) {
	if root.Key == nil {
		return nil, errors.New("a TLS listener's certificate needs the cluster's CA key, and this node holds none: only an unlocked manager can serve one")
	}
	if expiry <= 0 {
		expiry = DefaultCertExpiry
	}
	return &ListenerCert{root: root, nodeID: nodeID, dnsNames: slices.Clone(dnsNames), ips: slices.Clone(ips), expiry: expiry, now: now}, nil
}

// TLSConfig is the listener's TLS configuration: TLS 1.3, the current
// certificate followed by the root's, and a client certificate signed by
// the root required of every client. What a client's role may do is for
// the server to check (PeerOf).
func (c *ListenerCert) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS13,
		GetCertificate: c.certificate,
		ClientCAs:      c.root.Pool(),
		ClientAuth:     tls.RequireAndVerifyClientCert,
	}
}

// certificate returns the current certificate, issuing a new one first
// when there is none yet or half of its lifetime has passed.
func (c *ListenerCert) certificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.served != nil && now.Before(c.renewAt) {
		return c.served, nil
	}
	key, err := GenerateKey()
	if err != nil {
		return nil, err
	}
	certPEM, err := c.root.IssueServer(&key.PublicKey, c.nodeID, c.dnsNames, c.ips, now, c.expiry)
	if err != nil {
		return nil, err
	}
	keyPEM, err := MarshalKey(key)
	if err != nil {
		return nil, err
	}
	nc, err := ParseNodeCert(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	served := withRoot(nc.TLS, c.root)
	life := nc.Leaf.NotAfter.Sub(nc.Leaf.NotBefore)
	c.served, c.renewAt = &served, nc.Leaf.NotBefore.Add(life/2)
	return c.served, nil
}
