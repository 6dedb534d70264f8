package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sync/errgroup"

	"github.com/hiveorch/hive/core/clock"
)

// TTL is the time to live, in seconds, of the answers the server gives
// for the names it knows: short, so that a client sees a change of the
// tasks within seconds (see the package doc).
const TTL = 2

// ForwardTimeout bounds the wait for one upstream resolver; the next one
// is asked after it.
const ForwardTimeout = 2 * time.Second

// LookupFunc tells what a name resolves to for the asking task, and
// whether it is a name of hive's at all: a Table's Lookup bound to the
// task's networks. It must be safe for concurrent use.
type LookupFunc func(name string) (addrs []netip.Addr, found bool)

// Server answers DNS queries for one task: the names lookup knows itself,
// every other one from the upstream resolvers. It is safe for concurrent
// use; one Server may serve any number of sockets.
type Server struct {
	lookup   LookupFunc
	upstream []netip.AddrPort
	clk      clock.Clock
	log      *slog.Logger
}

// NewServer returns a server that answers from lookup and forwards the
// rest to upstream: the node's resolvers, as addresses ("10.0.0.2", port
// 53) or address:port ("127.0.0.1:5353", "[fe80::1%eth0]:53"), asked in
// order; none makes every name lookup does not know NXDOMAIN.
func NewServer(lookup LookupFunc, upstream []string, clk clock.Clock, log *slog.Logger) (*Server, error) {
	s := &Server{lookup: lookup, clk: clk, log: log}
	for _, u := range upstream {
		ap, err := parseUpstream(u)
		if err != nil {
			return nil, err
		}
		s.upstream = append(s.upstream, ap)
	}
	return s, nil
}

// parseUpstream reads a resolver's address, with port 53 when it names
// none.
func parseUpstream(u string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(u); err == nil {
		return ap, nil
	}
	a, err := netip.ParseAddr(u)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("upstream resolver %q: give an IP address, or address:port", u)
	}
	return netip.AddrPortFrom(a, 53), nil
}

// Serve answers queries on conn (UDP) and ln (TCP), either of which may
// be nil, until ctx is done, then closes them and returns nil; it returns
// an error when a socket fails. Forwarded queries end with ctx.
func (s *Server) Serve(ctx context.Context, conn net.PacketConn, ln net.Listener) error {
	if conn == nil && ln == nil {
		return errors.New("serve dns: no socket to serve on")
	}
	g, gctx := errgroup.WithContext(ctx)
	if conn != nil {
		srv := &dns.Server{PacketConn: conn, Handler: s.handler(gctx, false)}
		serveUntil(gctx, g, srv, "udp "+conn.LocalAddr().String())
	}
	if ln != nil {
		srv := &dns.Server{Listener: ln, Handler: s.handler(gctx, true)}
		serveUntil(gctx, g, srv, "tcp "+ln.Addr().String())
	}
	err := g.Wait()
	// Shutdown closed them; a server that failed to start did not.
	if conn != nil {
		_ = conn.Close()
	}
	if ln != nil {
		_ = ln.Close()
	}
	return err
}

// serveUntil runs srv in g and shuts it down once ctx is done.
func serveUntil(ctx context.Context, g *errgroup.Group, srv *dns.Server, what string) {
	started, returned := make(chan struct{}), make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	g.Go(func() error {
		defer close(returned)
		if err := srv.ActivateAndServe(); err != nil {
			return fmt.Errorf("serve dns on %s: %w", what, err)
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		select {
		case <-started:
			_ = srv.Shutdown() // closes the socket; the serving goroutine returns nil
		case <-returned:
		}
		return nil
	})
}

// handler answers the queries of one socket; forwarded ones end with ctx.
func (s *Server) handler(ctx context.Context, tcp bool) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := s.answer(ctx, r, tcp)
		if err := w.WriteMsg(m); err != nil {
			s.log.Debug("dns: write answer", "remote", w.RemoteAddr().String(), "error", err)
		}
	})
}

// answer is the reply to r, received over TCP or UDP.
func (s *Server) answer(ctx context.Context, r *dns.Msg, tcp bool) *dns.Msg {
	m := new(dns.Msg)
	if r.Opcode != dns.OpcodeQuery {
		return m.SetRcode(r, dns.RcodeNotImplemented)
	}
	if len(r.Question) != 1 {
		return m.SetRcode(r, dns.RcodeFormatError)
	}
	q := r.Question[0]
	addrs, found := s.lookup(q.Name)
	if !found && serviceShaped(q.Name) {
		// A service's name, or tasks.NAME, that no network of the task
		// knows: no upstream resolver could know it either.
		m.SetRcode(r, dns.RcodeNameError)
		m.Authoritative, m.RecursionAvailable = true, true
		return m
	}
	if !found || (q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY) {
		return s.forward(ctx, r, tcp)
	}
	m.SetReply(r)
	m.Authoritative = true
	m.RecursionAvailable = true
	for _, a := range addrs {
		hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: TTL}
		switch {
		case a.Is4() && (q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY):
			hdr.Rrtype = dns.TypeA
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: a.AsSlice()})
		case a.Is6() && !a.Is4In6() && (q.Qtype == dns.TypeAAAA || q.Qtype == dns.TypeANY):
			hdr.Rrtype = dns.TypeAAAA
			m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()})
		}
	}
	size := dns.MaxMsgSize
	if !tcp {
		size = dns.MinMsgSize
		if opt := r.IsEdns0(); opt != nil {
			size = max(int(opt.UDPSize()), dns.MinMsgSize)
			m.SetEdns0(opt.UDPSize(), false)
		}
	}
	m.Truncate(size) // over UDP, sets TC for the client to ask again over TCP
	return m
}

// serviceShaped reports whether name has the shape of the names hive
// answers: one label (a service or an alias), or tasks. and one label.
func serviceShaped(name string) bool {
	n := normalize(name)
	n = strings.TrimPrefix(n, tasksPrefix)
	return n != "" && !strings.Contains(n, ".")
}

// forward asks the upstream resolvers in turn, over the protocol the
// query came by (a truncated UDP answer makes the client ask again over
// TCP), and returns the first answer; NXDOMAIN with no upstream, SERVFAIL
// when none answers.
func (s *Server) forward(ctx context.Context, r *dns.Msg, tcp bool) *dns.Msg {
	if len(s.upstream) == 0 {
		return new(dns.Msg).SetRcode(r, dns.RcodeNameError)
	}
	for _, u := range s.upstream {
		m, err := s.exchange(ctx, r, u, tcp)
		if err == nil {
			return m
		}
		s.log.Debug("dns: forward", "name", r.Question[0].Name, "upstream", u.String(), "error", err)
		if ctx.Err() != nil {
			break
		}
	}
	return new(dns.Msg).SetRcode(r, dns.RcodeServerFailure)
}

// exchange asks one upstream resolver, for at most ForwardTimeout on the
// server's clock.
func (s *Server) exchange(ctx context.Context, r *dns.Msg, upstream netip.AddrPort, tcp bool) (*dns.Msg, error) {
	ctx, cancel := clock.WithTimeout(ctx, s.clk, ForwardTimeout)
	defer cancel()
	network := "udp"
	if tcp {
		network = "tcp"
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, upstream.String())
	if err != nil {
		return nil, fmt.Errorf("dial %s %s: %w", network, upstream, err)
	}
	defer nc.Close()
	// The clock ends ctx; closing the connection ends the exchange then,
	// whatever deadline the dns client set on it.
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	// The clock alone bounds the exchange: the client's own timeouts, on
	// the wall clock, are set out of its way.
	c := &dns.Client{Net: network, Timeout: time.Hour}
	m, _, err := c.ExchangeWithConnContext(ctx, r, &dns.Conn{Conn: nc})
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("ask %s %s: %w", network, upstream, err)
	}
	return m, nil
}
