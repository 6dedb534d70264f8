package transport

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	"github.com/hashicorp/raft"

	"github.com/hiveorch/hive/core/clock"
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
	// Raft times its RPCs on the wall clock, and the deadline goes to the
	// dialer as the kernel's connect timeout: the clock is the real one.
	ctx, cancel := clock.WithTimeout(context.Background(), clock.Real{}, timeout)
	defer cancel()
	return Dial(ctx, string(address), ProtoRaft, r.clientTLS)
}
