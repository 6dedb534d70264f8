package dns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/internal/testutil"
)

// upstream is a fake resolver on loopback, over UDP and TCP on one port:
// example.com. has 192.0.2.1, every other name is NXDOMAIN. It records
// the names it was asked, with the protocol.
type upstream struct {
	addr string
	mu   sync.Mutex
	seen []string
}

func (u *upstream) asked() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.seen)
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	pc, ln := listenPair(t)
	u.addr = pc.LocalAddr().String()
	handler := func(network string) dns.Handler {
		return dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
			q := r.Question[0]
			u.mu.Lock()
			u.seen = append(u.seen, network+" "+q.Name)
			u.mu.Unlock()
			m := new(dns.Msg).SetReply(r)
			if q.Name == "example.com." && q.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}, A: net.IPv4(192, 0, 2, 1)})
			} else if q.Name != "example.com." {
				m.SetRcode(r, dns.RcodeNameError)
			}
			_ = w.WriteMsg(m)
		})
	}
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: handler("udp")}, {Listener: ln, Handler: handler("tcp")}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
	return u
}

// listenPair opens UDP and TCP sockets on one loopback port.
func listenPair(t *testing.T) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp4", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			continue // the port is taken for TCP: try another
		}
		return pc, ln
	}
	t.Fatal("no loopback port free for both UDP and TCP")
	return nil, nil
}

// serve runs a Server from lookup on loopback until the test ends, and
// returns its address (UDP and TCP).
func serve(t *testing.T, lookup LookupFunc, clk clock.Clock, upstream ...string) string {
	t.Helper()
	s, err := NewServer(lookup, upstream, clk, testutil.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	pc, ln := listenPair(t)
	t.Cleanup(startServing(t, s, pc, ln))
	return pc.LocalAddr().String()
}

// startServing serves pc and ln with s; stop ends Serve and checks it returns nil.
func startServing(t *testing.T, s *Server, pc net.PacketConn, ln net.Listener) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, pc, ln) }()
	return func() {
		cancel()
		testutil.Returns(t, done, 5*time.Second, "Serve")
	}
}

func tableLookup(asker ...string) LookupFunc {
	tb := Build(fixture())
	return func(name string) ([]netip.Addr, bool) { return tb.Lookup(asker, name) }
}

func query(t *testing.T, network, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m, err := exchange(network, addr, name, qtype)
	if err != nil {
		t.Fatalf("%s %s %s: %v", network, dns.TypeToString[qtype], name, err)
	}
	return m
}

func exchange(network, addr, name string, qtype uint16) (*dns.Msg, error) {
	c := &dns.Client{Net: network, Timeout: 10 * time.Second}
	m, _, err := c.Exchange(new(dns.Msg).SetQuestion(name, qtype), addr)
	return m, err
}

// answers is what m says: its rcode and its A records with their TTLs.
func answers(m *dns.Msg) string {
	s := dns.RcodeToString[m.Rcode]
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			s += fmt.Sprintf(" %s/%d", rr.A, rr.Hdr.Ttl)
		default:
			s += " " + rr.String()
		}
	}
	return s
}

func TestServerAnswers(t *testing.T) {
	up := newUpstream(t)
	addr := serve(t, tableLookup("n1"), clock.Real{}, up.addr)
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			for _, tc := range []struct {
				name  string
				qtype uint16
				want  string
			}{
				{"web.", dns.TypeA, "NOERROR 10.0.1.2/2"},
				{"WWW.", dns.TypeA, "NOERROR 10.0.1.2/2"},
				{"tasks.web.", dns.TypeA, "NOERROR 10.0.1.9/2 10.0.1.10/2"},
				{"db.", dns.TypeA, "NOERROR 10.0.1.20/2 10.0.1.21/2"},
				{"web.", dns.TypeAAAA, "NOERROR"},
				{"web.", dns.TypeMX, "NOERROR"},
				{"idle.", dns.TypeA, "NOERROR"},
				{"example.com.", dns.TypeA, "NOERROR 192.0.2.1/300"},
				{"example.com.", dns.TypeAAAA, "NOERROR"},
				{"nothing.example.", dns.TypeA, "NXDOMAIN"},
				// Not on the asker's network: hive does not know it, and
				// no upstream could (one label): it is not forwarded.
				{"cache.", dns.TypeA, "NXDOMAIN"},
				{"tasks.cache.", dns.TypeA, "NXDOMAIN"},
			} {
				m := query(t, network, addr, tc.name, tc.qtype)
				if got := answers(m); got != tc.want {
					t.Errorf("%s %s = %q, want %q", dns.TypeToString[tc.qtype], tc.name, got, tc.want)
				}
			}
		})
	}
	want := []string{"udp example.com.", "udp example.com.", "udp nothing.example.",
		"tcp example.com.", "tcp example.com.", "tcp nothing.example."}
	if got := up.asked(); !slices.Equal(got, want) {
		t.Errorf("the upstream was asked %q, want %q (names of hive's shape never, each over the client's protocol)", got, want)
	}
}

func TestServerWithoutUpstreamSaysNXDOMAIN(t *testing.T) {
	addr := serve(t, tableLookup("n1"), clock.Real{})
	for _, network := range []string{"udp", "tcp"} {
		if got := answers(query(t, network, addr, "example.com.", dns.TypeA)); got != "NXDOMAIN" {
			t.Errorf("%s example.com. = %q, want NXDOMAIN", network, got)
		}
		if got := answers(query(t, network, addr, "web.", dns.TypeA)); got != "NOERROR 10.0.1.2/2" {
			t.Errorf("%s web. = %q, want the VIP", network, got)
		}
	}
}

// TestServerTruncatesOverUDP: a name with more addresses than a UDP
// answer holds sets TC, and the client gets them all over TCP.
func TestServerTruncatesOverUDP(t *testing.T) {
	var many []netip.Addr
	for i := range 200 {
		many = append(many, netip.AddrFrom4([4]byte{10, 0, byte(i / 250), byte(1 + i%250)}))
	}
	addr := serve(t, func(string) ([]netip.Addr, bool) { return many, true }, clock.Real{})

	m := query(t, "udp", addr, "big.", dns.TypeA)
	m.Compress = true // as it came
	if !m.Truncated || len(m.Answer) >= len(many) || m.Len() > dns.MinMsgSize {
		t.Errorf("over UDP: truncated %v, %d answers in %d bytes; want TC and at most %d bytes", m.Truncated, len(m.Answer), m.Len(), dns.MinMsgSize)
	}
	c := &dns.Client{Net: "udp", Timeout: 10 * time.Second}
	big, _, err := c.Exchange(new(dns.Msg).SetQuestion("big.", dns.TypeA).SetEdns0(4096, false), addr)
	if err != nil {
		t.Fatal(err)
	}
	if big.Truncated || len(big.Answer) != len(many) {
		t.Errorf("over UDP with EDNS0 4096: truncated %v, %d answers; want all %d", big.Truncated, len(big.Answer), len(many))
	}
	m = query(t, "tcp", addr, "big.", dns.TypeA)
	if m.Truncated || len(m.Answer) != len(many) {
		t.Errorf("over TCP: truncated %v, %d answers; want all %d", m.Truncated, len(m.Answer), len(many))
	}
}

// silent is a UDP resolver that never answers.
func silent(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String()
}

// TestServerForwardTimesOutOnItsClock: an upstream that does not answer
// is given up after ForwardTimeout on the server's clock, and the next
// one is asked; when none answers the client gets SERVFAIL.
func TestServerForwardTimesOutOnItsClock(t *testing.T) {
	for _, tc := range []struct {
		name string
		want string
		ups  func(t *testing.T) []string
	}{
		{"the next upstream answers", "NOERROR 192.0.2.1/300", func(t *testing.T) []string { return []string{silent(t), newUpstream(t).addr} }},
		{"none answers", "SERVFAIL", func(t *testing.T) []string { return []string{silent(t)} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewFake(time.Unix(1000, 0))
			addr := serve(t, tableLookup("n1"), clk, tc.ups(t)...)
			got := make(chan string, 1)
			go func() {
				m, err := exchange("udp", addr, "example.com.", dns.TypeA)
				if err != nil {
					got <- err.Error()
					return
				}
				got <- answers(m)
			}()
			testutil.Eventually(t, 5*time.Second, "the server waits for the first upstream", func() bool { return clk.Waiters() > 0 })
			clk.Advance(ForwardTimeout - time.Millisecond)
			select {
			case a := <-got:
				t.Fatalf("answered %q before the timeout", a)
			default:
			}
			clk.Advance(time.Millisecond)
			select {
			case a := <-got:
				if a != tc.want {
					t.Errorf("answer = %q, want %q", a, tc.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no answer after the timeout")
			}
		})
	}
}

func TestServeStopsWithItsContext(t *testing.T) {
	s, err := NewServer(tableLookup("n1"), nil, clock.Real{}, testutil.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	pc, ln := listenPair(t)
	stop := startServing(t, s, pc, ln)
	query(t, "tcp", ln.Addr().String(), "web.", dns.TypeA)
	stop()
	// Its sockets are closed: the port can be bound again.
	ln2, err := net.Listen("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatalf("the TCP socket is still open after Serve returned: %v", err)
	}
	ln2.Close()
	if _, err := pc.WriteTo([]byte{0}, pc.LocalAddr()); err == nil {
		t.Error("the UDP socket still works after Serve returned")
	}
	if err := s.Serve(t.Context(), nil, nil); err == nil {
		t.Error("Serve with no socket returned nil")
	}
}

func TestNewServerRefusesABadUpstream(t *testing.T) {
	if _, err := NewServer(tableLookup(), []string{"10.0.0.2", "[::1]:5353", "resolver.example"}, clock.Real{}, testutil.Logger(t)); err == nil {
		t.Error("NewServer took a host name as upstream")
	}
	s, err := NewServer(tableLookup(), []string{"10.0.0.2", "[::1]:5353", "fe80::1%eth0"}, clock.Real{}, testutil.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.2:53", "[::1]:5353", "[fe80::1%eth0]:53"}
	var got []string
	for _, u := range s.upstream {
		got = append(got, u.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("upstream = %q, want %q", got, want)
	}
}
