package join

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/transport"
	"github.com/hiveorch/hive/core/types"
)

// Options describe the joining node.
type Options struct {
	// Hostname is the node's name; "" means os.Hostname().
	Hostname string
	// Addr is the node's advertise address, host:port.
	Addr string
	// Role is the role asked for; "" takes the one the token grants.
	Role types.NodeRole
	// Clock is the time certificates are checked at; nil means the real
	// clock.
	Clock clock.Clock
}

// Result is a joined node's identity.
type Result struct {
	NodeID string
	Role   types.NodeRole
	// Managers are the managers' cluster ports.
	Managers []string
	// CertPEM and KeyPEM are the node's certificate and private key.
	CertPEM []byte
	KeyPEM  []byte
	// CACertPEM is the root CA; CAKeyPEM its key, for managers only.
	CACertPEM []byte
	CAKeyPEM  []byte
	// DataKey is the cluster's data-encryption key, for managers only
	// (empty when the manager that answered holds none).
	DataKey []byte
}

// Join asks the manager at addr (its cluster port) to admit this host
// with token. The token is parsed first; the manager is trusted only if
// the root of the chain it presents hashes to the token's digest and
// signed its certificate, checked during the TLS handshake before anything
// is sent. A refusal is an *Error whose text says what to do.
func Join(ctx context.Context, addr, token string, opts Options) (*Result, error) {
	tok, err := ParseToken(token)
	if err != nil {
		return nil, err
	}
	switch opts.Role {
	case "", types.RoleWorker, types.RoleManager:
	default:
		return nil, fmt.Errorf("%w: join: unknown role %q: want worker or manager", errdefs.ErrInvalidArgument, opts.Role)
	}
	if opts.Hostname == "" {
		if opts.Hostname, err = os.Hostname(); err != nil {
			return nil, fmt.Errorf("join: find this host's name: %w", err)
		}
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	key, err := ca.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	pubPEM, err := ca.MarshalPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS13,
		ServerName: ca.ServerName,
		// The chain is checked against the token's digest instead of a
		// trust store, in VerifyConnection, still during the handshake.
		InsecureSkipVerify: true,
		VerifyConnection:   verifyManager(addr, tok.Digest, opts.Clock),
	}
	conn, err := transport.Dial(ctx, addr, transport.ProtoJoin, cfg)
	if err != nil {
		var je *Error
		if errors.As(err, &je) {
			return nil, je
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("join %s: %w", addr, ctx.Err())
		}
		return nil, fmt.Errorf("%w: join %s: %w: check the address (a manager's cluster port, as 'hive join-token' prints it) and that hive runs there", errdefs.ErrUnavailable, addr, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	req := Request{Token: tok.reveal(), PublicKeyPEM: string(pubPEM), Hostname: opts.Hostname, Addr: opts.Addr, Role: opts.Role}
	var resp Response
	err = json.NewEncoder(conn).Encode(req)
	if err == nil {
		err = json.NewDecoder(io.LimitReader(conn, maxMessage)).Decode(&resp)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("join %s: %w", addr, ctx.Err())
		}
		return nil, fmt.Errorf("%w: join %s: the manager did not answer: %w", errdefs.ErrUnavailable, addr, err)
	}
	if resp.Error != "" {
		return nil, &Error{Kind: resp.Kind, Msg: resp.Error}
	}
	keyPEM, err := ca.MarshalKey(key)
	if err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	res, err := checkResponse(resp, keyPEM, tok.Digest, opts.Role)
	if err != nil {
		return nil, fmt.Errorf("join %s: the manager's answer is not usable: %w", addr, err)
	}
	return res, nil
}

// dataKeySize is the size of a data-encryption key (seal.KeySize).
const dataKeySize = 32

// verifyManager checks the chain a manager presents: some certificate
// after the leaf must be the CA the token names, and the leaf must be a
// cluster certificate it signed.
func verifyManager(addr, digest string, clk clock.Clock) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		certs := cs.PeerCertificates
		if len(certs) == 0 {
			return fmt.Errorf("the node at %s presented no certificate: is it a hive manager?", addr)
		}
		if len(certs) == 1 {
			return fmt.Errorf("the node at %s presented no CA certificate to check against the token: is it a hive manager of this version?", addr)
		}
		var root *x509.Certificate
		for _, c := range certs[1:] {
			if certDigest(c) == digest {
				root = c
				break
			}
		}
		if root == nil {
			return refusal(KindWrongCluster, fmt.Sprintf("the manager at %s belongs to another cluster (its CA digest is %s, the token says %s): check the address or the token", addr, certDigest(certs[len(certs)-1]), digest))
		}
		pool := x509.NewCertPool()
		pool.AddCert(root)
		if _, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, DNSName: ca.ServerName, CurrentTime: clk.Now(),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			return refusal(KindWrongCluster, fmt.Sprintf("the node at %s presents the cluster's CA certificate but its own certificate does not verify against it (%v): it is not a manager of that cluster; check the address", addr, err))
		}
		return nil
	}
}

func certDigest(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// checkResponse verifies the manager's answer: a CA certificate with the
// token's digest (and, for a manager, its key), a certificate for this
// node's key that the CA signed, naming the node ID and the role given.
func checkResponse(resp Response, keyPEM []byte, digest string, asked types.NodeRole) (*Result, error) {
	root, err := ca.ParseRoot([]byte(resp.CACertPEM), []byte(resp.CAKeyPEM))
	if err != nil {
		return nil, err
	}
	if root.Digest() != digest {
		return nil, fmt.Errorf("its CA certificate (digest %s) is not the one the token names (%s)", root.Digest(), digest)
	}
	switch {
	case resp.Role != types.RoleWorker && resp.Role != types.RoleManager:
		return nil, fmt.Errorf("it gave the unknown role %q", resp.Role)
	case asked != "" && resp.Role != asked:
		return nil, fmt.Errorf("it admitted this node as a %s, not the %s asked for", resp.Role, asked)
	case resp.Role == types.RoleManager && root.Key == nil:
		return nil, errors.New("it admitted a manager without sending the CA key")
	case resp.Role == types.RoleWorker && root.Key != nil:
		return nil, errors.New("it sent the CA key to a worker")
	case resp.Role == types.RoleWorker && len(resp.DataKey) > 0:
		return nil, errors.New("it sent the data-encryption key to a worker")
	case len(resp.DataKey) != 0 && len(resp.DataKey) != dataKeySize:
		return nil, fmt.Errorf("its data-encryption key is %d bytes, not %d", len(resp.DataKey), dataKeySize)
	}
	nc, err := ca.ParseNodeCert([]byte(resp.CertPEM), keyPEM)
	if err != nil {
		return nil, err
	}
	if err := nc.Leaf.CheckSignatureFrom(root.Cert); err != nil {
		return nil, fmt.Errorf("its certificate for this node is not signed by the cluster CA: %w", err)
	}
	if nc.NodeID() != resp.NodeID || nc.NodeID() == "" {
		return nil, fmt.Errorf("its certificate names node %q, not %q", nc.NodeID(), resp.NodeID)
	}
	if ca.RoleOf(nc.Role()) != resp.Role {
		return nil, fmt.Errorf("its certificate carries role %q, not %s", nc.Role(), resp.Role)
	}
	return &Result{
		NodeID: resp.NodeID, Role: resp.Role, Managers: resp.Managers,
		CertPEM: []byte(resp.CertPEM), KeyPEM: keyPEM, CACertPEM: []byte(resp.CACertPEM), CAKeyPEM: []byte(resp.CAKeyPEM),
		DataKey: resp.DataKey,
	}, nil
}

// Save writes r into the certificate directory dir in the layout ca.Load
// reads (ca.crt, ca.key for managers, node.crt, node.key). A worker's
// directory keeps no CA key, even one left from an earlier life.
func Save(dir string, r *Result) error {
	if err := ca.Save(dir, ca.Files{CACert: r.CACertPEM, CAKey: r.CAKeyPEM, Cert: r.CertPEM, Key: r.KeyPEM}); err != nil {
		return fmt.Errorf("save the node's certificates: %w", err)
	}
	if len(r.CAKeyPEM) == 0 {
		if err := ca.RemoveCAKey(dir); err != nil {
			return fmt.Errorf("save the node's certificates: %w", err)
		}
	}
	return nil
}
