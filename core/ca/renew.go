package ca

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/hiveorch/hive/core/types"
)

// RenewAt is when a node should renew cert: once two thirds of its
// validity have passed. With the default 90-day expiry that is 60 days
// after issue, which leaves a month of retries before the certificate
// expires.
func RenewAt(cert *x509.Certificate) time.Time {
	life := cert.NotAfter.Sub(cert.NotBefore)
	return cert.NotBefore.Add(life / 3 * 2)
}

// OU returns the organizational unit of a node role, or false for a role
// that is neither manager nor worker.
func OU(role types.NodeRole) (string, bool) {
	switch role {
	case types.RoleManager:
		return OUManager, true
	case types.RoleWorker:
		return OUWorker, true
	}
	return "", false
}

// RoleOf returns the node role an organizational unit carries, or "" for
// a client certificate or an unknown unit.
func RoleOf(ou string) types.NodeRole {
	switch ou {
	case OUManager:
		return types.RoleManager
	case OUWorker:
		return types.RoleWorker
	}
	return ""
}

// Reissue signs the renewal of a node's certificate for pub. peer is the
// verified identity of the node asking (PeerOf its connection): the new
// certificate keeps peer's node ID, and takes role from the cluster state
// as it is now, so a promoted or demoted node gets its new role with its
// next certificate. A client certificate cannot be renewed.
func (r *Root) Reissue(pub *ecdsa.PublicKey, peer Peer, role types.NodeRole, now time.Time, expiry time.Duration) ([]byte, error) {
	if peer.Role != OUManager && peer.Role != OUWorker {
		return nil, fmt.Errorf("renew certificate of %q: it is not a node certificate (role %q); a client gets a new certificate with 'hive cluster client-cert'", peer.ID, peer.Role)
	}
	if peer.ID == "" {
		return nil, errors.New("renew certificate: the current certificate names no node")
	}
	ou, ok := OU(role)
	if !ok {
		return nil, fmt.Errorf("renew certificate of node %s: unknown role %q: want manager or worker", peer.ID, role)
	}
	return r.Issue(pub, peer.ID, ou, now, expiry)
}

// clientNameRE is what a client certificate's name may look like: a user
// name, optionally @host.
var clientNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// ValidateClientName checks the name of a client certificate.
func ValidateClientName(name string) error {
	if !clientNameRE.MatchString(name) {
		return fmt.Errorf("invalid client name %q: use 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit (for example alice@laptop)", name)
	}
	return nil
}

// IssueClient signs a client certificate for a remote CLI: name in the CN,
// OUClient, usable only to authenticate a client (it cannot serve the
// cluster port).
func (r *Root) IssueClient(pub *ecdsa.PublicKey, name string, now time.Time, expiry time.Duration) ([]byte, error) {
	if r.Key == nil {
		return nil, errors.New("issue client certificate: this node holds no CA key")
	}
	if err := ValidateClientName(name); err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name, OrganizationalUnit: []string{OUClient}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(expiry),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, r.Cert, pub, r.Key)
	if err != nil {
		return nil, fmt.Errorf("issue client certificate for %s: %w", name, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
