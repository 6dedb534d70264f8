package rpc

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/hiveorch/hive/core/ca"
)

// handshaked is the transport credentials of both sides: the cluster port
// hands gRPC connections whose TLS handshake is done (the server's
// listener is the port's ProtoRPC listener, the client dials with
// transport.Dial), so there is nothing to do but expose the TLS state as
// the connection's credentials.TLSInfo.
type handshaked struct{}

var _ credentials.TransportCredentials = handshaked{}

func (handshaked) ClientHandshake(_ context.Context, _ string, c net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return tlsInfo(c)
}

func (handshaked) ServerHandshake(c net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return tlsInfo(c)
}

func tlsInfo(c net.Conn) (net.Conn, credentials.AuthInfo, error) {
	tc, ok := c.(*tls.Conn)
	if !ok {
		return nil, nil, fmt.Errorf("rpc: connection from %s is not TLS: serve the cluster port's listener and dial with transport.Dial",
			c.RemoteAddr())
	}
	return tc, credentials.TLSInfo{
		State:          tc.ConnectionState(),
		CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity},
	}, nil
}

func (handshaked) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "tls"}
}

func (handshaked) Clone() credentials.TransportCredentials { return handshaked{} }

// OverrideServerName is part of the interface; the name was checked by
// the handshake already.
func (handshaked) OverrideServerName(string) error { return nil }

// PeerFrom returns the verified identity of a call's client: its node ID
// (or a client's name) and role, from its certificate. It is false when
// the caller presented no certificate the cluster's CA signed.
func PeerFrom(ctx context.Context) (ca.Peer, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok || p.AuthInfo == nil {
		return ca.Peer{}, false
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return ca.Peer{}, false
	}
	return ca.PeerOf(info.State)
}
