// Package ca is the cluster's certificate authority. `hive up` creates a
// root CA (ECDSA P-256) and issues every node a certificate naming its node
// ID (CN) and role (OU); all traffic on the cluster port is mutual TLS
// checked against that root, so a node proves who it is and what it may do.
// Managers hold the CA key and sign; workers hold only the CA certificate.
//
// Certificates and their lifetimes:
//
//   - A node certificate (OUManager or OUWorker) lasts the cluster's
//     certificate expiry (DefaultCertExpiry, 90 days, unless ca.cert_expiry
//     says otherwise), backdated one hour for clock skew. It is issued when
//     the node joins and renewed by the node itself: RenewAt is the moment
//     two thirds of its validity have passed (60 days into a 90-day
//     certificate, leaving 30 days to retry), when the node asks a manager
//     for a new certificate for the same key. The manager signs it with
//     Reissue: the node ID stays the one the current certificate names,
//     and the role is the one the cluster state gives now, so a promoted
//     or demoted node carries its new role from its next renewal on.
//   - A client certificate (OUClient, IssueClient) lets a remote CLI call
//     the HTTP API and nothing else. It is never renewed: when it expires,
//     `hive cluster client-cert` issues a new one.
//   - A listener certificate (ListenerCert, IssueServer) lets a manager
//     serve TLS on an address that clients check by name or IP (the Docker
//     API over TCP, docker_api.listen). It only serves, its key lives in
//     memory, and it is issued again with a new key once half of the
//     certificate expiry has passed.
//   - The root lasts 20 years.
//
// Identity holds a node's current certificate so that a renewal takes
// effect on the next handshake without restarting anything.
package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// Organizational units that carry a certificate's role.
const (
	OUManager = "hive-manager"
	OUWorker  = "hive-worker"
	// OUClient is a remote CLI's certificate (`hive cluster client-cert`):
	// it may call the API, nothing else.
	OUClient = "hive-client"
)

// ServerName is the name every node certificate carries and every client
// checks: the cluster is one TLS "server" whatever node answers.
const ServerName = "hive-cluster"

// DefaultCertExpiry is how long a node certificate lasts.
const DefaultCertExpiry = 90 * 24 * time.Hour

// Files in a node's certificate directory.
const (
	rootCertFile = "ca.crt"
	rootKeyFile  = "ca.key"
	nodeCertFile = "node.crt"
	nodeKeyFile  = "node.key"
)

// Root is a CA certificate with, on managers, its private key.
type Root struct {
	Cert *x509.Certificate
	// Key is nil on a node that cannot sign.
	Key *ecdsa.PrivateKey
	PEM []byte
}

// NewRoot creates a self-signed root CA valid for 20 years.
func NewRoot(now time.Time) (*Root, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "hive root CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(20 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Root{Cert: cert, Key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// Digest is the SHA-256 of the root certificate, hex encoded: what a join
// token carries so a joining node can check the CA before trusting it.
func (r *Root) Digest() string {
	sum := sha256.Sum256(r.Cert.Raw)
	return hex.EncodeToString(sum[:])
}

// Pool returns a cert pool holding the root.
func (r *Root) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(r.Cert)
	return p
}

// Issue signs a certificate for a node's public key.
func (r *Root) Issue(pub *ecdsa.PublicKey, nodeID, ou string, now time.Time, expiry time.Duration) ([]byte, error) {
	if r.Key == nil {
		return nil, errors.New("issue certificate: this node holds no CA key")
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: nodeID, OrganizationalUnit: []string{ou}},
		DNSNames:     []string{ServerName, nodeID},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(expiry),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, r.Cert, pub, r.Key)
	if err != nil {
		return nil, fmt.Errorf("issue certificate for node %s: %w", nodeID, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic("ca: crypto/rand failed: " + err.Error())
	}
	return n
}

// NodeCert is a node's certificate and key.
type NodeCert struct {
	TLS  tls.Certificate
	Leaf *x509.Certificate
}

// NodeID returns the node ID the certificate names.
func (c *NodeCert) NodeID() string { return c.Leaf.Subject.CommonName }

// Role returns OUManager or OUWorker.
func (c *NodeCert) Role() string {
	if len(c.Leaf.Subject.OrganizationalUnit) == 0 {
		return ""
	}
	return c.Leaf.Subject.OrganizationalUnit[0]
}

// Bootstrap creates a root CA and a manager certificate for nodeID in dir,
// as `hive up` does on a new data directory.
func Bootstrap(dir, nodeID string, now time.Time, expiry time.Duration) (*Root, *NodeCert, error) {
	root, err := NewRoot(now)
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate node key: %w", err)
	}
	certPEM, err := root.Issue(&key.PublicKey, nodeID, OUManager, now, expiry)
	if err != nil {
		return nil, nil, err
	}
	rootKeyPEM, err := MarshalKey(root.Key)
	if err != nil {
		return nil, nil, err
	}
	nodeKeyPEM, err := MarshalKey(key)
	if err != nil {
		return nil, nil, err
	}
	if err := Save(dir, Files{CACert: root.PEM, CAKey: rootKeyPEM, Cert: certPEM, Key: nodeKeyPEM}); err != nil {
		return nil, nil, err
	}
	nc, err := ParseNodeCert(certPEM, nodeKeyPEM)
	if err != nil {
		return nil, nil, err
	}
	return root, nc, nil
}

// Exists reports whether dir holds a node certificate.
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, nodeCertFile))
	return err == nil
}

// Load reads the root (with its key when present) and the node certificate
// from dir.
func Load(dir string) (*Root, *NodeCert, error) {
	rootPEM, err := os.ReadFile(filepath.Join(dir, rootCertFile))
	if err != nil {
		return nil, nil, fmt.Errorf("read CA certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, rootKeyFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("read CA key: %w", err)
	}
	root, err := ParseRoot(rootPEM, keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", filepath.Join(dir, rootCertFile), err)
	}
	certPEM, err := os.ReadFile(filepath.Join(dir, nodeCertFile))
	if err != nil {
		return nil, nil, fmt.Errorf("read node certificate: %w", err)
	}
	keyPEM, err = os.ReadFile(filepath.Join(dir, nodeKeyFile))
	if err != nil {
		return nil, nil, fmt.Errorf("read node key: %w", err)
	}
	nc, err := ParseNodeCert(certPEM, keyPEM)
	if err != nil {
		return nil, nil, err
	}
	return root, nc, nil
}

// ParseNodeCert reads a certificate and its private key from PEM.
func ParseNodeCert(certPEM, keyPEM []byte) (*NodeCert, error) {
	tc, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load node certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(tc.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("parse node certificate: %w", err)
	}
	tc.Leaf = leaf
	return &NodeCert{TLS: tc, Leaf: leaf}, nil
}

// ServerTLS is the TLS configuration of the cluster port: TLS 1.3, and a
// client certificate, when given, must be signed by the root. The port
// requires one for every protocol but joining (see core/transport). The
// node presents its certificate followed by the root's, so that a joining
// node, which trusts nothing yet, can check the root against the digest its
// join token carries. Identity.ServerTLS is the same with a certificate
// that renewal may replace.
func ServerTLS(root *Root, node *NodeCert) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{withRoot(node.TLS, root)},
		ClientCAs:    root.Pool(),
		ClientAuth:   tls.VerifyClientCertIfGiven,
	}
}

// withRoot returns c with the root's certificate after the leaf in its
// chain.
func withRoot(c tls.Certificate, root *Root) tls.Certificate {
	if len(c.Certificate) == 0 {
		return c
	}
	c.Certificate = [][]byte{c.Certificate[0], root.Cert.Raw}
	return c
}

// ClientTLS is the TLS configuration for dialing another node: the server
// must present a certificate signed by the root.
func ClientTLS(root *Root, node *NodeCert) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{node.TLS},
		RootCAs:      root.Pool(),
		ServerName:   ServerName,
	}
}

// Peer is who is at the other end of a verified TLS connection.
type Peer struct {
	// ID is the certificate's common name: a node ID, or a client's name.
	ID string
	// Role is OUManager, OUWorker or OUClient.
	Role string
}

// PeerOf returns the verified identity of a TLS connection's client, or
// false when it presented no certificate the root signed.
func PeerOf(st tls.ConnectionState) (Peer, bool) {
	if len(st.VerifiedChains) == 0 || len(st.VerifiedChains[0]) == 0 {
		return Peer{}, false
	}
	leaf := st.VerifiedChains[0][0]
	p := Peer{ID: leaf.Subject.CommonName}
	if len(leaf.Subject.OrganizationalUnit) > 0 {
		p.Role = leaf.Subject.OrganizationalUnit[0]
	}
	return p, true
}
