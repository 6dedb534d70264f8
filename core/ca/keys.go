package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// GenerateKey makes a new node or client key: ECDSA on P-256, like the
// root's.
func GenerateKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return key, nil
}

// MarshalKey encodes a private key as an "EC PRIVATE KEY" PEM block.
func MarshalKey(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

// ParseKey decodes a private key MarshalKey encoded.
func ParseKey(b []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM data")
	}
	return x509.ParseECPrivateKey(block.Bytes)
}

// MarshalPublicKey encodes a public key as a "PUBLIC KEY" PEM block
// (PKIX), the form a joining node or a CLI sends to be certified.
func MarshalPublicKey(pub *ecdsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePublicKey decodes a public key MarshalPublicKey encoded. Only ECDSA
// P-256 keys are accepted; the error says what was sent instead.
func ParsePublicKey(b []byte) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("the public key is not PEM: want a \"PUBLIC KEY\" PEM block")
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("the public key is a %q PEM block: want \"PUBLIC KEY\" (never send a private key)", block.Type)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("the public key is a %T: want an ECDSA P-256 key", pub)
	}
	return ec, nil
}

// KeyPEM returns the root's private key as PEM, for a node that becomes a
// manager. It fails on a node that holds no CA key.
func (r *Root) KeyPEM() ([]byte, error) {
	if r.Key == nil {
		return nil, errors.New("this node holds no CA key")
	}
	return MarshalKey(r.Key)
}

// ParseRoot reads a root CA certificate, and its key when keyPEM is not
// empty, from PEM. The key must belong to the certificate.
func ParseRoot(certPEM, keyPEM []byte) (*Root, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("parse CA certificate: no CERTIFICATE PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	if !cert.IsCA {
		return nil, errors.New("parse CA certificate: the certificate is not a CA")
	}
	root := &Root{Cert: cert, PEM: certPEM}
	if len(keyPEM) == 0 {
		return root, nil
	}
	if root.Key, err = ParseKey(keyPEM); err != nil {
		return nil, fmt.Errorf("parse CA key: %w", err)
	}
	if !root.Key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("parse CA key: the key does not belong to the CA certificate")
	}
	return root, nil
}
