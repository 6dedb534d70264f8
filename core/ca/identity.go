package ca

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
)

// Identity is a node's current certificate. A renewal replaces it with
// SetCert while the cluster port and every dialer keep going: the TLS
// configurations made by ServerTLS and ClientTLS ask the Identity for the
// certificate at each handshake, so connections opened after the renewal
// use the new certificate and those already open are left alone. It is safe
// for concurrent use.
type Identity struct {
	root *Root

	mu     sync.RWMutex
	cert   *NodeCert
	served tls.Certificate // cert's chain followed by the root
}

// NewIdentity returns the identity of a node holding cert, signed by root.
func NewIdentity(root *Root, cert *NodeCert) *Identity {
	id := &Identity{root: root}
	id.SetCert(cert)
	return id
}

// Root returns the cluster's root CA.
func (i *Identity) Root() *Root { return i.root }

// Cert returns the current certificate.
func (i *Identity) Cert() *NodeCert {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.cert
}

// SetCert replaces the certificate; the next handshake uses it.
func (i *Identity) SetCert(cert *NodeCert) {
	served := withRoot(cert.TLS, i.root)
	i.mu.Lock()
	i.cert, i.served = cert, served
	i.mu.Unlock()
}

func (i *Identity) serverCert(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	c := i.served
	return &c, nil
}

func (i *Identity) clientCert(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	c := i.cert.TLS
	return &c, nil
}

// ServerTLS is ca.ServerTLS with the identity's current certificate.
func (i *Identity) ServerTLS() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS13,
		GetCertificate: i.serverCert,
		ClientCAs:      i.root.Pool(),
		ClientAuth:     tls.VerifyClientCertIfGiven,
	}
}

// ClientTLS is ca.ClientTLS with the identity's current certificate.
func (i *Identity) ClientTLS() *tls.Config {
	return &tls.Config{
		MinVersion:           tls.VersionTLS13,
		GetClientCertificate: i.clientCert,
		RootCAs:              i.root.Pool(),
		ServerName:           ServerName,
	}
}

// Key returns the certificate's private key (nil if it is not ECDSA,
// which hive never issues).
func (c *NodeCert) Key() *ecdsa.PrivateKey {
	k, _ := c.TLS.PrivateKey.(*ecdsa.PrivateKey)
	return k
}

// Renewed returns the node certificate certPEM with c's private key: the
// outcome of a renewal that kept the node's key. It checks that certPEM is
// for that key, names the same node, and is signed by root.
func (c *NodeCert) Renewed(root *Root, certPEM []byte) (*NodeCert, error) {
	key := c.Key()
	if key == nil {
		return nil, errors.New("renewed certificate: the current certificate has no ECDSA key")
	}
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("renewed certificate: no CERTIFICATE PEM block")
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("renewed certificate: %w", err)
	}
	if !key.PublicKey.Equal(leaf.PublicKey) {
		return nil, errors.New("renewed certificate is for another key than this node's")
	}
	if leaf.Subject.CommonName != c.NodeID() {
		return nil, fmt.Errorf("renewed certificate names node %q, not this node (%q)", leaf.Subject.CommonName, c.NodeID())
	}
	if err := leaf.CheckSignatureFrom(root.Cert); err != nil {
		return nil, fmt.Errorf("renewed certificate is not signed by the cluster CA: %w", err)
	}
	return &NodeCert{TLS: tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}, Leaf: leaf}, nil
}
