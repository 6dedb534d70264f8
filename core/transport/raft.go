package transport

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// RaftLayer is a raft.StreamLayer over the cluster port.
type RaftLayer struct {
	net.Listener
	advertise net.Addr
	clientTLS *tls.Config
}

var _ raft.StreamLayer = (*RaftLayer)(nil)

// NewRaftLayer returns the Raft stream layer of m. advertise is the
// address other nodes reach this one at.
func NewRaftLayer(m *Mux, advertise net.Addr, clientTLS *tls.Config) *RaftLayer {
	return &RaftLayer{Listener: m.Listener(ProtoRaft, false), advertise: advertise, clientTLS: clientTLS}
}

// Addr is the advertised address.
func (r *RaftLayer) Addr() net.Addr { return r.advertise }

// Dial connects to another node's Raft.
func (r *RaftLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return Dial(ctx, string(address), ProtoRaft, r.clientTLS)
}
